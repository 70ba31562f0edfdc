// A minimal test harness for the C++ tests (ctest runs each *_test.cc as one
// executable): CHECK records a failure with its location and goes on; main
// returns non-zero when any check failed.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace wsn::test {
inline int& failures() {
  static int count = 0;
  return count;
}
inline int& checks() {
  static int count = 0;
  return count;
}
inline int finish(const char* name) {
  std::printf("%s: %d checks, %d failed\n", name, checks(), failures());
  return failures() == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
}  // namespace wsn::test

#define WSN_CHECK(condition)                                                \
  do {                                                                      \
    ++wsn::test::checks();                                                  \
    if (!(condition)) {                                                     \
      ++wsn::test::failures();                                              \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                   #condition);                                             \
    }                                                                       \
  } while (0)
