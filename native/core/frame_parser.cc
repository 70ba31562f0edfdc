// The incremental RFC 6455 §5 frame reader: header state machine, payload
// spans or owned reassembly buffers, streaming UTF-8 and inflation. Depends on
// mask.h, utf8.h and deflate.h only; never on Node.
#include "frame_parser.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "frame_writer.h"
#include "mask.h"

namespace wsn {
namespace {

// RFC 6455 §5.2 allows 63-bit lengths; ws (and JavaScript numbers) stop at
// 2^53 - 1, and so do we, so the same frames fail with the same error.
constexpr uint64_t kMaxSafeLength = (uint64_t{1} << 53) - 1;

// Unmask and validate in blocks this size so the validator reads bytes the
// unmasking loop has just written, while they are still in L1 (32-48 KiB on
// the CPUs we target; a 16 KiB block leaves room for the destination too).
constexpr size_t kBlockBytes = 16 * 1024;

// kTooManyBufferedParts details: which limit was hit (ws words the two
// differently: "Too many message fragments", "Too many buffered chunks").
constexpr uint64_t kPartsFragments = 0;
constexpr uint64_t kPartsChunks = 1;

bool isControl(uint8_t opcode) { return (opcode & 0x8) != 0; }

uint64_t saturatingAdd(uint64_t a, uint64_t b) {
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

// One decoded frame header.
struct FrameHeader {
  bool fin = false;
  bool rsv1 = false;
  bool masked = false;
  uint8_t opcode = 0;
  uint64_t payloadBytes = 0;
  uint8_t mask[4] = {0, 0, 0, 0};
  size_t headerBytes = 0;
};

enum class HeaderStep { kNeedMore, kDone, kFailed };

}  // namespace

struct FrameParser::Impl {
  enum class Phase : uint8_t { kHeader, kPayload, kFinished, kFailed };

  explicit Impl(const ParserOptions& parserOptions) : options(parserOptions) {}

  ParserOptions options;
  Phase phase = Phase::kHeader;
  Status status = Status::kOk;
  uint64_t statusDetail = 0;

  // A header split across chunks is carried here (at most 14 bytes).
  uint8_t carry[kMaxFrameHeaderBytes] = {};
  size_t carryBytes = 0;

  // The frame being read.
  FrameHeader frame;
  uint64_t payloadLeft = 0;
  size_t maskPhase = 0;
  bool maskIsZero = true;

  // The data message being read. inMessage: a non-final data frame was read
  // and its message has not ended (ws's `_fragmented`).
  bool inMessage = false;
  uint8_t messageOpcode = 0;
  bool compressed = false;
  bool validateText = false;
  uint64_t headerTotalBytes =
      0;  // sum of frame lengths (ws _totalPayloadLength)
  uint32_t frames = 0;
  uint32_t pieces = 0;
  ByteBuffer message;
  Utf8Stream utf8;
  std::unique_ptr<Inflater> inflater;

  // A control frame split across chunks (§5.5: at most 125 bytes).
  uint8_t control[kMaxControlPayloadBytes] = {};
  size_t controlBytes = 0;

  // Per execute() call.
  std::vector<ByteBuffer>* owned = nullptr;
  ParserEvent* events = nullptr;
  size_t eventCapacity = 0;
  size_t eventCount = 0;

  bool fail(Status failure, uint64_t detail = 0) {
    status = failure;
    statusDetail = detail;
    phase = Phase::kFailed;
    // Nothing more will be read: give the memory back now.
    message.reset();
    inflater.reset();
    carryBytes = 0;
    controlBytes = 0;
    return false;
  }

  HeaderStep decodeHeader(const uint8_t* bytes, size_t available,
                          FrameHeader* header, size_t* neededBytes);
  void beginFrame(const FrameHeader& header);
  bool readHeader(const uint8_t* data, size_t length, size_t* position);
  bool readPayload(uint8_t* data, size_t length, size_t* position);
  bool readControl(uint8_t* data, size_t available, size_t start);
  bool readPlain(uint8_t* data, size_t available, size_t start);
  bool readCompressed(uint8_t* data, size_t available, size_t start);
  bool finishControl(const uint8_t* payload, size_t payloadBytes, bool isSpan,
                     size_t spanOffset);
  bool finishMessage();
  bool unmaskAndValidate(const uint8_t* source, uint8_t* destination,
                         size_t bytes, bool validate);
  bool emitSpan(uint8_t opcode, size_t offset, size_t bytes,
                uint16_t closeCode);
  bool emitOwned(uint8_t opcode, ByteBuffer&& payload, uint16_t closeCode);
};

// Decodes as much of a header as `available` bytes allow, running ws's checks
// in ws's order (receiver.js getInfo, getPayloadLength64, haveLength): the
// checks on the first two bytes fail before the extended length is read, the
// length checks before the mask key is read. Commits nothing but a failure.
HeaderStep FrameParser::Impl::decodeHeader(const uint8_t* bytes,
                                           size_t available,
                                           FrameHeader* header,
                                           size_t* neededBytes) {
  if (available < 2) {
    *neededBytes = 2;
    return HeaderStep::kNeedMore;
  }
  const uint8_t first = bytes[0];
  const uint8_t second = bytes[1];
  if ((first & 0x30) != 0) {
    fail(Status::kUnexpectedRsv23);
    return HeaderStep::kFailed;
  }
  const bool rsv1 = (first & 0x40) != 0;
  if (rsv1 && !options.perMessageDeflate) {
    fail(Status::kUnexpectedRsv1);
    return HeaderStep::kFailed;
  }
  const bool fin = (first & 0x80) != 0;
  const uint8_t opcode = first & 0x0f;
  const uint8_t shortLength = second & 0x7f;

  if (opcode == kOpContinuation) {
    // RFC 7692 §6.1: RSV1 marks a compressed message on its first frame only.
    if (rsv1) {
      fail(Status::kUnexpectedRsv1);
      return HeaderStep::kFailed;
    }
    if (!inMessage) {
      fail(Status::kInvalidOpcode, 0);
      return HeaderStep::kFailed;
    }
  } else if (opcode == kOpText || opcode == kOpBinary) {
    // §5.4: a new data message may not start inside a fragmented one.
    if (inMessage) {
      fail(Status::kInvalidOpcode, opcode);
      return HeaderStep::kFailed;
    }
  } else if (opcode >= kOpClose && opcode <= kOpPong) {
    // §5.5: control frames are never fragmented and carry <= 125 bytes; a
    // close body is empty or starts with a 2-byte code (§5.5.1).
    if (!fin) {
      fail(Status::kExpectedFin);
      return HeaderStep::kFailed;
    }
    if (rsv1) {
      fail(Status::kUnexpectedRsv1);
      return HeaderStep::kFailed;
    }
    if (shortLength > kMaxControlPayloadBytes ||
        (opcode == kOpClose && shortLength == 1)) {
      fail(Status::kInvalidControlPayloadLength, shortLength);
      return HeaderStep::kFailed;
    }
  } else {
    fail(Status::kInvalidOpcode, opcode);
    return HeaderStep::kFailed;
  }

  // §5.1: clients mask every frame, servers none.
  const bool masked = (second & 0x80) != 0;
  if (options.role == Role::kServer) {
    if (!masked) {
      fail(Status::kExpectedMask);
      return HeaderStep::kFailed;
    }
  } else if (masked) {
    fail(Status::kUnexpectedMask);
    return HeaderStep::kFailed;
  }

  const size_t extendedBytes = shortLength == 126   ? 2
                               : shortLength == 127 ? 8
                                                    : 0;
  if (available < 2 + extendedBytes) {
    *neededBytes = 2 + extendedBytes;
    return HeaderStep::kNeedMore;
  }
  uint64_t payloadBytes = shortLength;
  if (extendedBytes != 0) {
    payloadBytes = 0;
    for (size_t i = 0; i < extendedBytes; ++i) {
      payloadBytes = (payloadBytes << 8) | bytes[2 + i];
    }
    if (payloadBytes > kMaxSafeLength) {
      fail(Status::kUnsupportedDataPayloadLength);
      return HeaderStep::kFailed;
    }
  }

  if (!isControl(opcode)) {
    // The limit applies to the sum of the lengths announced so far, before a
    // byte of payload is stored (ws haveLength), so a header cannot make us
    // allocate.
    const bool continues = opcode == kOpContinuation;
    const uint64_t bytesSoFar = continues ? headerTotalBytes : 0;
    if (payloadBytes != 0 && options.maxPayloadBytes != 0 &&
        saturatingAdd(bytesSoFar, payloadBytes) > options.maxPayloadBytes) {
      fail(Status::kMessageTooBig);
      return HeaderStep::kFailed;
    }
    // Every data frame counts, empty ones too (ws #2329): a peer cannot spin
    // us through an endless fragmented message of empty frames.
    const uint32_t framesSoFar = continues ? frames : 0;
    if (options.maxFragments != 0 && framesSoFar >= options.maxFragments) {
      fail(Status::kTooManyBufferedParts, kPartsFragments);
      return HeaderStep::kFailed;
    }
  }

  const size_t headerBytes = 2 + extendedBytes + (masked ? 4 : 0);
  if (available < headerBytes) {
    *neededBytes = headerBytes;
    return HeaderStep::kNeedMore;
  }
  header->fin = fin;
  header->rsv1 = rsv1;
  header->masked = masked;
  header->opcode = opcode;
  header->payloadBytes = payloadBytes;
  if (masked) std::memcpy(header->mask, bytes + 2 + extendedBytes, 4);
  header->headerBytes = headerBytes;
  return HeaderStep::kDone;
}

void FrameParser::Impl::beginFrame(const FrameHeader& header) {
  frame = header;
  payloadLeft = header.payloadBytes;
  maskPhase = 0;
  maskIsZero = !header.masked || (header.mask[0] | header.mask[1] |
                                  header.mask[2] | header.mask[3]) == 0;
  phase = Phase::kPayload;
  if (isControl(header.opcode)) {
    controlBytes = 0;
    return;
  }
  if (header.opcode != kOpContinuation) {
    messageOpcode = header.opcode;
    compressed = header.rsv1;
    validateText = header.opcode == kOpText && !options.skipUtf8Validation;
    headerTotalBytes = 0;
    frames = 0;
    pieces = 0;
    utf8.reset();
  }
  headerTotalBytes = saturatingAdd(headerTotalBytes, header.payloadBytes);
  ++frames;
  inMessage = !header.fin;
}

// Reads one header at data[*position]. Straight from the chunk when it holds
// the whole header; otherwise the bytes are gathered in `carry` across calls.
// False on a protocol error or when more bytes are needed (*position ==
// length then).
bool FrameParser::Impl::readHeader(const uint8_t* data, size_t length,
                                   size_t* position) {
  FrameHeader header;
  size_t neededBytes = 0;
  if (carryBytes == 0) {
    const size_t available = length - *position;
    switch (decodeHeader(data + *position, available, &header, &neededBytes)) {
      case HeaderStep::kDone:
        *position += header.headerBytes;
        beginFrame(header);
        return true;
      case HeaderStep::kFailed:
        return false;
      case HeaderStep::kNeedMore:
        // available < neededBytes <= 14: the carry holds it all.
        std::memcpy(carry, data + *position, available);
        carryBytes = available;
        *position = length;
        return false;
    }
  }
  for (;;) {
    switch (decodeHeader(carry, carryBytes, &header, &neededBytes)) {
      case HeaderStep::kDone:
        carryBytes = 0;
        beginFrame(header);
        return true;
      case HeaderStep::kFailed:
        return false;
      case HeaderStep::kNeedMore:
        break;
    }
    const size_t take = std::min(neededBytes - carryBytes, length - *position);
    std::memcpy(carry + carryBytes, data + *position, take);
    carryBytes += take;
    *position += take;
    if (carryBytes < neededBytes) return false;
  }
}

bool FrameParser::Impl::unmaskAndValidate(const uint8_t* source,
                                          uint8_t* destination, size_t bytes,
                                          bool validate) {
  if (!validate) {
    if (!maskIsZero) {
      maskPhase = maskBytes(source, destination, bytes, frame.mask, maskPhase);
    } else if (source != destination && bytes != 0) {
      std::memcpy(destination, source, bytes);
    }
    return true;
  }
  for (size_t done = 0; done < bytes;) {
    const size_t block = std::min(kBlockBytes, bytes - done);
    if (!maskIsZero) {
      maskPhase = maskBytes(source + done, destination + done, block,
                            frame.mask, maskPhase);
    } else if (source != destination) {
      std::memcpy(destination + done, source + done, block);
    }
    if (!utf8.feed(destination + done, block)) return false;
    done += block;
  }
  return true;
}

bool FrameParser::Impl::emitSpan(uint8_t opcode, size_t offset, size_t bytes,
                                 uint16_t closeCode) {
  ParserEvent& event = events[eventCount++];
  event.opcode = opcode;
  event.owned = false;
  event.closeCode = closeCode;
  event.offset = static_cast<uint32_t>(offset);
  event.length = static_cast<uint32_t>(bytes);
  event.ownedIndex = 0;
  return true;
}

bool FrameParser::Impl::emitOwned(uint8_t opcode, ByteBuffer&& payload,
                                  uint16_t closeCode) {
  const size_t payloadBytes = payload.size();
  try {
    owned->push_back(std::move(payload));
  } catch (const std::bad_alloc&) {
    return fail(Status::kOutOfMemory);
  }
  ParserEvent& event = events[eventCount++];
  event.opcode = opcode;
  event.owned = true;
  event.closeCode = closeCode;
  event.offset = 0;
  event.length = static_cast<uint32_t>(payloadBytes);
  event.ownedIndex = static_cast<uint32_t>(owned->size() - 1);
  return true;
}

bool FrameParser::Impl::finishControl(const uint8_t* payload,
                                      size_t payloadBytes, bool isSpan,
                                      size_t spanOffset) {
  phase = Phase::kHeader;
  uint16_t closeCode = 0;
  size_t skipBytes = 0;
  if (frame.opcode == kOpClose) {
    closeCode = kCloseNoStatus;
    if (payloadBytes >= 2) {
      closeCode = static_cast<uint16_t>((payload[0] << 8) | payload[1]);
      if (!isValidCloseCode(closeCode)) {
        return fail(Status::kInvalidCloseCode, closeCode);
      }
      skipBytes = 2;
      // §5.5.1: the reason is UTF-8 text.
      if (!options.skipUtf8Validation &&
          !isValidUtf8(payload + 2, payloadBytes - 2)) {
        return fail(Status::kInvalidUtf8);
      }
    }
  }
  const uint8_t* body = payload + skipBytes;
  const size_t bodyBytes = payloadBytes - skipBytes;
  bool emitted;
  if (isSpan) {
    emitted =
        emitSpan(frame.opcode, spanOffset + skipBytes, bodyBytes, closeCode);
  } else {
    ByteBuffer copy;
    if (!copy.append(body, bodyBytes)) return fail(Status::kOutOfMemory);
    emitted = emitOwned(frame.opcode, std::move(copy), closeCode);
  }
  if (!emitted) return false;
  if (frame.opcode == kOpClose) {
    // §5.5.1: nothing after a close frame is read.
    phase = Phase::kFinished;
    message.reset();
    inflater.reset();
  }
  return true;
}

bool FrameParser::Impl::readControl(uint8_t* data, size_t available,
                                    size_t start) {
  uint8_t* bytes = data + start;
  if (controlBytes == 0 && available == payloadLeft) {
    unmaskAndValidate(bytes, bytes, available, false);
    payloadLeft = 0;
    return finishControl(bytes, available, true, start);
  }
  unmaskAndValidate(bytes, control + controlBytes, available, false);
  controlBytes += available;
  payloadLeft -= available;
  if (payloadLeft != 0) return true;
  const size_t payloadBytes = controlBytes;
  controlBytes = 0;
  return finishControl(control, payloadBytes, false, 0);
}

bool FrameParser::Impl::finishMessage() {
  phase = Phase::kHeader;
  inMessage = false;
  if (validateText && !utf8.finish()) return fail(Status::kInvalidUtf8);
  return emitOwned(messageOpcode, std::move(message), 0);
}

// An uncompressed data frame's payload bytes [start, start+available).
bool FrameParser::Impl::readPlain(uint8_t* data, size_t available,
                                  size_t start) {
  uint8_t* bytes = data + start;
  const bool wholeFrameHere =
      available == payloadLeft && payloadLeft == frame.payloadBytes;
  if (wholeFrameHere && frame.fin && frame.opcode != kOpContinuation) {
    // The common case: an unfragmented message wholly in this chunk is handed
    // out where it lies.
    if (!unmaskAndValidate(bytes, bytes, available, validateText) ||
        (validateText && !utf8.finish())) {
      return fail(Status::kInvalidUtf8);
    }
    payloadLeft = 0;
    phase = Phase::kHeader;
    inMessage = false;
    return emitSpan(messageOpcode, start, available, 0);
  }
  if (available != 0) {
    if (options.maxBufferedChunks != 0 && pieces >= options.maxBufferedChunks) {
      return fail(Status::kTooManyBufferedParts, kPartsChunks);
    }
    ++pieces;
    if (message.capacity() - message.size() < available) {
      // Grow toward the end of this frame, which the header announced, but
      // never past twice the bytes really held: a lying header costs nothing,
      // and a 64 KiB frame cut by a socket chunk is not moved by a second
      // realloc (bench/parser.js: 64 KiB frames in 64 KiB chunks spent a
      // quarter of their time in that memmove).
      const uint64_t held = uint64_t{message.size()} + available;
      const uint64_t frameEnd = uint64_t{message.size()} + payloadLeft;
      const size_t capacity = message.capacity();
      const uint64_t geometric =
          capacity < 256 ? 256 : uint64_t{capacity} + capacity / 2;
      const uint64_t target =
          std::max(std::min(frameEnd, held * 2), std::max(geometric, held));
      if (target > SIZE_MAX || !message.reserve(static_cast<size_t>(target))) {
        return fail(Status::kOutOfMemory);
      }
    }
    uint8_t* destination = message.extend(available);
    if (destination == nullptr) return fail(Status::kOutOfMemory);
    if (!unmaskAndValidate(bytes, destination, available, validateText)) {
      return fail(Status::kInvalidUtf8);
    }
    payloadLeft -= available;
  }
  if (payloadLeft != 0) return true;
  if (frame.fin) return finishMessage();
  phase = Phase::kHeader;
  return true;
}

// A compressed message's frame payload: every piece goes to the inflater at
// once (RFC 7692 §7.2.2), so the limit and UTF-8 are checked on the output as
// it grows.
bool FrameParser::Impl::readCompressed(uint8_t* data, size_t available,
                                       size_t start) {
  uint8_t* bytes = data + start;
  unmaskAndValidate(bytes, bytes, available, false);
  payloadLeft -= available;
  const bool last = payloadLeft == 0 && frame.fin;
  if (available != 0 || last) {
    if (!inflater) {
      inflater.reset(new (std::nothrow) Inflater(
          options.inflateWindowBits, options.inflateNoContextTakeover));
      if (!inflater) return fail(Status::kOutOfMemory);
    }
    const size_t before = message.size();
    int zlibCode = 0;
    const Status inflated = inflater->inflate(
        bytes, available, last, message, options.maxPayloadBytes, &zlibCode);
    // Validate what came out, up to the limit, before reporting the inflate
    // result: the first failure is then the same however the input was split.
    size_t produced = message.size() > before ? message.size() - before : 0;
    if (options.maxPayloadBytes != 0 && message.size() > before) {
      const uint64_t room = options.maxPayloadBytes > before
                                ? options.maxPayloadBytes - before
                                : 0;
      produced = static_cast<size_t>(std::min<uint64_t>(produced, room));
    }
    if (validateText && produced != 0 &&
        !utf8.feed(message.data() + before, produced)) {
      return fail(Status::kInvalidUtf8);
    }
    if (inflated != Status::kOk) {
      return fail(inflated,
                  inflated == Status::kInflateFailed
                      ? static_cast<uint64_t>(static_cast<uint32_t>(zlibCode))
                      : 0);
    }
    if (message.size() > before) {
      ++pieces;
      if (options.maxBufferedChunks != 0 &&
          pieces > options.maxBufferedChunks) {
        return fail(Status::kTooManyBufferedParts, kPartsChunks);
      }
    }
  }
  if (payloadLeft != 0) return true;
  if (frame.fin) return finishMessage();
  phase = Phase::kHeader;
  return true;
}

bool FrameParser::Impl::readPayload(uint8_t* data, size_t length,
                                    size_t* position) {
  const size_t start = *position;
  const size_t available =
      static_cast<size_t>(std::min<uint64_t>(payloadLeft, length - start));
  *position += available;
  if (isControl(frame.opcode)) return readControl(data, available, start);
  if (compressed) return readCompressed(data, available, start);
  return readPlain(data, available, start);
}

FrameParser::FrameParser(const ParserOptions& options)
    : impl_(new Impl(options)) {}

FrameParser::~FrameParser() = default;

ExecuteResult FrameParser::execute(uint8_t* data, size_t length,
                                   ParserEvent* events,
                                   size_t eventCapacity) noexcept {
  Impl& impl = *impl_;
  ExecuteResult result;
  owned_.clear();
  if (impl.phase == Impl::Phase::kFailed) {
    result.status = impl.status;
    result.statusDetail = impl.statusDetail;
    return result;
  }
  if (impl.phase == Impl::Phase::kFinished) {
    result.bytesConsumed = length;
    return result;
  }
  if (eventCapacity == 0) return result;
  impl.owned = &owned_;
  impl.events = events;
  impl.eventCapacity = eventCapacity;
  impl.eventCount = 0;

  size_t position = 0;
  for (;;) {
    if (impl.phase == Impl::Phase::kHeader) {
      // Stop between frames when the event area is full; the caller resumes
      // from bytesConsumed.
      if (position == length || impl.eventCount == eventCapacity) break;
      const size_t frameStart = position;
      if (!impl.readHeader(data, length, &position)) {
        if (impl.phase == Impl::Phase::kFailed) position = frameStart;
        break;
      }
    } else if (impl.phase == Impl::Phase::kPayload) {
      // A frame with an empty payload completes here without more input.
      if (position == length && impl.payloadLeft != 0) break;
      const size_t payloadStart = position;
      if (!impl.readPayload(data, length, &position)) {
        position = payloadStart;
        break;
      }
    } else {
      if (impl.phase == Impl::Phase::kFinished) position = length;
      break;
    }
  }
  result.bytesConsumed = position;
  result.eventCount = impl.eventCount;
  result.status = impl.status;
  result.statusDetail = impl.statusDetail;
  impl.events = nullptr;
  impl.owned = nullptr;
  return result;
}

bool FrameParser::finished() const noexcept {
  return impl_->phase == Impl::Phase::kFinished;
}

size_t FrameParser::bufferedBytes() const noexcept {
  return impl_->carryBytes + impl_->controlBytes + impl_->message.capacity();
}

}  // namespace wsn
