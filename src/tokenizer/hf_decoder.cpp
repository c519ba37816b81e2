#include "tokenizer/hf_decoder.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/hf_pattern.h"
#include "tokenizer/utf8.h"

namespace nibble::tokenizer {

namespace {

// Joins the pieces and maps each character back to its byte. A piece with a
// character outside the byte mapping (an added token's text) stays as it is.
class ByteLevelDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& pieces) const override {
    std::string out;
    for (const std::string& piece : pieces) {
      std::string bytes;
      bool mapped = true;
      for (size_t i = 0; i < piece.size() && mapped;) {
        const Utf8Char c = decode_utf8(piece, i);
        const auto b = c.valid ? unicode_to_byte(c.cp) : std::nullopt;
        if (b) bytes += static_cast<char>(*b);
        else mapped = false;
        i += c.len;
      }
      out += mapped ? bytes : piece;
    }
    pieces = {std::move(out)};
  }
};

class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(const nlohmann::json& config)
      : replacement_(config.value("replacement", std::string("\xE2\x96\x81"))) {
    if (config.contains("prepend_scheme") && config["prepend_scheme"].is_string())
      strip_first_ = config["prepend_scheme"].get<std::string>() != "never";
    else
      strip_first_ = config.value("add_prefix_space", true);
  }

  // Every replacement character becomes a space, except in the first piece,
  // where (when a prefix was prepended) they are dropped.
  void decode_chain(std::vector<std::string>& pieces) const override {
    for (size_t i = 0; i < pieces.size(); ++i) {
      std::string out;
      const std::string& p = pieces[i];
      for (size_t pos = 0; pos < p.size();) {
        if (p.compare(pos, replacement_.size(), replacement_) == 0) {
          if (!(i == 0 && strip_first_)) out += ' ';
          pos += replacement_.size();
        } else {
          out += p[pos++];
        }
      }
      pieces[i] = std::move(out);
    }
  }

 private:
  std::string replacement_;
  bool strip_first_;
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(const nlohmann::json& config, const std::string& where)
      : pattern_(config.at("pattern"), where), content_(config.at("content").get<std::string>()) {}
  void decode_chain(std::vector<std::string>& pieces) const override {
    for (std::string& p : pieces) p = pattern_.replace_all(p, content_);
  }

 private:
  HfPattern pattern_;
  std::string content_;
};

// Runs of "<0xAB>" pieces become the bytes they name.
class ByteFallbackDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& pieces) const override {
    std::vector<std::string> out;
    std::string bytes;
    for (std::string& p : pieces) {
      if (const int b = byte_piece(p); b >= 0) {
        bytes += static_cast<char>(b);
        continue;
      }
      if (!bytes.empty()) out.push_back(std::move(bytes)), bytes.clear();
      out.push_back(std::move(p));
    }
    if (!bytes.empty()) out.push_back(std::move(bytes));
    pieces = std::move(out);
  }

 private:
  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  }
  static int byte_piece(const std::string& p) {
    if (p.size() != 6 || p.compare(0, 3, "<0x") != 0 || p[5] != '>') return -1;
    const int hi = hex(p[3]), lo = hex(p[4]);
    return (hi < 0 || lo < 0) ? -1 : hi * 16 + lo;
  }
};

class FuseDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& pieces) const override {
    std::string out;
    for (const std::string& p : pieces) out += p;
    pieces = {std::move(out)};
  }
};

// Removes up to `start` leading and `stop` trailing copies of `content` from each piece.
class StripDecoder : public Decoder {
 public:
  StripDecoder(const nlohmann::json& config, const std::string& where)
      : content_(config.at("content").get<std::string>()),
        start_(config.value("start", 0)),
        stop_(config.value("stop", 0)) {
    NIBBLE_CHECK(!content_.empty(), where, ": Strip decoder content is empty");
  }
  void decode_chain(std::vector<std::string>& pieces) const override {
    for (std::string& p : pieces) {
      size_t begin = 0, end = p.size();
      for (int i = 0; i < start_ && p.compare(begin, content_.size(), content_) == 0 && begin < end; ++i)
        begin += content_.size();
      for (int i = 0; i < stop_ && end >= begin + content_.size() &&
                      p.compare(end - content_.size(), content_.size(), content_) == 0;
           ++i)
        end -= content_.size();
      p = p.substr(begin, end - begin);
    }
  }

 private:
  std::string content_;
  int start_, stop_;
};

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> steps) : steps_(std::move(steps)) {}
  void decode_chain(std::vector<std::string>& pieces) const override {
    for (const auto& step : steps_) step->decode_chain(pieces);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

}  // namespace

std::unique_ptr<Decoder> make_decoder(const nlohmann::json& config, const std::string& where) {
  if (config.is_null()) return nullptr;
  NIBBLE_CHECK(config.is_object() && config.contains("type") && config["type"].is_string(), where,
               ": decoder must be an object with a \"type\"");
  const std::string type = config["type"].get<std::string>();
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Metaspace") return std::make_unique<MetaspaceDecoder>(config);
  if (type == "Replace") return std::make_unique<ReplaceDecoder>(config, where);
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip") return std::make_unique<StripDecoder>(config, where);
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> steps;
    for (const auto& step : config.at("decoders"))
      if (auto d = make_decoder(step, where)) steps.push_back(std::move(d));
    return std::make_unique<SequenceDecoder>(std::move(steps));
  }
  fail(where, ": decoder type \"", type,
       "\" is not supported (supported: ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, Sequence)");
}

}  // namespace nibble::tokenizer
