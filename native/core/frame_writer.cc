// Frame header and close payload serialisation (RFC 6455 §5.2, §5.5.1).
// Depends on status.h and utf8.h only; never on Node.
#include "frame_writer.h"

#include <cstring>

#include "utf8.h"

namespace wsn {

size_t writeFrameHeader(uint8_t* out, uint8_t opcode, FrameFlags flags,
                        uint64_t payloadBytes,
                        const uint8_t* maskKey) noexcept {
  out[0] = static_cast<uint8_t>((flags.fin ? 0x80 : 0) |
                                (flags.rsv1 ? 0x40 : 0) | (opcode & 0x0f));
  const uint8_t maskBit = maskKey != nullptr ? 0x80 : 0;
  size_t written = 2;
  // §5.2: the minimal length encoding: 7 bits, or 126 + 16 bits, or 127 + 64
  // bits with the most significant bit 0.
  if (payloadBytes < 126) {
    out[1] = static_cast<uint8_t>(maskBit | payloadBytes);
  } else if (payloadBytes <= 0xffff) {
    out[1] = static_cast<uint8_t>(maskBit | 126);
    out[2] = static_cast<uint8_t>(payloadBytes >> 8);
    out[3] = static_cast<uint8_t>(payloadBytes);
    written = 4;
  } else {
    out[1] = static_cast<uint8_t>(maskBit | 127);
    const uint64_t length = payloadBytes & ~(uint64_t{1} << 63);
    for (size_t i = 0; i < 8; ++i) {
      out[2 + i] = static_cast<uint8_t>(length >> (56 - 8 * i));
    }
    written = 10;
  }
  if (maskKey != nullptr) {
    std::memcpy(out + written, maskKey, 4);
    written += 4;
  }
  return written;
}

Status writeClosePayload(uint8_t* out, uint16_t code, const uint8_t* reason,
                         size_t reasonBytes, size_t* writtenBytes) noexcept {
  *writtenBytes = 0;
  // The same order as ws's Sender#close: the code first, then the reason.
  if (!isValidCloseCode(code)) return Status::kInvalidCloseCode;
  if (reasonBytes > kMaxCloseReasonBytes) {
    return Status::kInvalidControlPayloadLength;
  }
  if (reasonBytes != 0 && !isValidUtf8(reason, reasonBytes)) {
    return Status::kInvalidUtf8;
  }
  out[0] = static_cast<uint8_t>(code >> 8);
  out[1] = static_cast<uint8_t>(code);
  if (reasonBytes != 0) std::memcpy(out + 2, reason, reasonBytes);
  *writtenBytes = 2 + reasonBytes;
  return Status::kOk;
}

}  // namespace wsn
