// permessage-deflate negotiation parsing and per-message (de)compression.
// Depends on zlib and the C++ standard library only.
#include "pmd.h"

#include <cctype>
#include <cstring>

namespace wsn::bench {

namespace {

std::string trim(const std::string& text) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && (text[begin] == ' ' || text[begin] == '\t')) ++begin;
  while (end > begin && (text[end - 1] == ' ' || text[end - 1] == '\t')) --end;
  return text.substr(begin, end - begin);
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(c));
  return text;
}

bool parseWindowBits(const std::string& value, int* bits) {
  std::string digits = value;
  // RFC 7692 §7.1: a value may be sent as a quoted-string.
  if (digits.size() >= 2 && digits.front() == '"' && digits.back() == '"') {
    digits = digits.substr(1, digits.size() - 2);
  }
  if (digits.empty() || digits.size() > 2) return false;
  int result = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    result = result * 10 + (c - '0');
  }
  if (result < 8 || result > 15) return false;
  *bits = result;
  return true;
}

}  // namespace

bool parseDeflateResponse(const std::string& value, DeflateParams* params,
                          std::string* error) {
  if (value.find(',') != std::string::npos) {
    *error = "server accepted more than one extension";
    return false;
  }
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t semi = value.find(';', start);
    parts.push_back(trim(value.substr(start, semi - start)));
    if (semi == std::string::npos) break;
    start = semi + 1;
  }
  if (lower(parts[0]) != "permessage-deflate") {
    *error = "server accepted an extension that was not offered: " + parts[0];
    return false;
  }
  DeflateParams result;
  bool seen[4] = {false, false, false, false};
  for (size_t i = 1; i < parts.size(); ++i) {
    const size_t eq = parts[i].find('=');
    const std::string name = lower(trim(parts[i].substr(0, eq)));
    const bool hasValue = eq != std::string::npos;
    const std::string paramValue =
        hasValue ? trim(parts[i].substr(eq + 1)) : std::string();
    int index;
    bool ok = true;
    if (name == "server_no_context_takeover") {
      index = 0;
      ok = !hasValue;
      result.serverNoContextTakeover = true;
    } else if (name == "client_no_context_takeover") {
      index = 1;
      ok = !hasValue;
      result.clientNoContextTakeover = true;
    } else if (name == "server_max_window_bits") {
      index = 2;
      ok = hasValue && parseWindowBits(paramValue, &result.serverMaxWindowBits);
    } else if (name == "client_max_window_bits") {
      // RFC 7692 §7.1.2.2: in a response this parameter must carry a value.
      index = 3;
      ok = hasValue && parseWindowBits(paramValue, &result.clientMaxWindowBits);
    } else {
      *error = "unknown permessage-deflate parameter: " + name;
      return false;
    }
    if (!ok || seen[index]) {
      *error = "invalid permessage-deflate parameter: " + parts[i];
      return false;
    }
    seen[index] = true;
  }
  *params = result;
  return true;
}

MessageDeflater::~MessageDeflater() {
  if (ready_) deflateEnd(&stream_);
}

bool MessageDeflater::init(int windowBits, int level, bool resetEachMessage) {
  if (ready_) return true;
  // Negative window bits select a raw stream (no zlib header), RFC 7692 §7.2.
  if (deflateInit2(&stream_, level, Z_DEFLATED, -windowBits, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return false;
  }
  ready_ = true;
  resetEachMessage_ = resetEachMessage;
  return true;
}

bool MessageDeflater::compress(const uint8_t* data, size_t size,
                               std::vector<uint8_t>* out) {
  out->resize(deflateBound(&stream_, static_cast<uLong>(size)) + 16);
  stream_.next_in = const_cast<Bytef*>(data);
  stream_.avail_in = static_cast<uInt>(size);
  size_t produced = 0;
  while (true) {
    stream_.next_out = out->data() + produced;
    stream_.avail_out = static_cast<uInt>(out->size() - produced);
    const int rc = deflate(&stream_, Z_SYNC_FLUSH);
    if (rc != Z_OK && rc != Z_BUF_ERROR) return false;
    produced = out->size() - stream_.avail_out;
    // The flush is complete once zlib stops short of filling the output.
    if (stream_.avail_in == 0 && stream_.avail_out != 0) break;
    out->resize(out->size() * 2);
  }
  static constexpr uint8_t kTail[4] = {0x00, 0x00, 0xFF, 0xFF};
  if (produced < 4 || std::memcmp(out->data() + produced - 4, kTail, 4) != 0) {
    return false;
  }
  out->resize(produced - 4);
  if (resetEachMessage_) deflateReset(&stream_);
  return true;
}

bool CompressedBodies::build(const PayloadSource& source, int level) {
  MessageDeflater deflater;
  if (!deflater.init(15, level, true)) return false;
  const size_t bodyBytes = source.messageBytes() - source.tagBytes();
  std::vector<uint8_t> compressed;
  bytes_.clear();
  starts_.assign(1, 0);
  for (size_t i = 0; i < source.bodyCount(); ++i) {
    if (!deflater.compress(source.bodyAt(i), bodyBytes, &compressed)) {
      starts_.clear();
      return false;
    }
    bytes_.insert(bytes_.end(), compressed.begin(), compressed.end());
    starts_.push_back(bytes_.size());
  }
  return true;
}

size_t writeTagBlock(uint8_t* out, size_t tagBytes, uint64_t tag) noexcept {
  out[0] = 0x00;  // BFINAL 0, BTYPE 00, then padding to the byte boundary
  out[1] = static_cast<uint8_t>(tagBytes);
  out[2] = 0x00;
  out[3] = static_cast<uint8_t>(~tagBytes);
  out[4] = 0xFF;
  writeTag(out + 5, tagBytes, tag);
  return 5 + tagBytes;
}

MessageInflater::~MessageInflater() {
  if (ready_) inflateEnd(&stream_);
}

bool MessageInflater::init(bool resetEachMessage) {
  if (ready_) return true;
  // A 15-bit window reads any smaller window the server may use.
  if (inflateInit2(&stream_, -15) != Z_OK) return false;
  ready_ = true;
  resetEachMessage_ = resetEachMessage;
  return true;
}

InflateStatus MessageInflater::feed(const uint8_t* data, size_t size,
                                    uint8_t* out, size_t capacity,
                                    size_t* produced) {
  stream_.next_in = const_cast<Bytef*>(data);
  stream_.avail_in = static_cast<uInt>(size);
  while (stream_.avail_in > 0) {
    stream_.next_out = out + *produced;
    stream_.avail_out = static_cast<uInt>(capacity - *produced);
    const int rc = inflate(&stream_, Z_SYNC_FLUSH);
    *produced = capacity - stream_.avail_out;
    if (rc == Z_STREAM_END) {
      // A final block ends this deflate stream; what follows starts a new one.
      inflateReset(&stream_);
      continue;
    }
    if (rc == Z_BUF_ERROR && stream_.avail_out == 0) {
      return InflateStatus::kTooBig;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) return InflateStatus::kError;
    if (stream_.avail_out == 0 && stream_.avail_in > 0) {
      return InflateStatus::kTooBig;
    }
    if (rc == Z_BUF_ERROR) break;
  }
  return InflateStatus::kOk;
}

InflateStatus MessageInflater::inflateMessage(const uint8_t* data, size_t size,
                                              uint8_t* out, size_t capacity,
                                              size_t* producedBytes) {
  static constexpr uint8_t kTail[4] = {0x00, 0x00, 0xFF, 0xFF};
  size_t produced = 0;
  InflateStatus status = feed(data, size, out, capacity, &produced);
  if (status == InflateStatus::kOk) {
    status = feed(kTail, sizeof kTail, out, capacity, &produced);
  }
  *producedBytes = produced;
  if (status != InflateStatus::kOk || resetEachMessage_) inflateReset(&stream_);
  return status;
}

}  // namespace wsn::bench
