#!/usr/bin/env bash
# laminar vs PyTorch, side by side, in one command on the GPU machine (see docs/benchmarks.md).
# From the project root, after bench/pack_gpu.sh has written .gpu/ (with node_modules.tar.xz):
#   bash bench/gpu_run.sh [out-dir]          (out-dir default: $OUT, else bench/results)
# Extra arguments for `deno task bench` go in BENCH_ARGS (e.g. BENCH_ARGS="--filter forward").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT_DIR=${1:-${OUT:-bench/results}}
mkdir -p "$OUT_DIR"
[ -d node_modules ] || tar -xJf .gpu/node_modules.tar.xz
# shellcheck disable=SC1091
source .gpu/enter.sh
export DENO_WEBGPU_BACKEND=vulkan

# shellcheck disable=SC2086
deno task bench --suite gpu --tune --out "$OUT_DIR" ${BENCH_ARGS:-} | tee "$OUT_DIR/laminar.md"
LAMINAR_JSON=$(ls -t "$OUT_DIR"/gpu-*.json | grep -v "\.partial\.json$" | head -n 1)

python3 bench/torch_baseline.py --cases "$LAMINAR_JSON" --out "$OUT_DIR/torch.json"

BASELINE=()
for b in shared/baselines/h100-pytorch.json ../shared/baselines/h100-pytorch.json; do
  if [ -f "$b" ]; then BASELINE=(--baseline "$b"); break; fi
done
deno run -A bench/compare.ts --laminar "$LAMINAR_JSON" --torch "$OUT_DIR/torch.json" \
  "${BASELINE[@]}" --out "$OUT_DIR/compare.md"
