// A growable byte buffer on malloc/realloc whose storage can be handed over
// (release()) so the binding can give it to JavaScript as an external Buffer
// without a copy. Header-only, no Node.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace wsn {

class ByteBuffer {
 public:
  ByteBuffer() = default;
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;
  ByteBuffer(ByteBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)),
        capacity_(std::exchange(other.capacity_, 0)) {}
  ByteBuffer& operator=(ByteBuffer&& other) noexcept {
    if (this != &other) {
      std::free(data_);
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
      capacity_ = std::exchange(other.capacity_, 0);
    }
    return *this;
  }
  ~ByteBuffer() { std::free(data_); }

  uint8_t* data() noexcept { return data_; }
  const uint8_t* data() const noexcept { return data_; }
  size_t size() const noexcept { return size_; }
  size_t capacity() const noexcept { return capacity_; }
  bool empty() const noexcept { return size_ == 0; }

  // Makes room for at least `bytes` in total. False when the allocation fails
  // (nothing changes).
  [[nodiscard]] bool reserve(size_t bytes) noexcept {
    if (bytes <= capacity_) return true;
    void* grown = std::realloc(data_, bytes);
    if (grown == nullptr) return false;
    data_ = static_cast<uint8_t*>(grown);
    capacity_ = bytes;
    return true;
  }

  // Returns a pointer to `bytes` new bytes at the end (uninitialised: the
  // caller writes them all), growing geometrically. nullptr when the allocation
  // fails.
  [[nodiscard]] uint8_t* extend(size_t bytes) noexcept {
    const size_t needed = size_ + bytes;
    if (needed > capacity_) {
      size_t target = capacity_ < 256 ? 256 : capacity_ + capacity_ / 2;
      if (target < needed) target = needed;
      if (!reserve(target)) return nullptr;
    }
    uint8_t* tail = data_ + size_;
    size_ = needed;
    return tail;
  }

  [[nodiscard]] bool append(const uint8_t* bytes, size_t length) noexcept {
    if (length == 0) return true;
    uint8_t* tail = extend(length);
    if (tail == nullptr) return false;
    std::memcpy(tail, bytes, length);
    return true;
  }

  // Drops the last `bytes` bytes (bytes <= size()).
  void shrinkBy(size_t bytes) noexcept { size_ -= bytes; }
  void clear() noexcept { size_ = 0; }
  // Frees the storage (clear() keeps it for reuse).
  void reset() noexcept {
    std::free(data_);
    data_ = nullptr;
    size_ = capacity_ = 0;
  }

  // Hands the storage to the caller, who frees it with std::free. The buffer
  // becomes empty.
  [[nodiscard]] uint8_t* release() noexcept {
    size_ = capacity_ = 0;
    return std::exchange(data_, nullptr);
  }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace wsn
