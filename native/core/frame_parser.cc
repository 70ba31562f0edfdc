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

// Deflate's largest expansion: a 258-byte match coded in 2 bits is 1032
// output bytes per input byte (RFC 1951 §3.2.5; zlib's technical notes). Input
// slices of budget / kMaxInflateRatio bytes therefore cannot overrun the
// inflate budget by more than one budget, whatever the data.
constexpr uint64_t kMaxInflateRatio = 1032;
// But never slices below 1 KiB of input: then a small message (1 KiB of text
// deflates to about 550 bytes) is still inflated in one call. Split over
// calls it cost twice as much (9.4 against 18 us per message, the Inflater
// moving its history in and out of the stream); 1 KiB of input inflates to
// 1 MiB at most, about 1-2 ms, the most one slice can overrun the budget by.
// Slices this small still cost zlib a copy of each call's output into its
// window: 16 MiB of text took 53 ms of CPU against 44 ms in 64 KiB calls.
constexpr uint64_t kMinInflateSliceBytes = 1024;

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

  explicit Impl(const ParserOptions& parserOptions)
      : options_(parserOptions),
        inflateBudgetLeft_(parserOptions.inflateBudgetBytes) {}

  ParserOptions options_;
  Phase phase_ = Phase::kHeader;
  Status status_ = Status::kOk;
  uint64_t statusDetail_ = 0;

  // A header split across chunks is carried here (at most 14 bytes).
  uint8_t carry_[kMaxFrameHeaderBytes] = {};
  size_t carryBytes_ = 0;

  // The frame being read.
  FrameHeader frame_;
  uint64_t payloadLeft_ = 0;
  // Some of this frame's payload was read directly (commitDirect): the rest
  // is too, however little is left, so the frame ends in a direct read.
  bool directFrame_ = false;
  size_t maskPhase_ = 0;
  bool maskIsZero_ = true;

  // The data message being read. inMessage_: a non-final data frame was read
  // and its message has not ended (ws's `_fragmented`).
  bool inMessage_ = false;
  uint8_t messageOpcode_ = 0;
  bool compressed_ = false;
  bool validateText_ = false;
  // The sum of the frame lengths announced so far (ws _totalPayloadLength).
  uint64_t headerTotalBytes_ = 0;
  uint32_t frames_ = 0;
  uint32_t pieces_ = 0;
  ByteBuffer message_;
  Utf8Stream utf8_;
  std::unique_ptr<Inflater> inflater_;

  // Inflated bytes the current slice may still produce (see
  // ParserOptions::inflateBudgetBytes); it carries over between execute()
  // calls until a call ends in kInflatePending.
  uint64_t inflateBudgetLeft_;
  // The budget stopped this call (set by readCompressed, read by execute).
  bool inflatePaused_ = false;
  // The last call ended in kInflatePending, so the next one continues the
  // same input piece.
  bool resuming_ = false;
  // The frame part being inflated (one frame's bytes in one caller chunk) has
  // produced output and been counted in pieces_: a part cut into slices by
  // the budget still counts once, as when it is inflated in one go.
  bool pieceCounted_ = false;

  // A control frame split across chunks (§5.5: at most 125 bytes).
  // Allocated on first use: a control frame rarely spans chunks, and 125
  // bytes held by every idle connection add up over thousands of them.
  std::unique_ptr<uint8_t[]> control_;
  size_t controlBytes_ = 0;

  // Per execute() call.
  std::vector<ByteBuffer>* owned_ = nullptr;
  ParserEvent* events_ = nullptr;
  size_t eventCapacity_ = 0;
  size_t eventCount_ = 0;

  bool fail(Status failure, uint64_t detail = 0) {
    status_ = failure;
    statusDetail_ = detail;
    phase_ = Phase::kFailed;
    // Nothing more will be read: give the memory back now.
    message_.reset();
    inflater_.reset();
    carryBytes_ = 0;
    controlBytes_ = 0;
    return false;
  }

  HeaderStep decodeHeader(const uint8_t* bytes, size_t available,
                          FrameHeader* header, size_t* neededBytes);
  void beginFrame(const FrameHeader& header);
  bool readHeader(const uint8_t* data, size_t length, size_t* position);
  bool readPayload(uint8_t* data, size_t length, size_t* position);
  bool readControl(uint8_t* data, size_t available, size_t start);
  bool readPlain(uint8_t* data, size_t available, size_t start);
  bool readCompressed(uint8_t* data, size_t available, size_t start,
                      size_t* fedBytes);
  bool inflateSlice(const uint8_t* bytes, size_t length, bool last);
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
  if (rsv1 && !options_.perMessageDeflate) {
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
    if (!inMessage_) {
      fail(Status::kInvalidOpcode, 0);
      return HeaderStep::kFailed;
    }
  } else if (opcode == kOpText || opcode == kOpBinary) {
    // §5.4: a new data message may not start inside a fragmented one.
    if (inMessage_) {
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
  if (options_.role == Role::kServer) {
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
    const uint64_t bytesSoFar = continues ? headerTotalBytes_ : 0;
    if (payloadBytes != 0 && options_.maxPayloadBytes != 0 &&
        saturatingAdd(bytesSoFar, payloadBytes) > options_.maxPayloadBytes) {
      fail(Status::kMessageTooBig);
      return HeaderStep::kFailed;
    }
    // Every data frame counts, empty ones too (ws #2329): a peer cannot spin
    // us through an endless fragmented message of empty frames.
    const uint32_t framesSoFar = continues ? frames_ : 0;
    if (options_.maxFragments != 0 && framesSoFar >= options_.maxFragments) {
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
  frame_ = header;
  payloadLeft_ = header.payloadBytes;
  directFrame_ = false;
  maskPhase_ = 0;
  maskIsZero_ = !header.masked || (header.mask[0] | header.mask[1] |
                                   header.mask[2] | header.mask[3]) == 0;
  phase_ = Phase::kPayload;
  if (isControl(header.opcode)) {
    controlBytes_ = 0;
    return;
  }
  if (header.opcode != kOpContinuation) {
    messageOpcode_ = header.opcode;
    compressed_ = header.rsv1;
    validateText_ = header.opcode == kOpText && !options_.skipUtf8Validation;
    headerTotalBytes_ = 0;
    frames_ = 0;
    pieces_ = 0;
    utf8_.reset();
  }
  pieceCounted_ = false;
  headerTotalBytes_ = saturatingAdd(headerTotalBytes_, header.payloadBytes);
  ++frames_;
  inMessage_ = !header.fin;
}

// Reads one header at data[*position]. Straight from the chunk when it holds
// the whole header; otherwise the bytes are gathered in `carry_` across calls.
// False on a protocol error or when more bytes are needed (*position ==
// length then).
bool FrameParser::Impl::readHeader(const uint8_t* data, size_t length,
                                   size_t* position) {
  FrameHeader header;
  size_t neededBytes = 0;
  if (carryBytes_ == 0) {
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
        std::memcpy(carry_, data + *position, available);
        carryBytes_ = available;
        *position = length;
        return false;
    }
  }
  for (;;) {
    switch (decodeHeader(carry_, carryBytes_, &header, &neededBytes)) {
      case HeaderStep::kDone:
        carryBytes_ = 0;
        beginFrame(header);
        return true;
      case HeaderStep::kFailed:
        return false;
      case HeaderStep::kNeedMore:
        break;
    }
    const size_t take = std::min(neededBytes - carryBytes_, length - *position);
    std::memcpy(carry_ + carryBytes_, data + *position, take);
    carryBytes_ += take;
    *position += take;
    if (carryBytes_ < neededBytes) return false;
  }
}

bool FrameParser::Impl::unmaskAndValidate(const uint8_t* source,
                                          uint8_t* destination, size_t bytes,
                                          bool validate) {
  if (!validate) {
    if (!maskIsZero_) {
      maskPhase_ =
          maskBytes(source, destination, bytes, frame_.mask, maskPhase_);
    } else if (source != destination && bytes != 0) {
      std::memcpy(destination, source, bytes);
    }
    return true;
  }
  for (size_t done = 0; done < bytes;) {
    const size_t block = std::min(kBlockBytes, bytes - done);
    if (!maskIsZero_) {
      maskPhase_ = maskBytes(source + done, destination + done, block,
                             frame_.mask, maskPhase_);
    } else if (source != destination) {
      std::memcpy(destination + done, source + done, block);
    }
    if (!utf8_.feed(destination + done, block)) return false;
    done += block;
  }
  return true;
}

bool FrameParser::Impl::emitSpan(uint8_t opcode, size_t offset, size_t bytes,
                                 uint16_t closeCode) {
  ParserEvent& event = events_[eventCount_++];
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
    owned_->push_back(std::move(payload));
  } catch (const std::bad_alloc&) {
    return fail(Status::kOutOfMemory);
  }
  ParserEvent& event = events_[eventCount_++];
  event.opcode = opcode;
  event.owned = true;
  event.closeCode = closeCode;
  event.offset = 0;
  event.length = static_cast<uint32_t>(payloadBytes);
  event.ownedIndex = static_cast<uint32_t>(owned_->size() - 1);
  return true;
}

bool FrameParser::Impl::finishControl(const uint8_t* payload,
                                      size_t payloadBytes, bool isSpan,
                                      size_t spanOffset) {
  phase_ = Phase::kHeader;
  uint16_t closeCode = 0;
  size_t skipBytes = 0;
  if (frame_.opcode == kOpClose) {
    closeCode = kCloseNoStatus;
    if (payloadBytes >= 2) {
      closeCode = static_cast<uint16_t>((payload[0] << 8) | payload[1]);
      if (!isValidCloseCode(closeCode)) {
        return fail(Status::kInvalidCloseCode, closeCode);
      }
      skipBytes = 2;
      // §5.5.1: the reason is UTF-8 text.
      if (!options_.skipUtf8Validation &&
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
        emitSpan(frame_.opcode, spanOffset + skipBytes, bodyBytes, closeCode);
  } else {
    ByteBuffer copy;
    if (!copy.append(body, bodyBytes)) return fail(Status::kOutOfMemory);
    emitted = emitOwned(frame_.opcode, std::move(copy), closeCode);
  }
  if (!emitted) return false;
  if (frame_.opcode == kOpClose) {
    // §5.5.1: nothing after a close frame is read.
    phase_ = Phase::kFinished;
    message_.reset();
    inflater_.reset();
  }
  return true;
}

bool FrameParser::Impl::readControl(uint8_t* data, size_t available,
                                    size_t start) {
  uint8_t* bytes = data + start;
  if (controlBytes_ == 0 && available == payloadLeft_) {
    unmaskAndValidate(bytes, bytes, available, false);
    payloadLeft_ = 0;
    return finishControl(bytes, available, true, start);
  }
  if (!control_) {
    control_.reset(new (std::nothrow) uint8_t[kMaxControlPayloadBytes]);
    if (!control_) return fail(Status::kOutOfMemory);
  }
  unmaskAndValidate(bytes, control_.get() + controlBytes_, available, false);
  controlBytes_ += available;
  payloadLeft_ -= available;
  if (payloadLeft_ != 0) return true;
  const size_t payloadBytes = controlBytes_;
  controlBytes_ = 0;
  return finishControl(control_.get(), payloadBytes, false, 0);
}

bool FrameParser::Impl::finishMessage() {
  phase_ = Phase::kHeader;
  inMessage_ = false;
  if (validateText_ && !utf8_.finish()) return fail(Status::kInvalidUtf8);
  return emitOwned(messageOpcode_, std::move(message_), 0);
}

// An uncompressed data frame's payload bytes [start, start+available).
bool FrameParser::Impl::readPlain(uint8_t* data, size_t available,
                                  size_t start) {
  uint8_t* bytes = data + start;
  const bool wholeFrameHere =
      available == payloadLeft_ && payloadLeft_ == frame_.payloadBytes;
  if (wholeFrameHere && frame_.fin && frame_.opcode != kOpContinuation) {
    // The common case: an unfragmented message wholly in this chunk is handed
    // out where it lies.
    if (!unmaskAndValidate(bytes, bytes, available, validateText_) ||
        (validateText_ && !utf8_.finish())) {
      return fail(Status::kInvalidUtf8);
    }
    payloadLeft_ = 0;
    phase_ = Phase::kHeader;
    inMessage_ = false;
    return emitSpan(messageOpcode_, start, available, 0);
  }
  if (available != 0) {
    if (options_.maxBufferedChunks != 0 &&
        pieces_ >= options_.maxBufferedChunks) {
      return fail(Status::kTooManyBufferedParts, kPartsChunks);
    }
    ++pieces_;
    if (message_.capacity() - message_.size() < available) {
      // Grow toward the end of this frame, which the header announced, but
      // never past twice the bytes really held: a lying header costs nothing,
      // and a 64 KiB frame cut by a socket chunk is not moved by a second
      // realloc (bench/parser.js: 64 KiB frames in 64 KiB chunks spent a
      // quarter of their time in that memmove).
      const uint64_t held = uint64_t{message_.size()} + available;
      const uint64_t frameEnd = uint64_t{message_.size()} + payloadLeft_;
      const size_t capacity = message_.capacity();
      const uint64_t geometric =
          capacity < 256 ? 256 : uint64_t{capacity} + capacity / 2;
      const uint64_t target =
          std::max(std::min(frameEnd, held * 2), std::max(geometric, held));
      if (target > SIZE_MAX || !message_.reserve(static_cast<size_t>(target))) {
        return fail(Status::kOutOfMemory);
      }
    }
    uint8_t* destination = message_.extend(available);
    if (destination == nullptr) return fail(Status::kOutOfMemory);
    if (!unmaskAndValidate(bytes, destination, available, validateText_)) {
      return fail(Status::kInvalidUtf8);
    }
    payloadLeft_ -= available;
  }
  if (payloadLeft_ != 0) return true;
  if (frame_.fin) return finishMessage();
  phase_ = Phase::kHeader;
  return true;
}

// Inflates one input slice of a compressed message (RFC 7692 §7.2.2; `last`:
// the message's final bytes, so the tail is appended), checking UTF-8 and the
// limits on the output as it grows.
bool FrameParser::Impl::inflateSlice(const uint8_t* bytes, size_t length,
                                     bool last) {
  if (!inflater_) {
    inflater_.reset(new (std::nothrow) Inflater(
        options_.inflateWindowBits, options_.inflateNoContextTakeover));
    if (!inflater_) return fail(Status::kOutOfMemory);
  }
  const size_t before = message_.size();
  int zlibCode = 0;
  const Status inflated = inflater_->inflate(
      bytes, length, last, message_, options_.maxPayloadBytes, &zlibCode);
  // Validate what came out, up to the limit, before reporting the inflate
  // result: the first failure is then the same however the input was split.
  const size_t grown = message_.size() > before ? message_.size() - before : 0;
  size_t produced = grown;
  if (options_.maxPayloadBytes != 0 && grown != 0) {
    const uint64_t room = options_.maxPayloadBytes > before
                              ? options_.maxPayloadBytes - before
                              : 0;
    produced = static_cast<size_t>(std::min<uint64_t>(produced, room));
  }
  if (validateText_ && produced != 0 &&
      !utf8_.feed(message_.data() + before, produced)) {
    return fail(Status::kInvalidUtf8);
  }
  if (inflated != Status::kOk) {
    return fail(inflated,
                inflated == Status::kInflateFailed
                    ? static_cast<uint64_t>(static_cast<uint32_t>(zlibCode))
                    : 0);
  }
  if (grown != 0 && !pieceCounted_) {
    pieceCounted_ = true;
    ++pieces_;
  }
  if (options_.inflateBudgetBytes != 0) {
    inflateBudgetLeft_ -= std::min<uint64_t>(grown, inflateBudgetLeft_);
  }
  return true;
}

// A compressed message's frame payload: its bytes go to the inflater in
// slices, so the limit and UTF-8 are checked on the output as it grows and the
// inflate budget can stop the work between two slices. *fedBytes: how many of
// the `available` bytes were consumed (all of them unless the budget stopped
// us, with inflatePaused_ set, or an error occurred).
bool FrameParser::Impl::readCompressed(uint8_t* data, size_t available,
                                       size_t start, size_t* fedBytes) {
  uint8_t* bytes = data + start;
  const uint64_t budget = options_.inflateBudgetBytes;
  const size_t sliceBytes =
      budget == 0
          ? available
          : static_cast<size_t>(std::max<uint64_t>(
                kMinInflateSliceBytes,
                std::min<uint64_t>(budget / kMaxInflateRatio, SIZE_MAX)));
  size_t done = 0;
  *fedBytes = 0;
  // One pass even without input: an empty final frame still ends the
  // message, and its tail may be all that is left to inflate.
  do {
    const size_t left = available - done;
    if (left != 0 && budget != 0 && inflateBudgetLeft_ == 0) {
      inflatePaused_ = true;
      return false;
    }
    const size_t slice = std::min(left, sliceBytes);
    // Unmask only what is fed now: the rest may be read by a later call.
    unmaskAndValidate(bytes + done, bytes + done, slice, false);
    payloadLeft_ -= slice;
    const bool last = payloadLeft_ == 0 && frame_.fin;
    if ((slice != 0 || last) && !inflateSlice(bytes + done, slice, last)) {
      return false;
    }
    done += slice;
    *fedBytes = done;
  } while (done < available);

  // The piece limit is checked once per frame part, after all of its output
  // has been validated, as when the part is inflated in one call.
  if (pieceCounted_ && options_.maxBufferedChunks != 0 &&
      pieces_ > options_.maxBufferedChunks) {
    return fail(Status::kTooManyBufferedParts, kPartsChunks);
  }
  if (payloadLeft_ != 0) return true;
  if (frame_.fin) return finishMessage();
  phase_ = Phase::kHeader;
  return true;
}

bool FrameParser::Impl::readPayload(uint8_t* data, size_t length,
                                    size_t* position) {
  const size_t start = *position;
  const size_t available =
      static_cast<size_t>(std::min<uint64_t>(payloadLeft_, length - start));
  if (isControl(frame_.opcode)) {
    *position += available;
    return readControl(data, available, start);
  }
  if (compressed_) {
    size_t fedBytes = 0;
    const bool ok = readCompressed(data, available, start, &fedBytes);
    *position += fedBytes;
    return ok;
  }
  *position += available;
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
  if (impl.phase_ == Impl::Phase::kFailed) {
    result.status = impl.status_;
    result.statusDetail = impl.statusDetail_;
    return result;
  }
  if (impl.phase_ == Impl::Phase::kFinished) {
    result.bytesConsumed = length;
    return result;
  }
  if (eventCapacity == 0) return result;
  // A call after kInflatePending continues the input piece it stopped in;
  // any other call brings a new one.
  if (!impl.resuming_) impl.pieceCounted_ = false;
  impl.resuming_ = false;
  impl.owned_ = &owned_;
  impl.events_ = events;
  impl.eventCapacity_ = eventCapacity;
  impl.eventCount_ = 0;

  size_t position = 0;
  for (;;) {
    if (impl.phase_ == Impl::Phase::kHeader) {
      // Stop between frames when the event area is full; the caller resumes
      // from bytesConsumed.
      if (position == length || impl.eventCount_ == eventCapacity) break;
      const size_t frameStart = position;
      if (!impl.readHeader(data, length, &position)) {
        if (impl.phase_ == Impl::Phase::kFailed) position = frameStart;
        break;
      }
    } else if (impl.phase_ == Impl::Phase::kPayload) {
      // A frame with an empty payload completes here without more input.
      if (position == length && impl.payloadLeft_ != 0) break;
      const size_t payloadStart = position;
      if (!impl.readPayload(data, length, &position)) {
        if (!impl.inflatePaused_) position = payloadStart;
        break;
      }
    } else {
      if (impl.phase_ == Impl::Phase::kFinished) position = length;
      break;
    }
  }
  result.bytesConsumed = position;
  result.eventCount = impl.eventCount_;
  result.status = impl.status_;
  result.statusDetail = impl.statusDetail_;
  if (impl.inflatePaused_) {
    // The caller lets other work run before the next call: that starts a new
    // slice with a full budget.
    impl.inflatePaused_ = false;
    impl.resuming_ = true;
    impl.inflateBudgetLeft_ = impl.options_.inflateBudgetBytes;
    result.status = Status::kInflatePending;
  }
  impl.events_ = nullptr;
  impl.owned_ = nullptr;
  return result;
}

size_t FrameParser::directWindow(size_t minBytes,
                                 uint8_t** destination) noexcept {
  Impl& impl = *impl_;
  if (impl.phase_ != Impl::Phase::kPayload || isControl(impl.frame_.opcode) ||
      impl.compressed_ || impl.payloadLeft_ == 0 ||
      (impl.payloadLeft_ < minBytes && !impl.directFrame_)) {
    return 0;
  }
  // Every read is a piece, as every chunk copied into a message is.
  if (impl.options_.maxBufferedChunks != 0 &&
      impl.pieces_ >= impl.options_.maxBufferedChunks) {
    return 0;
  }
  ByteBuffer& message = impl.message_;
  const size_t held = message.size();
  if (message.capacity() - held < minBytes) {
    // Double what arrived (at least minBytes), never past the frame's end:
    // a large frame takes a handful of reads and reallocations, which move
    // nothing once glibc serves the block with mmap.
    uint64_t grow = std::min<uint64_t>(impl.payloadLeft_,
                                       std::max<uint64_t>(held, minBytes));
    // Leave no tail under minBytes for a window of its own.
    if (impl.payloadLeft_ - grow < minBytes) grow = impl.payloadLeft_;
    const uint64_t target = uint64_t{held} + grow;
    if (target > SIZE_MAX || !message.reserve(static_cast<size_t>(target))) {
      return 0;  // the normal path reports the failure
    }
  }
  *destination = message.data() + held;
  return static_cast<size_t>(std::min<uint64_t>(
      impl.payloadLeft_, uint64_t{message.capacity() - held}));
}

bool FrameParser::commitDirect(size_t bytes) noexcept {
  Impl& impl = *impl_;
  if (bytes == 0) return false;
  // Within the capacity directWindow() reserved: extend() does not move.
  uint8_t* written = impl.message_.extend(bytes);
  if (written == nullptr) {
    impl.fail(Status::kOutOfMemory);
    return true;
  }
  ++impl.pieces_;
  impl.payloadLeft_ -= bytes;
  impl.directFrame_ = true;
  if (!impl.unmaskAndValidate(written, written, bytes, impl.validateText_)) {
    impl.fail(Status::kInvalidUtf8);
    return true;
  }
  return impl.payloadLeft_ == 0;
}

bool FrameParser::assemblingFragments() const noexcept {
  return impl_->inMessage_;
}

bool FrameParser::finished() const noexcept {
  return impl_->phase_ == Impl::Phase::kFinished;
}

size_t FrameParser::bufferedBytes() const noexcept {
  return impl_->carryBytes_ + impl_->controlBytes_ + impl_->message_.capacity();
}

uint64_t FrameParser::maxPayloadBytes() const noexcept {
  return impl_->options_.maxPayloadBytes;
}

}  // namespace wsn
