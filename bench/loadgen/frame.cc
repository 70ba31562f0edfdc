// RFC 6455 §5.2 frame header codec and masking for the load generator.
// Depends on nothing but the C library.
#include "frame.h"

#include <cstring>

namespace wsn::bench {

HeaderStatus parseFrameHeader(const uint8_t* data, size_t size,
                              FrameHeader* header) noexcept {
  if (size < 2) return HeaderStatus::kNeedMore;
  //  0               1               2
  //  F R R R opcode  M len7          extended length (16 or 64 bit), key
  const uint8_t b0 = data[0];
  const uint8_t b1 = data[1];
  header->fin = (b0 & 0x80) != 0;
  header->rsv1 = (b0 & 0x40) != 0;
  header->rsv23 = (b0 & 0x30) != 0;
  header->opcode = static_cast<uint8_t>(b0 & 0x0F);
  header->masked = (b1 & 0x80) != 0;
  uint64_t length = b1 & 0x7F;
  size_t pos = 2;
  if (length == 126) {
    if (size < 4) return HeaderStatus::kNeedMore;
    length = (static_cast<uint64_t>(data[2]) << 8) | data[3];
    pos = 4;
    if (length < 126) return HeaderStatus::kNonMinimal;
  } else if (length == 127) {
    if (size < 10) return HeaderStatus::kNeedMore;
    length = 0;
    for (size_t i = 2; i < 10; ++i) length = (length << 8) | data[i];
    pos = 10;
    if ((length >> 63) != 0) return HeaderStatus::kBadLength;
    if (length <= 0xFFFF) return HeaderStatus::kNonMinimal;
  }
  if (header->masked) {
    if (size < pos + 4) return HeaderStatus::kNeedMore;
    std::memcpy(header->maskKey, data + pos, 4);
    pos += 4;
  }
  header->payloadBytes = length;
  header->headerBytes = pos;
  return HeaderStatus::kOk;
}

size_t writeClientHeader(uint8_t* out, bool fin, bool rsv1, uint8_t opcode,
                         uint64_t payloadBytes,
                         const uint8_t maskKey[4]) noexcept {
  out[0] = static_cast<uint8_t>((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) |
                                (opcode & 0x0F));
  size_t pos = 2;
  if (payloadBytes < 126) {
    out[1] = static_cast<uint8_t>(0x80 | payloadBytes);
  } else if (payloadBytes <= 0xFFFF) {
    out[1] = 0x80 | 126;
    out[2] = static_cast<uint8_t>(payloadBytes >> 8);
    out[3] = static_cast<uint8_t>(payloadBytes);
    pos = 4;
  } else {
    out[1] = 0x80 | 127;
    for (int i = 0; i < 8; ++i) {
      out[2 + i] = static_cast<uint8_t>(payloadBytes >> (56 - 8 * i));
    }
    pos = 10;
  }
  std::memcpy(out + pos, maskKey, 4);
  return pos + 4;
}

size_t maskCopy(uint8_t* dst, const uint8_t* src, size_t size,
                const uint8_t maskKey[4], size_t keyPhase) noexcept {
  // Eight bytes per step through memcpy (no aligned casts): the loadgen must
  // stay well below the server's CPU use for 1 MiB messages.
  uint8_t key8[8];
  for (size_t i = 0; i < 8; ++i) key8[i] = maskKey[(keyPhase + i) & 3];
  uint64_t keyWord;
  std::memcpy(&keyWord, key8, 8);
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, src + i, 8);
    word ^= keyWord;
    std::memcpy(dst + i, &word, 8);
  }
  for (; i < size; ++i) {
    dst[i] = static_cast<uint8_t>(src[i] ^ maskKey[(keyPhase + i) & 3]);
  }
  return (keyPhase + size) & 3;
}

}  // namespace wsn::bench
