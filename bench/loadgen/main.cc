// wsn-loadgen entry point: parse the command line, run, map failures to exit
// codes (0 clean, 1 errors seen in the run, 2 usage, 3 setup failure).
#include <cstdio>
#include <exception>
#include <string>

#include "loadgen.h"
#include "options.h"

int main(int argc, char** argv) {
  wsn::bench::Options options;
  std::string error;
  if (!wsn::bench::parseOptions(argc, argv, &options, &error)) {
    if (!error.empty())
      std::fprintf(stderr, "wsn-loadgen: %s\n", error.c_str());
    std::fputs(wsn::bench::kUsage, error.empty() ? stdout : stderr);
    return error.empty() ? 0 : 2;
  }
  try {
    wsn::bench::Loadgen loadgen(options);
    return loadgen.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "wsn-loadgen: %s\n", e.what());
    return 3;
  }
}
