// Which ids encode(text, add_special=true) puts around the text, and which
// ids are BOS and EOS, from tokenizer_config.json and tokenizer.json's
// post_processor:
// - tokenizer_config's add_bos_token / add_eos_token decide when present, with
//   bos_token / eos_token (a string or an {"content": ...} object);
// - otherwise the post_processor's single-sequence template decides
//   (TemplateProcessing, RobertaProcessing, BertProcessing, ByteLevel adds
//   nothing, Sequence nests them).
// BOS/EOS ids come from tokenizer_config when it names them, else from the
// template's first / last special token.
#pragma once

#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace nibble::tokenizer {

struct SpecialTokenPlan {
  std::vector<int> prefix;  // before the text
  std::vector<int> suffix;  // after the text
  int bos_id = -1;
  int eos_id = -1;
};

// `piece_to_id` resolves a token's text (-1 if absent); `where` names the file in errors.
SpecialTokenPlan plan_special_tokens(const nlohmann::json& post_processor, const nlohmann::json& tokenizer_config,
                                     const std::function<int(std::string_view)>& piece_to_id,
                                     const std::string& where);

}  // namespace nibble::tokenizer
