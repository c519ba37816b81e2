#!/usr/bin/env bash
# make bench: decode speed of a 1.1B-parameter Llama (nibble synth --shape 1b)
# in BF16 against this machine's memory bandwidth, at 1 thread and all
# threads. The two are measured in alternating rounds so that each ratio
# compares numbers taken moments apart: shared machines drift by 1.5x.
#
#   scripts/bench.sh [BUILD_DIR] [ROUNDS]
# Writes the synthetic model once to BUILD_DIR/bench-models/1b (2.2 GB).
set -euo pipefail
build=${1:-build}
rounds=${2:-3}
model=$build/bench-models/1b
[ -f "$model/config.json" ] || "$build/nibble" synth --shape 1b -o "$model"

echo "decode of $model (BF16) vs memory read bandwidth (bench/memory_bandwidth_bench BM_Read)"
for round in $(seq "$rounds"); do
  # "threads GB/s" per line, from the benchmark's JSON counters.
  bandwidth=$("$build/bench/memory_bandwidth_bench" --benchmark_filter='BM_Read' \
      --benchmark_min_time=0.5 --benchmark_format=json |
    awk -F'[:/,]' '/"name": "BM_Read/ { threads = $4 } /"GB\/s"/ { print threads, $NF + 0 }')
  speeds=$("$build/nibble" bench -m "$model" --prompt-tokens 64 --decode-tokens 64 --repeats 1 |
    awk '$1 ~ /^[0-9]+$/ { print $1, $3, $4 }')
  join <(echo "$bandwidth") <(echo "$speeds") | while read -r threads read_gbs tokens weight_gbs; do
    awk -v r="$round" -v t="$threads" -v bw="$read_gbs" -v tok="$tokens" -v w="$weight_gbs" 'BEGIN {
      printf "round %d, %d thread(s): read %.1f GB/s; decode %.2f tok/s = %.1f GB/s of weights = %.0f%% of it\n",
             r, t, bw, tok, w, 100 * w / bw }'
  done
done
