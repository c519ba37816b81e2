// Greedy continuations by llama.cpp itself (node-llama-cpp's prebuilt CPU
// binaries, no download or build): for each GGUF file given, each prompt of
// the reference file is evaluated from its token ids and N tokens are
// decoded with temperature 0. Prints {"<file>": [[ids...], ...], ...}.
//
//   node llama_cpp_greedy.mjs reference.json 48 a.gguf b.gguf
import {readFileSync} from "node:fs";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [referencePath, count, ...models] = process.argv.slice(2);
const prompts = JSON.parse(readFileSync(referencePath, "utf8")).prompts.map((p) => p.prompt_ids);
const steps = Number(count);

const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
const result = {};
for (const modelPath of models) {
  const model = await llama.loadModel({modelPath});
  const context = await model.createContext({contextSize: 512, batchSize: 512, threads: 1});
  result[modelPath] = [];
  for (const ids of prompts) {
    const sequence = context.getSequence();
    const out = [];
    for await (const token of sequence.evaluate(ids, {temperature: 0})) {
      out.push(Number(token));
      if (out.length >= steps) break;
    }
    result[modelPath].push(out);
    sequence.dispose();
  }
  await context.dispose();
  await model.dispose();
}
console.log(JSON.stringify(result));
