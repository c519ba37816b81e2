// Continuous-batching throughput of nibble serve: aggregate decode tokens/s
// with 1 stream and with N concurrent streams (default 8), each a greedy
// completion of TOKENS tokens (end-of-text ignored), through the official
// `openai` client. Starts its own server:
//
//   node tests/js/serve_bench.mjs <nibble binary> <model dir> [threads] [streams] [tokens]
//   e.g. node tests/js/serve_bench.mjs build/nibble testdata/kjv-llama-4m 2 8 256
//
// Tokens/s of a round = generated tokens of all streams / wall time of the
// round (prompts are ~10 tokens, so this is decode speed). For a larger,
// memory-bound model: `nibble synth --shape 160m -o DIR`, then copy the
// bundled model's tokenizer.model and tokenizer_config.json into DIR.
import { spawn } from 'node:child_process';
import OpenAI from 'openai';

const [cli, modelDir, threads = '2', streamsArg = '8', tokensArg = '256'] = process.argv.slice(2);
if (!cli || !modelDir) {
  console.error('usage: node serve_bench.mjs <nibble binary> <model dir> [threads] [streams] [tokens]');
  process.exit(2);
}
const streams = Number(streamsArg), tokens = Number(tokensArg);

const server = spawn(cli, ['serve', '-m', modelDir, '--port', '0', '-t', threads,
  '--max-batch', String(Math.max(streams, 1)), '--served-model-name', 'bench'], { stdio: ['ignore', 'ignore', 'pipe'] });
const port = await new Promise((resolve, reject) => {
  let log = '';
  server.stderr.on('data', (d) => {
    log += d;
    const m = /on http:\/\/127\.0\.0\.1:(\d+)\/v1/.exec(log);
    if (m) resolve(Number(m[1]));
  });
  server.on('exit', (code) => reject(new Error(`nibble serve exited (${code}):\n${log}`)));
});
const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'none', maxRetries: 0 });

async function stream(i) {
  const s = await client.completions.create({
    model: 'bench', prompt: `And it came to pass in the ${i + 1}th year`, max_tokens: tokens,
    temperature: 0, ignore_eos: true, stream: true, stream_options: { include_usage: true },
  });
  let usage = null;
  for await (const chunk of s) if (chunk.usage) usage = chunk.usage;
  return { end: performance.now(), tokens: usage.completion_tokens };
}

// Generated tokens per second of wall time over a round of n concurrent
// streams (the prompts are ~10 tokens: the time is decoding).
async function round(n) {
  const start = performance.now();
  const results = await Promise.all(Array.from({ length: n }, (_, i) => stream(i)));
  const end = Math.max(...results.map((r) => r.end));
  return results.reduce((sum, r) => sum + r.tokens, 0) / ((end - start) / 1000);
}

try {
  await round(1); // warm-up
  const single = Math.max(await round(1), await round(1));
  const batched = Math.max(await round(streams), await round(streams));
  console.log(`threads ${threads}, ${tokens} tokens per stream`);
  console.log(`1 stream:  ${single.toFixed(1)} tokens/s`);
  console.log(`${streams} streams: ${batched.toFixed(1)} tokens/s aggregate (${(batched / single).toFixed(2)}x)`);
} finally {
  server.kill('SIGTERM');
}
