// Frame serialisation of RFC 6455 §5.2: header bytes, masking, close payloads.
// No Node.
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-------+-+-------------+-------------------------------+
//  |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//  |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//  |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//  | |1|2|3|       |K|             |                               |
//  +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//  |     Extended payload length continued, if payload len == 127  |
//  + - - - - - - - - - - - - - - - +-------------------------------+
//  |                               |Masking-key, if MASK set to 1  |
//  +-------------------------------+-------------------------------+
#pragma once

#include <cstddef>
#include <cstdint>

#include "status.h"

namespace wsn {

constexpr size_t kMaxFrameHeaderBytes = 14;
constexpr size_t kMaxControlPayloadBytes = 125;
constexpr size_t kMaxCloseReasonBytes = 123;

struct FrameFlags {
  bool fin = true;
  bool rsv1 = false;  // set on the first frame of a compressed message only
};

// Bytes of header for a payload of `payloadBytes`: 2, 4 or 10, plus 4 when
// masked.
[[nodiscard]] constexpr size_t frameHeaderBytes(uint64_t payloadBytes,
                                                bool masked) noexcept {
  return (payloadBytes < 126       ? 2
          : payloadBytes <= 0xffff ? 4
                                   : 10) +
         (masked ? 4 : 0);
}

// Writes the header into `out` (room for kMaxFrameHeaderBytes). `maskKey` null:
// unmasked; else the 4 key bytes are written after the length. Returns the
// bytes written. Every byte written is defined.
size_t writeFrameHeader(uint8_t* out, uint8_t opcode, FrameFlags flags,
                        uint64_t payloadBytes, const uint8_t* maskKey) noexcept;

// Builds a close payload (RFC 6455 §5.5.1) into `out` (room for
// kMaxControlPayloadBytes): the code big-endian, then the reason. Returns kOk
// and sets *writtenBytes; kInvalidCloseCode when the code may not be sent;
// kInvalidControlPayloadLength when the reason exceeds 123 bytes; kInvalidUtf8
// when it is not UTF-8.
[[nodiscard]] Status writeClosePayload(uint8_t* out, uint16_t code,
                                       const uint8_t* reason,
                                       size_t reasonBytes,
                                       size_t* writtenBytes) noexcept;

}  // namespace wsn
