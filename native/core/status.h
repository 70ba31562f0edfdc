// Status codes shared by all of core: every protocol fault maps to one RFC 6455
// close code and one ws error-code name. Depends on nothing.
#pragma once

#include <cstdint>

namespace wsn {

// RFC 6455 §7.4.1 close codes used by the engine.
enum CloseCode : uint16_t {
  kCloseNormal = 1000,
  kCloseGoingAway = 1001,
  kCloseProtocolError = 1002,
  kCloseUnsupportedData = 1003,
  kCloseNoStatus = 1005,  // never on the wire
  kCloseAbnormal = 1006,  // never on the wire
  kCloseInvalidPayload = 1007,
  kClosePolicyViolation = 1008,
  kCloseMessageTooBig = 1009,
  kCloseMandatoryExtension = 1010,
  kCloseInternalError = 1011,
  kCloseTlsHandshake = 1015  // never on the wire
};

// One value per distinct protocol fault. The order is part of the binding's
// contract with lib/errors.js (which holds ws's messages): append only, never
// reorder.
enum class Status : uint8_t {
  kOk = 0,
  kUnexpectedRsv1,               // WS_ERR_UNEXPECTED_RSV_1, 1002
  kUnexpectedRsv23,              // WS_ERR_UNEXPECTED_RSV_2_3, 1002
  kInvalidOpcode,                // WS_ERR_INVALID_OPCODE, 1002, detail = opcode
  kExpectedFin,                  // WS_ERR_EXPECTED_FIN, 1002
  kInvalidControlPayloadLength,  // WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH, 1002,
                                 // detail = length
  kExpectedMask,                 // WS_ERR_EXPECTED_MASK, 1002
  kUnexpectedMask,               // WS_ERR_UNEXPECTED_MASK, 1002
  kUnsupportedDataPayloadLength,  // WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH,
                                  // 1009 (length > 2^53 - 1)
  kMessageTooBig,     // WS_ERR_UNSUPPORTED_MESSAGE_LENGTH, 1009 (maxPayload)
  kInvalidUtf8,       // WS_ERR_INVALID_UTF8, 1007
  kInvalidCloseCode,  // WS_ERR_INVALID_CLOSE_CODE, 1002, detail = code
  kTooManyBufferedParts,  // WS_ERR_TOO_MANY_BUFFERED_PARTS, 1008, detail = 0
                          // maxFragments, 1 maxBufferedChunks
  kInflateFailed,         // zlib data error, 1007, detail = zlib return code
  kOutOfMemory,           // 1011; allocation failed while buffering
  kInflatePending         // not a fault and never sticky: the inflate
                          // budget ran out; call execute() again
};

[[nodiscard]] constexpr uint16_t closeCodeFor(Status status) noexcept {
  switch (status) {
    case Status::kOk:
      return kCloseNormal;
    case Status::kUnsupportedDataPayloadLength:
    case Status::kMessageTooBig:
      return kCloseMessageTooBig;
    case Status::kInvalidUtf8:
    case Status::kInflateFailed:
      return kCloseInvalidPayload;
    case Status::kTooManyBufferedParts:
      return kClosePolicyViolation;
    case Status::kOutOfMemory:
      return kCloseInternalError;
    default:
      return kCloseProtocolError;
  }
}

// RFC 6455 §7.4: codes an endpoint may send or accept in a close frame (ws's
// isValidStatusCode).
[[nodiscard]] constexpr bool isValidCloseCode(uint32_t code) noexcept {
  return (code >= 1000 && code <= 1014 && code != 1004 && code != 1005 &&
          code != 1006) ||
         (code >= 3000 && code <= 4999);
}

// True for the statuses that fail the connection: everything but kOk and
// kInflatePending (closeCodeFor() has no meaning for those two).
[[nodiscard]] constexpr bool isFault(Status status) noexcept {
  return status != Status::kOk && status != Status::kInflatePending;
}

}  // namespace wsn
