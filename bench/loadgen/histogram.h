// Log-linear latency histogram: 128 sub-buckets per power of two, so any
// reported percentile is within 0.8% of a recorded value. Fixed memory
// (~36 KiB) however long the run. Not thread-safe.
#ifndef WSN_BENCH_LOADGEN_HISTOGRAM_H_
#define WSN_BENCH_LOADGEN_HISTOGRAM_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace wsn::bench {

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 7;
  static constexpr uint64_t kSub = uint64_t{1} << kSubBits;

  LatencyHistogram() : counts_((64 - kSubBits + 1) * kSub, 0) {}

  void record(uint64_t nanos) {
    ++counts_[indexOf(nanos)];
    ++total_;
    if (nanos > max_) max_ = nanos;
  }

  void clear() {
    std::fill(counts_.begin(), counts_.end(), 0);
    total_ = 0;
    max_ = 0;
  }

  uint64_t count() const { return total_; }
  uint64_t maxNanos() const { return max_; }

  // The value below which a fraction q (0..1) of samples fall: the middle of
  // the bucket holding that rank. 0 when empty.
  uint64_t percentileNanos(double q) const {
    if (total_ == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total_));
    if (rank >= total_) rank = total_ - 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen > rank) {
        const uint64_t middle = middleOf(i);
        return middle < max_ ? middle : max_;
      }
    }
    return max_;
  }

 private:
  static size_t indexOf(uint64_t value) {
    if (value < kSub) return static_cast<size_t>(value);
    const int msb = 63 - __builtin_clzll(value);
    const int shift = msb - kSubBits;
    const uint64_t sub = value >> shift;  // in [kSub, 2 * kSub)
    return static_cast<size_t>((static_cast<uint64_t>(shift) + 1) * kSub +
                               (sub - kSub));
  }
  static uint64_t middleOf(size_t index) {
    if (index < kSub) return index;
    const uint64_t shift = index / kSub - 1;
    const uint64_t sub = index % kSub + kSub;
    const uint64_t low = sub << shift;
    return low + ((uint64_t{1} << shift) >> 1);
  }

  std::vector<uint64_t> counts_;
  uint64_t total_ = 0;
  uint64_t max_ = 0;
};

}  // namespace wsn::bench

#endif  // WSN_BENCH_LOADGEN_HISTOGRAM_H_
