// /proc and getrusage sampling for the load generator's report.
// Depends on Linux procfs and POSIX only.
#include "proc_stat.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace wsn::bench {

namespace {

bool readFile(const std::string& path, std::string* out) {
  FILE* file = std::fopen(path.c_str(), "re");
  if (file == nullptr) return false;
  char buffer[4096];
  size_t n;
  out->clear();
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) {
    out->append(buffer, n);
  }
  std::fclose(file);
  return true;
}

long statusField(const std::string& status, const char* name) {
  const size_t at = status.find(name);
  if (at == std::string::npos) return 0;
  return std::strtol(status.c_str() + at + std::strlen(name), nullptr, 10);
}

}  // namespace

ProcSample sampleProcess(int pid) {
  ProcSample sample;
  std::string stat;
  const std::string base = "/proc/" + std::to_string(pid);
  if (!readFile(base + "/stat", &stat)) return sample;
  // The command name may hold spaces and parentheses: fields are counted
  // from the last ')'. utime and stime are fields 14 and 15 (proc(5)).
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return sample;
  const char* cursor = stat.c_str() + paren + 1;
  unsigned long long ticks[2] = {0, 0};
  for (int field = 3; field <= 15; ++field) {
    while (*cursor == ' ') ++cursor;
    if (*cursor == '\0') return sample;
    char* next;
    const unsigned long long value = std::strtoull(cursor, &next, 10);
    if (field == 14) ticks[0] = value;
    if (field == 15) ticks[1] = value;
    cursor = next;
    while (*cursor != ' ' && *cursor != '\0') ++cursor;
  }
  const long ticksPerSecond = sysconf(_SC_CLK_TCK);
  sample.cpuSeconds = static_cast<double>(ticks[0] + ticks[1]) /
                      static_cast<double>(ticksPerSecond);
  std::string status;
  if (readFile(base + "/status", &status)) {
    sample.rssKb = statusField(status, "VmRSS:");
    sample.hwmKb = statusField(status, "VmHWM:");
  }
  sample.ok = true;
  return sample;
}

std::vector<CpuTimes> sampleCpus() {
  std::vector<CpuTimes> cpus;
  std::string stat;
  if (!readFile("/proc/stat", &stat)) return cpus;
  size_t line = 0;
  while (line < stat.size()) {
    const size_t end = stat.find('\n', line);
    const std::string text = stat.substr(line, end - line);
    line = end == std::string::npos ? stat.size() : end + 1;
    // "cpu0 ..." to "cpuN ...": the aggregate "cpu " line is skipped.
    if (text.size() < 4 || text.compare(0, 3, "cpu") != 0 || text[3] < '0' ||
        text[3] > '9') {
      continue;
    }
    const char* cursor = text.c_str() + text.find(' ');
    CpuTimes times;
    for (int field = 0; field < 8; ++field) {
      char* next;
      const unsigned long long value = std::strtoull(cursor, &next, 10);
      if (next == cursor) break;
      cursor = next;
      times.total += value;
      if (field != 3 && field != 4) times.busy += value;  // idle, iowait
    }
    cpus.push_back(times);
  }
  return cpus;
}

double selfCpuSeconds() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) /
             1e6;
}

}  // namespace wsn::bench
