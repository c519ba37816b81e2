// Load on nibble serve through the official `openai` client: CLIENTS
// concurrent clients each make REQUESTS streaming chat/completion requests
// in a row; every stream must end with a finish_reason, usage and no error.
// Run by tests/serve/serve_load_test.cpp with NIBBLE_BASE_URL, NIBBLE_MODEL
// (and optionally NIBBLE_CLIENTS, NIBBLE_REQUESTS) set.
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const base = process.env.NIBBLE_BASE_URL;
const model = process.env.NIBBLE_MODEL;
const clients = Number(process.env.NIBBLE_CLIENTS ?? 32);
const requests = Number(process.env.NIBBLE_REQUESTS ?? 5);
if (!base || !model) throw new Error('set NIBBLE_BASE_URL and NIBBLE_MODEL');

const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'none', maxRetries: 0, timeout: 120000 });

async function one(c, r) {
  const chat = (c + r) % 2 === 0;
  const max_tokens = 8 + ((c * 7 + r * 3) % 17);
  const params = { model, max_tokens, temperature: 1, seed: c * 100 + r, stream: true, stream_options: { include_usage: true } };
  const stream = chat
    ? await client.chat.completions.create({ ...params, messages: [{ role: 'user', content: `Tell of the tribe number ${c}.` }] })
    : await client.completions.create({ ...params, prompt: `And in the ${r}th year of ${c}` });
  let finish = null, usage = null, text = '';
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      text += chat ? (choice.delta.content ?? '') : choice.text;
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  assert.ok(finish === 'stop' || finish === 'length', `client ${c} request ${r}: finish ${finish}`);
  assert.ok(usage && usage.completion_tokens >= 1 && usage.completion_tokens <= max_tokens, JSON.stringify(usage));
  assert.equal(finish === 'length', usage.completion_tokens === max_tokens);
  return usage.completion_tokens;
}

const start = performance.now();
let tokens = 0, done = 0;
await Promise.all(
  Array.from({ length: clients }, async (_, c) => {
    for (let r = 0; r < requests; r++) {
      tokens += await one(c, r);
      done++;
    }
  }),
);
const seconds = (performance.now() - start) / 1000;
assert.equal(done, clients * requests);
console.log(`load: ${done} streaming requests from ${clients} clients, ${tokens} tokens in ${seconds.toFixed(2)} s`);
