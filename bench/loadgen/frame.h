// RFC 6455 frame headers as the client side sees them: parse server frames,
// write masked client frames, XOR masking. No sockets and no allocation here.
#ifndef WSN_BENCH_LOADGEN_FRAME_H_
#define WSN_BENCH_LOADGEN_FRAME_H_

#include <cstddef>
#include <cstdint>

namespace wsn::bench {

constexpr uint8_t kOpContinuation = 0x0;
constexpr uint8_t kOpText = 0x1;
constexpr uint8_t kOpBinary = 0x2;
constexpr uint8_t kOpClose = 0x8;
constexpr uint8_t kOpPing = 0x9;
constexpr uint8_t kOpPong = 0xA;

// Largest client header: 2 + 8 (64-bit length) + 4 (masking key).
constexpr size_t kMaxClientHeaderBytes = 14;

struct FrameHeader {
  bool fin = false;
  bool rsv1 = false;
  bool rsv23 = false;
  uint8_t opcode = 0;
  bool masked = false;
  uint8_t maskKey[4] = {0, 0, 0, 0};
  uint64_t payloadBytes = 0;
  size_t headerBytes = 0;
};

enum class HeaderStatus {
  kNeedMore,    // fewer bytes than the header needs; call again with more
  kOk,          // *header is filled in
  kBadLength,   // 64-bit length with the top bit set (RFC 6455 §5.2)
  kNonMinimal,  // a length that fits a shorter encoding (RFC 6455 §5.2)
};

// Reads one frame header from data[0, size). Never reads past size.
[[nodiscard]] HeaderStatus parseFrameHeader(const uint8_t* data, size_t size,
                                            FrameHeader* header) noexcept;

// Writes a masked client frame header (RFC 6455 §5.2, §5.3) into out, which
// must hold kMaxClientHeaderBytes. Returns the bytes written.
size_t writeClientHeader(uint8_t* out, bool fin, bool rsv1, uint8_t opcode,
                         uint64_t payloadBytes,
                         const uint8_t maskKey[4]) noexcept;

// dst[i] = src[i] ^ maskKey[(keyPhase + i) % 4]; dst may equal src. Returns
// the key phase after the last byte so a payload can be masked in pieces.
size_t maskCopy(uint8_t* dst, const uint8_t* src, size_t size,
                const uint8_t maskKey[4], size_t keyPhase) noexcept;

}  // namespace wsn::bench

#endif  // WSN_BENCH_LOADGEN_FRAME_H_
