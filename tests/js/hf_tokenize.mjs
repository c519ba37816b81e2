// Encodes and decodes strings with @huggingface/tokenizers, the JavaScript
// port of Hugging Face's tokenizers, as the oracle for nibble's tokenizer.json
// support. Also normalizes strings with the JS runtime
// (String.prototype.normalize), the oracle for nibble's NFC/NFD.
//
// Usage: node hf_tokenize.mjs <dir with tokenizer.json + tokenizer_config.json> <strings.json> <out.json>
//        node hf_tokenize.mjs --normalize <strings.json> <out.json>
// Input:  a JSON array of strings.
// Output: tokenizer mode: a JSON array, one entry per string:
//           {"ids": [...] (no special tokens added), "ids_special": [...] (add_special_tokens),
//            "text": decode(ids, skip_special_tokens, no clean-up of spaces)}
//         --normalize mode: a JSON array of {"nfc": ..., "nfd": ...}.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";

const [mode, inputPath, outputPath] = process.argv.slice(2);
const strings = JSON.parse(readFileSync(inputPath, "utf8"));
let results;
if (mode === "--normalize") {
  results = strings.map((s) => ({ nfc: s.normalize("NFC"), nfd: s.normalize("NFD") }));
} else {
  const json = JSON.parse(readFileSync(join(mode, "tokenizer.json"), "utf8"));
  const config = JSON.parse(readFileSync(join(mode, "tokenizer_config.json"), "utf8"));
  const tokenizer = new Tokenizer(json, config);
  results = strings.map((s) => {
    const ids = tokenizer.encode(s, { add_special_tokens: false }).ids;
    return {
      ids,
      ids_special: tokenizer.encode(s, { add_special_tokens: true }).ids,
      text: ids.length ? tokenizer.decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false }) : "",
    };
  });
}
writeFileSync(outputPath, JSON.stringify(results));
