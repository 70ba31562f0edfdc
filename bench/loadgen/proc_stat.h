// CPU time and memory of a process, read from /proc (the measured server) or
// getrusage (the load generator itself). Linux only.
#ifndef WSN_BENCH_LOADGEN_PROC_STAT_H_
#define WSN_BENCH_LOADGEN_PROC_STAT_H_

#include <cstdint>
#include <vector>

namespace wsn::bench {

struct ProcSample {
  bool ok = false;
  double cpuSeconds = 0;  // utime + stime of all threads, /proc/<pid>/stat
  long rssKb = 0;         // VmRSS, /proc/<pid>/status
  long hwmKb = 0;         // VmHWM (peak RSS)
};

// Reads /proc/<pid>/stat and /proc/<pid>/status; ok = false when the process
// is gone or the files do not parse.
ProcSample sampleProcess(int pid);

// Busy and total jiffies of each CPU since boot (/proc/stat "cpuN" lines;
// busy = total - idle - iowait). Empty when /proc/stat cannot be read.
struct CpuTimes {
  uint64_t busy = 0;
  uint64_t total = 0;
};
std::vector<CpuTimes> sampleCpus();

// This process's user + system CPU seconds (getrusage RUSAGE_SELF).
double selfCpuSeconds();

}  // namespace wsn::bench

#endif  // WSN_BENCH_LOADGEN_PROC_STAT_H_
