#include "cli/model_loading.h"

#include <chrono>

#include "core/error.h"
#include "core/parallel.h"
#include "formats/gguf_linear_loader.h"
#include "formats/bnb_checkpoint.h"
#include "formats/linear_loaders.h"
#include "tokenizer/load_tokenizer.h"

namespace nibble::cli {

namespace {

// --load-in-8bit / --load-in-4bit: quantize the dense linears while loading.
model::LinearLoader linear_loader(const io::ModelSource& source, const RunOptions& o) {
  NIBBLE_CHECK(!(o.load_in_8bit && o.load_in_4bit), "--load-in-8bit and --load-in-4bit exclude each other");
  NIBBLE_CHECK(o.load_in_4bit || (!o.double_quant && o.bnb_4bit_quant_type == "nf4"),
               "--double-quant and --bnb-4bit-quant-type need --load-in-4bit");
  if (!o.load_in_8bit && !o.load_in_4bit) return formats::linear_loader_for(source);
  NIBBLE_CHECK(!source.config.raw.is_object() || !source.config.raw.contains("quantization_config"),
               source.path, ": already quantized; --load-in-8bit/--load-in-4bit need a dense checkpoint");
  formats::BnbOptions b;
  b.four_bit = o.load_in_4bit;
  b.type = quant::four_bit_type_from_name(o.bnb_4bit_quant_type);
  b.double_quant = o.double_quant;
  return formats::bnb_quantizing_loader(b);
}

}  // namespace

LoadedModel load_model(const std::string& path, bool with_tokenizer, const RunOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  LoadedModel m;
  m.source = io::open_model(path);
  formats::dequantize_gguf_embedding(m.source);
  m.model = std::make_unique<model::LlamaModel>(m.source.config, m.source.weights,
                                                linear_loader(m.source, options));
  if (with_tokenizer) {
    m.tokenizer = tokenizer::load_tokenizer(m.source);
    NIBBLE_CHECK(m.tokenizer->vocab_size() <= m.source.config.vocab_size, path, ": the tokenizer has ",
                 m.tokenizer->vocab_size(), " tokens but the model only ", m.source.config.vocab_size);
  }
  m.load_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return m;
}

void add_run_options(CLI::App& verb, RunOptions& o) {
  verb.add_option("-m,--model", o.model, "model directory (Hugging Face), .gguf file or llama2.c .bin file")
      ->required();
  verb.add_option("-t,--threads", o.threads, "threads (default: all cores)")
      ->check(CLI::Range(0, 1024));
  verb.add_flag("--load-in-8bit", o.load_in_8bit,
                "quantize the decoder linears to LLM.int8 while loading (outlier threshold 6)");
  verb.add_flag("--load-in-4bit", o.load_in_4bit,
                "quantize the decoder linears to 4 bits (blocks of 64) while loading");
  verb.add_option("--bnb-4bit-quant-type", o.bnb_4bit_quant_type, "4-bit code book: nf4 or fp4")
      ->check(CLI::IsMember({"nf4", "fp4"}));
  verb.add_flag("--double-quant", o.double_quant, "4-bit: quantize the absmax values too (8 bits)");
}

void apply_run_options(const RunOptions& o) { set_num_threads(o.threads); }

}  // namespace nibble::cli
