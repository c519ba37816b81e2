#!/usr/bin/env bash
# The README's first command (make demo): on the bundled model, measure
# perplexity in BF16, quantize with GPTQ 4-bit, measure again, compare sizes
# and tell a story with the quantized model.
set -euo pipefail
nibble=${1:-build/nibble}
model=${2:-testdata/kjv-llama-4m}
out=${DEMO_OUT:-build/demo/kjv-gptq-w4g128}
eval_text=testdata/kjv/eval.txt

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

mkdir -p "$(dirname "$out")"

step "The model"
"$nibble" inspect --no-tensors "$model"

step "Perplexity of the BF16 model on held-out text ($eval_text)"
"$nibble" ppl -m "$model" -f "$eval_text" --ctx 256 | tail -n 1 | tee "$(dirname "$out")/bf16-ppl.txt"

step "Quantize with GPTQ, 4 bits, groups of 128"
rm -rf "$out"
"$nibble" quantize -m "$model" --method gptq --bits 4 --group-size 128 -o "$out"

step "Perplexity of the quantized model"
"$nibble" ppl -m "$out" -f "$eval_text" --ctx 256 | tail -n 1 | tee "$(dirname "$out")/gptq-ppl.txt"

step "Sizes"
du -sh --apparent-size "$model/model.safetensors" "$out"/*.safetensors

step "A story from the quantized model"
"$nibble" generate -m "$out" -p "And it came to pass, when the king" -n 120 --temp 0.7 --seed 3
