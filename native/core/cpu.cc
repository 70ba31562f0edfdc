// CPU feature detection and the immutable kernel table. The only file that
// knows which ISA files exist; it must not call any kernel before the CPU (and
// OS) said it is safe.
#include "cpu.h"

#include <cstdlib>
#include <cstring>

namespace wsn {

namespace {

constexpr KernelTable kScalarTable{Isa::kScalar, detail::maskScalar,
                                   detail::validUtf8PrefixScalar};
#if defined(WSN_HAVE_X86_KERNELS)
constexpr KernelTable kSse2Table{Isa::kSse2, detail::maskSse2,
                                 detail::validUtf8PrefixSse2};
constexpr KernelTable kAvx2Table{Isa::kAvx2, detail::maskAvx2,
                                 detail::validUtf8PrefixAvx2};
#endif

#if defined(WSN_HAVE_X86_KERNELS)
struct Support {
  bool sse2 = false;
  bool avx2 = false;
};

Support detect() noexcept {
  Support support;
  __builtin_cpu_init();
  support.sse2 = __builtin_cpu_supports("sse2") != 0;
  // libgcc and compiler-rt report AVX and AVX2 only when XGETBV says the OS
  // saves the YMM registers on a context switch (OSXSAVE and XCR0 bits 1-2), so
  // a kernel that does not will never get AVX2 code. AVX2 without AVX is not a
  // real CPU, but both are checked.
  support.avx2 =
      __builtin_cpu_supports("avx") != 0 && __builtin_cpu_supports("avx2") != 0;
  return support;
}

const Support& support() noexcept {
  static const Support detected = detect();
  return detected;
}
#endif

const KernelTable* tableIfSupported(Isa isa) noexcept {
  switch (isa) {
    case Isa::kScalar:
      return &kScalarTable;
#if defined(WSN_HAVE_X86_KERNELS)
    case Isa::kSse2:
      return support().sse2 ? &kSse2Table : nullptr;
    case Isa::kAvx2:
      return support().avx2 ? &kAvx2Table : nullptr;
#else
    case Isa::kSse2:
    case Isa::kAvx2:
      return nullptr;
#endif
  }
  return nullptr;
}

const KernelTable* chooseTable() noexcept {
  // WSN_FORCE_ISA lets tests and benches pin one ISA for a whole process; a
  // name this CPU or build cannot run is ignored rather than trusted.
  if (const char* forced = std::getenv("WSN_FORCE_ISA")) {
    constexpr Isa kAll[] = {Isa::kScalar, Isa::kSse2, Isa::kAvx2};
    for (Isa isa : kAll) {
      if (std::strcmp(forced, isaName(isa)) == 0) {
        if (const KernelTable* table = tableIfSupported(isa)) return table;
      }
    }
  }
  constexpr Isa kFastestFirst[] = {Isa::kAvx2, Isa::kSse2};
  for (Isa isa : kFastestFirst) {
    if (const KernelTable* table = tableIfSupported(isa)) return table;
  }
  return &kScalarTable;
}

}  // namespace

const KernelTable& kernels() noexcept {
  // A function-local static is initialised once, thread-safely (C++11
  // [stmt.dcl]/4).
  static const KernelTable* const selected = chooseTable();
  return *selected;
}

const KernelTable* kernelsFor(Isa isa) noexcept {
  return tableIfSupported(isa);
}

const char* isaName(Isa isa) noexcept {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kSse2:
      return "sse2";
    case Isa::kAvx2:
      return "avx2";
  }
  return "unknown";
}

}  // namespace wsn
