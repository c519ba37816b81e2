// Renders chat templates with @huggingface/jinja, the engine the Hugging Face
// Hub uses, as the oracle for nibble's Jinja interpreter.
//
// Usage: node render_chat_template.mjs [jobs.json [results.json]]
//        (reads stdin without jobs.json, writes stdout without results.json)
// Input:  {"jobs": [{"template": str, "messages": [...], "add_generation_prompt": bool,
//                    "bos_token": str, "eos_token": str, "extra": {...}}]}
// Output: a JSON array, one entry per job: {"ok": true, "text": str} or {"ok": false, "error": str}.
import { readFileSync, writeFileSync } from "node:fs";
import { Template } from "@huggingface/jinja";

const input = JSON.parse(readFileSync(process.argv[2] ?? 0, "utf8"));
const parsed = new Map();
const results = input.jobs.map((job) => {
  try {
    let template = parsed.get(job.template);
    if (!template) {
      template = new Template(job.template);
      parsed.set(job.template, template);
    }
    const text = template.render({
      ...(job.extra ?? {}),
      messages: job.messages,
      add_generation_prompt: job.add_generation_prompt,
      bos_token: job.bos_token,
      eos_token: job.eos_token,
    });
    return { ok: true, text };
  } catch (err) {
    return { ok: false, error: String(err && err.message ? err.message : err) };
  }
});
const output = JSON.stringify(results);
if (process.argv[3]) {
  writeFileSync(process.argv[3], output);
} else {
  process.stdout.write(output);
}
