#!/usr/bin/env bash
# The performance benchmarks on one CUDA GPU in bf16, within 10 minutes: peers at the paper's echo and
# CT configurations (with torch.compile), token scaling to 16k tokens at ViT-Small width.
# Usage: benchmarks/gpu.sh [peak bf16 TFLOP/s of the device, default 989 = H100 SXM dense] [output folder]
set -euo pipefail
peak=${1:-989}
out=${2:-benchmark_results}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$out/device.txt"
python benchmarks/bench_networks.py --device cuda --bf16 --steps 10 --warmup 3 --configs echo ct unetr \
    --compile --peak-tflops "$peak" --json "$out/networks_bf16.json" | tee "$out/networks_bf16.txt"
python benchmarks/bench_token_scaling.py --device cuda --bf16 --hidden 384 --layers 8 --heads 8 --steps 5 \
    --max-tokens-unfused 16384 --json "$out/token_scaling_bf16.json" --figure "$out/token_scaling_bf16.png" \
    | tee "$out/token_scaling_bf16.txt"
