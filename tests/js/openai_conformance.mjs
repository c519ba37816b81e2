// `nibble serve` driven by the official `openai` npm client, as real users
// drive it (shared/specs/openai-api.md §8). Run by tests/serve/openai_conformance_test.cpp,
// which starts the server and passes it in the environment:
//   NIBBLE_BASE_URL  e.g. http://127.0.0.1:PORT  (no /v1)
//   NIBBLE_API_KEY   the key the server requires
//   NIBBLE_MODEL     the served model id
// By hand: node --test tests/js/openai_conformance.mjs (with those set).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import OpenAI from 'openai';

const base = process.env.NIBBLE_BASE_URL;
const key = process.env.NIBBLE_API_KEY;
const model = process.env.NIBBLE_MODEL;
if (!base || !key || !model) throw new Error('set NIBBLE_BASE_URL, NIBBLE_API_KEY and NIBBLE_MODEL');

const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0, timeout: 30000 });
const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` };

async function post(path, body) {
  const r = await fetch(`${base}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: r.status, body: await r.json() };
}

async function tokenCount(body) {
  const r = await post('/tokenize', body);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.count, r.body.tokens.length);
  return r.body.count;
}

async function collect(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

const messages = [
  { role: 'system', content: 'You are a scribe.' },
  { role: 'user', content: 'Who begat Enos?' },
];

test('models.list lists the served model', async () => {
  const page = await client.models.list();
  const ids = page.data.map((m) => m.id);
  assert.deepEqual(ids, [model]);
  assert.equal(page.data[0].object, 'model');
  assert.equal(page.data[0].owned_by, 'nibble');
});

test('completions.create: greedy text, usage matching /tokenize, finish_reason length', async () => {
  const prompt = 'In the beginning';
  const r = await client.completions.create({ model, prompt, max_tokens: 12, temperature: 0 });
  assert.equal(r.object, 'text_completion');
  assert.match(r.id, /^cmpl-/);
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.ok(r.choices[0].text.length > 0);
  assert.equal(r.usage.prompt_tokens, await tokenCount({ prompt }));
  assert.equal(r.usage.completion_tokens, 12);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + 12);
  // Twice the same; streamed the same.
  const again = await client.completions.create({ model, prompt, max_tokens: 12, temperature: 0 });
  assert.equal(again.choices[0].text, r.choices[0].text);
  const chunks = await collect(
    await client.completions.create({ model, prompt, max_tokens: 12, temperature: 0, stream: true }),
  );
  assert.equal(chunks.map((c) => c.choices[0]?.text ?? '').join(''), r.choices[0].text);
  assert.equal(chunks.at(-1).choices[0].finish_reason, 'length');
});

test('completions.create: token-id prompts, echo, logprobs, n > 1', async () => {
  const ids = (await post('/tokenize', { prompt: 'And God said' })).body.tokens;
  const byText = await client.completions.create({ model, prompt: 'And God said', max_tokens: 6, temperature: 0 });
  const byIds = await client.completions.create({ model, prompt: ids, max_tokens: 6, temperature: 0 });
  assert.equal(byIds.choices[0].text, byText.choices[0].text);
  assert.equal(byIds.usage.prompt_tokens, ids.length);

  const echoed = await client.completions.create({ model, prompt: 'And God said', max_tokens: 6, temperature: 0, echo: true });
  assert.equal(echoed.choices[0].text, 'And God said' + byText.choices[0].text);

  const lp = await client.completions.create({ model, prompt: 'And God said', max_tokens: 4, temperature: 0, logprobs: 3 });
  const l = lp.choices[0].logprobs;
  assert.equal(l.tokens.length, 4);
  assert.equal(l.token_logprobs.length, 4);
  assert.equal(l.top_logprobs.length, 4);
  for (let i = 0; i < 4; i++) {
    assert.ok(l.token_logprobs[i] <= 0);
    assert.equal(Object.keys(l.top_logprobs[i]).length, 3);
  }
  assert.equal(l.tokens.join(''), lp.choices[0].text); // greedy: the best token each time

  const two = await client.completions.create({ model, prompt: 'And God said', max_tokens: 5, n: 2, seed: 3 });
  assert.deepEqual(two.choices.map((c) => c.index), [0, 1]);
  assert.ok(two.usage.completion_tokens <= 10);
  if (two.choices.every((c) => c.finish_reason === 'length')) assert.equal(two.usage.completion_tokens, 10);
});

test('chat.completions.create: non-streaming and streaming agree; usage adds up', async () => {
  const r = await client.chat.completions.create({ model, messages, max_tokens: 16, temperature: 0 });
  assert.equal(r.object, 'chat.completion');
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(typeof r.choices[0].message.content, 'string');
  const promptTokens = await tokenCount({ messages });
  assert.equal(r.usage.prompt_tokens, promptTokens);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
  assert.equal(r.choices[0].finish_reason === 'length', r.usage.completion_tokens === 16);

  const stream = await client.chat.completions.create({
    model, messages, max_tokens: 16, temperature: 0, stream: true, stream_options: { include_usage: true },
  });
  const chunks = await collect(stream);
  assert.ok(chunks.length >= 3);
  const ids = new Set(chunks.map((c) => c.id));
  assert.equal(ids.size, 1);
  for (const c of chunks) assert.equal(c.object, 'chat.completion.chunk');
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  const usage = chunks.at(-1);
  assert.deepEqual(usage.choices, []);
  assert.deepEqual(usage.usage, r.usage);
  const content = chunks.slice(0, -1).map((c) => c.choices[0].delta.content ?? '').join('');
  assert.equal(content, r.choices[0].message.content);
  assert.equal(chunks.at(-2).choices[0].finish_reason, r.choices[0].finish_reason);

  // Without include_usage there is no usage chunk.
  const plain = await collect(await client.chat.completions.create({ model, messages, max_tokens: 4, temperature: 0, stream: true }));
  assert.ok(plain.every((c) => c.choices.length === 1 && !c.usage));
});

test('stop strings end generation and are not emitted', async () => {
  const prompt = 'And it came to pass';
  const full = (await client.completions.create({ model, prompt, max_tokens: 24, temperature: 0 })).choices[0].text;
  const words = full.trim().split(/\s+/);
  assert.ok(words.length >= 4, full);
  const stop = ' ' + words[2];
  const cut = full.slice(0, full.indexOf(stop));
  const r = await client.completions.create({ model, prompt, max_tokens: 24, temperature: 0, stop: [stop, 'zzzz'] });
  assert.equal(r.choices[0].text, cut);
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.ok(r.usage.completion_tokens < 24);
  const chunks = await collect(await client.completions.create({ model, prompt, max_tokens: 24, temperature: 0, stop, stream: true }));
  assert.equal(chunks.map((c) => c.choices[0]?.text ?? '').join(''), cut);
  assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
});

test('the same seed gives the same text at temperature 1', async () => {
  const ask = (seed) => client.chat.completions.create({ model, messages, max_tokens: 32, temperature: 1, top_p: 1, seed });
  // One at a time: each then runs alone in its batch, so the logits match exactly.
  const a = await ask(1234), b = await ask(1234), c = await ask(999);
  assert.equal(a.choices[0].message.content, b.choices[0].message.content);
  assert.notEqual(a.choices[0].message.content, c.choices[0].message.content);
});

test('a wrong or missing API key is 401 AuthenticationError; /health stays open', async () => {
  for (const apiKey of ['wrong-key', key + 'x']) {
    const bad = new OpenAI({ baseURL: `${base}/v1`, apiKey, maxRetries: 0 });
    await assert.rejects(bad.models.list(), (e) => {
      assert.ok(e instanceof OpenAI.AuthenticationError, String(e));
      assert.equal(e.status, 401);
      assert.equal(e.type, 'authentication_error');
      return true;
    });
  }
  const none = await fetch(`${base}/v1/models`);
  assert.equal(none.status, 401);
  assert.equal(typeof (await none.json()).error.message, 'string');
  const health = await fetch(`${base}/health`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok' });
});

test('bad parameters are 400 BadRequestError naming the parameter', async () => {
  const cases = [
    [{ messages, temperature: -1 }, 'temperature'],
    [{ messages, temperature: 'hot' }, 'temperature'],
    [{ messages, top_p: 1.5 }, 'top_p'],
    [{ messages, top_p: 0 }, 'top_p'],
    [{ messages, max_tokens: -5 }, 'max_tokens'],
    [{ messages, max_tokens: 1e30 }, 'max_tokens'],
    [{ messages, max_tokens: 100000 }, 'max_tokens'],
    [{ messages, n: 0 }, 'n'],
    [{ messages, presence_penalty: 3 }, 'presence_penalty'],
    [{ messages, stop: 42 }, 'stop'],
    [{ messages, seed: 'abc' }, 'seed'],
    [{ messages, stream_options: { include_usage: true } }, 'stream_options'],
    [{ messages, top_logprobs: 3 }, 'top_logprobs'],
    [{ messages, logit_bias: { abc: 1 } }, 'logit_bias'],
    [{ messages: [] }, 'messages'],
    [{ messages: [{ role: 'wizard', content: 'hi' }] }, 'messages'],
    [{ messages: [{ role: 'user', content: 7 }] }, 'messages'],
    [{ messages: [{ role: 'user', content: 'In the beginning '.repeat(200) }] }, 'messages'],
  ];
  for (const [body, param] of cases) {
    await assert.rejects(client.chat.completions.create({ model, ...body }), (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, `${JSON.stringify(body).slice(0, 100)}: ${e}`);
      assert.equal(e.status, 400);
      assert.ok(e.param?.startsWith(param), `param ${e.param}: ${e.message}`);
      assert.ok(e.message.includes(param), e.message);
      return true;
    });
  }
  await assert.rejects(client.completions.create({ model, prompt: [] }), OpenAI.BadRequestError);
  await assert.rejects(client.completions.create({ model, prompt: [1, 999999] }), OpenAI.BadRequestError);
  await assert.rejects(client.completions.create({ model: 'no-such-model', prompt: 'hi' }), (e) => {
    assert.ok(e instanceof OpenAI.NotFoundError, String(e));
    assert.match(e.message, /no-such-model/);
    return true;
  });
});

test('/tokenize and /detokenize round-trip in both dialects', async () => {
  const text = 'And God said, Let there be light: and there was light.';
  const vllm = await post('/tokenize', { prompt: text });
  const llamacpp = await post('/tokenize', { content: text });
  assert.equal(vllm.status, 200);
  assert.equal(llamacpp.status, 200);
  assert.equal(vllm.body.tokens.length, llamacpp.body.tokens.length + 1); // BOS by default only for prompt
  assert.equal(vllm.body.max_model_len > 0, true);
  for (const tokens of [vllm.body.tokens, llamacpp.body.tokens]) {
    const d = await post('/detokenize', { tokens });
    assert.equal(d.status, 200);
    assert.equal(d.body.prompt, text);
    assert.equal(d.body.content, text);
  }
  const pieces = await post('/tokenize', { content: 'light', with_pieces: true });
  assert.ok(pieces.body.tokens.every((t) => typeof t.id === 'number' && typeof t.piece === 'string'));
});

test('aborting a stream frees its sequence', async () => {
  const stream = await client.completions.create({
    model, prompt: 'In the beginning', max_tokens: 400, temperature: 1, ignore_eos: true, stream: true,
  });
  let n = 0;
  for await (const chunk of stream) {
    if (++n === 3) break; // leaving the loop aborts the request
  }
  const deadline = Date.now() + 10000;
  let running = -1;
  while (Date.now() < deadline) {
    const text = await (await fetch(`${base}/metrics`)).text();
    running = Number(/^nibble:num_requests_running\{[^}]*\} (\d+)/m.exec(text)[1]);
    if (running === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(running, 0);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /nibble:request_success_total\{[^}]*finished_reason="abort"\} [1-9]/);
  assert.match(metrics, /nibble:time_to_first_token_seconds_count\{[^}]*\} [1-9]/);
  assert.match(metrics, /nibble:http_requests_total\{[^}]*endpoint="\/v1\/chat\/completions",status="200"\} [1-9]/);
});
