// Tokenizes strings with llama.cpp itself (node-llama-cpp's prebuilt binaries),
// loading only the vocabulary of a GGUF file.
// Usage: node llama_cpp_tokenize.mjs MODEL.gguf IN.json OUT.json
//   IN.json: a JSON array of strings. OUT.json: for each string
//   {"ids": [...], "text": detokenized ids}; special-token text is parsed, no BOS added.
import { readFileSync, writeFileSync } from "node:fs";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

const [modelPath, inPath, outPath] = process.argv.slice(2);
const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error, build: "never" });
const model = await llama.loadModel({ modelPath, vocabOnly: true });
const strings = JSON.parse(readFileSync(inPath, "utf8"));
const out = strings.map((s) => {
  const ids = Array.from(model.tokenize(s, true));
  return { ids, text: model.detokenize(ids) };
});
writeFileSync(outPath, JSON.stringify(out));
await model.dispose();
await llama.dispose();
