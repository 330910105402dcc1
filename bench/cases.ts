/**
 * The benchmark cases of both suites. The "gpu" suite runs the real GPT-2 shapes (and is what
 * bench/torch_baseline.py mirrors, reading `kind` and `params` from the results JSON); the
 * "cpu" suite runs small shapes that finish in minutes on lavapipe.
 * @module
 */

import type { Gpu } from "../src/gpu/context.ts";
import { type Gpt2Config, parseGpt2Config } from "../src/io/config.ts";
import { Gpt2Model } from "../src/model/gpt2.ts";
import {
  attention,
  layerNorm,
  logSoftmax,
  matmul,
  type MatmulVariant,
  tokenStats,
} from "../src/tensor/ops.ts";
import { Tensor } from "../src/tensor/tensor.ts";
import { pairwiseCosine, pairwiseMiCov } from "../src/pairwise/mod.ts";
import { heatmap, HEATMAP_DEFAULT_TEXT } from "../src/analysis/heatmap.ts";
import type { BenchCase, Prepared, Recorded, Suite } from "./harness.ts";

/** Deterministic pseudo-random floats, uniform in [-scale, scale) (xorshift32). */
export function randomFloats(n: number, seed: number, scale = 1): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13, s >>>= 0, s ^= s >>> 17, s ^= s << 5, s >>>= 0;
    out[i] = (s / 2147483648 - 1) * scale;
  }
  return out;
}

/** Hidden-state-like vectors: roughly normal, with a few large outliers per vector. */
function hiddenLike(n: number, seed: number): Float32Array {
  const a = randomFloats(n, seed);
  const b = randomFloats(n, seed + 7);
  const c = randomFloats(n, seed + 13);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (a[i] + b[i] + c[i]) * (i % 97 === 0 ? 12 : 1);
  return out;
}

/** The first `bytes` of a tensor (a cheap readback that still waits for the work). */
function head(t: Tensor, bytes = 4096) {
  return { ...t.range, size: Math.min(t.range.size, bytes) };
}

/** GPT-2 configurations by Hugging Face name (the real shapes; random weights). */
export const GPT2_SHAPES: Record<string, { nLayer: number; nHead: number; nEmbd: number }> = {
  "gpt2": { nLayer: 12, nHead: 12, nEmbd: 768 },
  "gpt2-medium": { nLayer: 24, nHead: 16, nEmbd: 1024 },
  "gpt2-large": { nLayer: 36, nHead: 20, nEmbd: 1280 },
  "gpt2-xl": { nLayer: 48, nHead: 25, nEmbd: 1600 },
};

/** A GPT-2 config of a named size, optionally with fewer layers. */
export function gpt2Config(name: string, nLayer?: number): Gpt2Config {
  const s = GPT2_SHAPES[name];
  if (!s) throw new Error(`Unknown GPT-2 size "${name}"`);
  return parseGpt2Config({
    model_type: "gpt2",
    n_layer: nLayer ?? s.nLayer,
    n_head: s.nHead,
    n_embd: s.nEmbd,
    n_positions: 1024,
    vocab_size: 50257,
  }, `${name} (random weights)`);
}

function matmulCase(
  suites: Suite[],
  M: number,
  K: number,
  N: number,
  opts: {
    transB?: boolean;
    label?: string;
    variant?: Exclude<MatmulVariant, "auto">;
    /** Store B as packed f16 (`Tensor.fromF16`); params.weights = "f16". */
    weights?: "f16";
  } = {},
): BenchCase {
  const transB = opts.transB ?? false;
  const f16 = opts.weights === "f16";
  const v = opts.variant ? ` [${opts.variant}]` : "";
  return {
    name: `matmul ${M}x${K}x${N}${transB ? " (B^T)" : ""}${opts.label ? ` ${opts.label}` : ""}${
      f16 ? " f16-B" : ""
    }${v}`,
    group: "kernel",
    kind: "matmul",
    suites,
    params: {
      M,
      K,
      N,
      transB,
      variant: opts.variant ?? "auto",
      ...(f16 ? { weights: "f16" } : {}),
    },
    flops: 2 * M * K * N,
    bytes: 4 * (M * K + M * N) + (f16 ? 2 : 4) * K * N,
    baselineKey: M === 4096 && K === 4096 && N === 4096 && !f16
      ? "torch_fp32_sgemm_4096_tflops"
      : undefined,
    setup(gpu) {
      const x = Tensor.from(gpu, randomFloats(M * K, 1), [M, K]);
      const wData = randomFloats(K * N, 2, 0.05);
      const wShape = transB ? [N, K] : [K, N];
      const w = f16 ? Tensor.fromF16(gpu, wData, wShape) : Tensor.from(gpu, wData, wShape);
      const out = Tensor.empty(gpu, [M, N]);
      return Promise.resolve({
        record: () => {
          matmul(x, w, { transposeW: transB, out, variant: opts.variant });
          return { read: [head(out)] };
        },
        dispose: () => [x, w, out].forEach((t) => t.dispose()),
      });
    },
  };
}

function attentionCase(
  suites: Suite[],
  model: string,
  B: number,
  T: number,
  variant?: "row" | "flash",
): BenchCase {
  const { nHead: H, nEmbd: D } = GPT2_SHAPES[model];
  return {
    name: `attention ${model} B${B}xT${T}${variant ? ` [${variant}]` : ""}`,
    group: "kernel",
    kind: "attention",
    suites,
    params: { B, T, H, D, variant: variant ?? "auto" },
    flops: 2 * B * H * T * T * (D / H), // QK^T and PV, causal half
    bytes: 4 * (B * T * 3 * D + B * T * D),
    setup(gpu) {
      const qkv = Tensor.from(gpu, randomFloats(B * T * 3 * D, 3), [B, T, 3 * D]);
      const out = Tensor.empty(gpu, [B, T, D]);
      return Promise.resolve({
        record: () => {
          attention(qkv, { heads: H, out, variant });
          return { read: [head(out)] };
        },
        dispose: () => [qkv, out].forEach((t) => t.dispose()),
      });
    },
  };
}

function layerNormCase(suites: Suite[], rows: number, D: number): BenchCase {
  return {
    name: `layer_norm ${rows}x${D}`,
    group: "kernel",
    kind: "layer_norm",
    suites,
    params: { rows, D },
    flops: 8 * rows * D,
    bytes: 8 * rows * D,
    setup(gpu) {
      const x = Tensor.from(gpu, randomFloats(rows * D, 4), [rows, D]);
      const g = Tensor.from(gpu, new Float32Array(D).fill(1), [D]);
      const b = Tensor.from(gpu, new Float32Array(D), [D]);
      const out = Tensor.empty(gpu, [rows, D]);
      return Promise.resolve({
        record: () => {
          layerNorm(x, g, b, { out });
          return { read: [head(out)] };
        },
        dispose: () => [x, g, b, out].forEach((t) => t.dispose()),
      });
    },
  };
}

function softmaxCase(suites: Suite[], rows: number, V: number, stats: boolean): BenchCase {
  return {
    name: `${stats ? "token_stats" : "log_softmax"} ${rows}x${V}`,
    group: "kernel",
    kind: stats ? "token_stats" : "log_softmax",
    suites,
    params: { rows, V },
    flops: (stats ? 6 : 5) * rows * V,
    bytes: (stats ? 4 : 8) * rows * V,
    setup(gpu) {
      const x = Tensor.from(gpu, randomFloats(rows * V, 5, 8), [rows, V]);
      const targets = Tensor.from(
        gpu,
        Uint32Array.from({ length: rows }, (_, i) => (i * 7919) % V),
      );
      const out = Tensor.empty(gpu, stats ? [rows, 5] : [rows, V]);
      return Promise.resolve({
        record: () => {
          if (stats) tokenStats(x, targets, { out });
          else logSoftmax(x, { out });
          return { read: [head(out)] };
        },
        dispose: () => [x, targets, out].forEach((t) => t.dispose()),
      });
    },
  };
}

function pairwiseCase(
  suites: Suite[],
  metric: "mi_cov" | "cosine",
  L: number,
  N: number,
  D: number,
  opts: {
    groups?: number;
    group?: "kernel" | "e2e";
    baselineKey?: string;
    maxRepeat?: number;
    /** MI kernels (src/pairwise/mi_kernels.ts); default "prebinned". */
    algorithm?: "prebinned" | "direct";
  } = {},
): BenchCase {
  const groups = opts.groups ?? 1;
  const label = metric === "mi_cov" ? "mi+cov" : "cosine";
  const algorithm = opts.algorithm ?? "prebinned";
  return {
    name: `pairwise ${label} ${L}x${N}x${D}${groups > 1 ? ` x${groups} groups` : ""}${
      opts.algorithm ? ` [${algorithm}]` : ""
    }`,
    group: opts.group ?? "kernel",
    kind: metric === "mi_cov" ? "pairwise_mi_cov" : "pairwise_cosine",
    suites,
    params: {
      L,
      N,
      D,
      groups,
      bins: 15,
      outlierZ: metric === "mi_cov" ? 5 : 0,
      ...(metric === "mi_cov" ? { algorithm } : {}),
    },
    flops: metric === "cosine" ? groups * 2 * L * N * N * D : undefined,
    baselineKey: opts.baselineKey,
    maxRepeat: opts.maxRepeat,
    setup(gpu) {
      const stacks = Array.from(
        { length: groups },
        (_, g) => Tensor.from(gpu, hiddenLike(L * N * D, 11 + g), [L, N, D]),
      );
      return Promise.resolve({
        record: (): Recorded => {
          const outs: Tensor[] = [];
          for (const h of stacks) {
            if (metric === "cosine") outs.push(pairwiseCosine(h));
            else {
              const { mi, cov } = pairwiseMiCov(h, { bins: 15, outlierZ: 5, algorithm });
              outs.push(mi, cov);
            }
          }
          return {
            read: opts.group === "e2e" ? outs.map((t) => t.range) : [head(outs[0])],
            dispose: () => outs.forEach((t) => t.dispose()),
          };
        },
        dispose: () => stacks.forEach((t) => t.dispose()),
      });
    },
  };
}

/**
 * The last model built, kept for the next case with the same weights (random gpt2-large weights
 * take seconds to generate; consecutive cases share them). Replacing it frees the old one.
 */
let cachedModel: { key: string; gpu: Gpu; model: Gpt2Model } | null = null;

async function sharedModel(gpu: Gpu, key: string, make: () => Promise<Gpt2Model>) {
  if (cachedModel?.key === key && cachedModel.gpu === gpu) return cachedModel.model;
  cachedModel?.model.dispose();
  cachedModel = null;
  const model = await make();
  cachedModel = { key, gpu, model };
  return model;
}

function randomIds(B: number, T: number, V: number, seed: number): number[][] {
  const r = randomFloats(B * T, seed);
  return Array.from(
    { length: B },
    (_, b) => Array.from({ length: T }, (_, t) => Math.floor((r[b * T + t] * 0.5 + 0.5) * V) % V),
  );
}

function forwardFlops(cfg: Gpt2Config, B: number, T: number): number {
  const { nLayer: L, nEmbd: D, nInner: F } = cfg;
  const dense = 2 * B * T * L * (3 * D * D + D * D + 2 * D * F);
  const attn = 2 * B * L * T * T * D; // QK^T + PV, causal half
  return dense + attn;
}

/**
 * A forward pass returning HF hidden states (no unembedding: nothing asks for logits).
 * `weights: "f16"` stores the big matrices as halves (params.weights = "f16"; the PyTorch
 * baseline runs those cases with fp32 weights).
 */
function forwardCase(
  suites: Suite[],
  model: string,
  B: number,
  T: number,
  opts: { layers?: number; logits?: boolean; weights?: "f16" } = {},
): BenchCase {
  const shipped = model === "sotu-gpt2-mini";
  const reduced = opts.layers !== undefined;
  const f16 = opts.weights === "f16";
  const label = reduced ? `${model}-${opts.layers}L` : model;
  const baselineKey = !reduced && !shipped && !opts.logits && !f16
    ? `torch_fp32_${model}_B${B}_T${T}`
    : undefined;
  const cfgForFlops = shipped ? undefined : gpt2Config(model, opts.layers);
  return {
    name: `forward ${label} B${B}xT${T}${opts.logits ? " +logits" : ""}${f16 ? " f16" : ""}`,
    group: "e2e",
    kind: "gpt2_forward",
    suites,
    params: {
      model: shipped ? "models/sotu-gpt2-mini" : model,
      nLayer: cfgForFlops?.nLayer ?? 6,
      nHead: cfgForFlops?.nHead ?? 4,
      nEmbd: cfgForFlops?.nEmbd ?? 128,
      B,
      T,
      hiddenStates: true,
      logits: opts.logits ?? false,
      ...(f16 ? { weights: "f16" } : {}),
    },
    flops: cfgForFlops ? forwardFlops(cfgForFlops, B, T) : undefined,
    baselineKey,
    async setup(gpu: Gpu): Promise<Prepared> {
      const weights = f16 ? "f16" : "f32";
      const m = await sharedModel(
        gpu,
        `${shipped ? "sotu-gpt2-mini" : label} ${weights}`,
        async () =>
          shipped
            ? await Gpt2Model.load(gpu, "default", { offline: true, weights })
            : Gpt2Model.random(gpu, cfgForFlops!, 1, { weights }),
      );
      const ids = randomIds(B, T, m.config.vocabSize, 21);
      return {
        record: async () => {
          const res = await m.forward(ids, {
            hiddenStates: true,
            logits: opts.logits ? "all" : "none",
          });
          const read = [res.hiddenStates!.range];
          if (res.logits) read.push(res.logits.range);
          return { read, dispose: () => res[Symbol.dispose]() };
        },
      };
    },
  };
}

/** Seed 000's heatmap analysis end to end (tokenize, forward with next-token stats, read). */
function heatmapCase(suites: Suite[]): BenchCase {
  return {
    name: "heatmap analysis sotu-gpt2-mini (default text)",
    group: "e2e",
    kind: "heatmap",
    suites,
    params: { model: "models/sotu-gpt2-mini", chars: HEATMAP_DEFAULT_TEXT.length },
    wallOnly: true,
    async setup(gpu) {
      const m = await sharedModel(
        gpu,
        "sotu-gpt2-mini f32",
        () => Gpt2Model.load(gpu, "default", { offline: true }),
      );
      return {
        record: async () => {
          await heatmap(m, HEATMAP_DEFAULT_TEXT);
          return { read: [] };
        },
      };
    },
  };
}

/** Every case of both suites, plus the reasons optional ones were left out. */
export function allCases(): Promise<{ cases: BenchCase[]; skipped: string[] }> {
  const C: Suite[] = ["cpu"];
  const G: Suite[] = ["gpu"];
  const cases: BenchCase[] = [
    // matmul
    matmulCase(C, 256, 256, 256),
    matmulCase(C, 128, 768, 3072, { label: "gpt2 mlp T128" }),
    matmulCase(G, 1024, 768, 2304, { label: "gpt2 qkv T1024" }),
    matmulCase(G, 1024, 768, 3072, { label: "gpt2 mlp T1024" }),
    matmulCase(G, 1024, 3072, 768, { label: "gpt2 mlp-out T1024" }),
    matmulCase(G, 7750, 768, 3072, { label: "gpt2 mlp B250xT31" }),
    matmulCase(G, 1024, 1024, 4096, { label: "gpt2-medium mlp T1024" }),
    matmulCase(G, 1024, 768, 50257, { transB: true, label: "gpt2 unembed T1024" }),
    matmulCase(G, 4096, 4096, 4096, { label: "sgemm" }),
    matmulCase(G, 4096, 4096, 4096, { label: "sgemm", weights: "f16" }),
    // the variants at the shapes that decide the "auto" rules (see matmul() in src/tensor/ops.ts)
    ...(["simple", "tiled", "tiled_pf"] as const).map((variant) =>
      matmulCase(G, 4096, 4096, 4096, { label: "sgemm", variant })
    ),
    ...(["simple", "ksplit", "tiled", "tiled_pf"] as const).flatMap((variant) => [
      matmulCase(G, 128, 768, 2304, { label: "gpt2 qkv T128", variant }),
      matmulCase(G, 128, 768, 3072, { label: "gpt2 mlp T128", variant }),
      matmulCase(G, 128, 3072, 768, { label: "gpt2 mlp-out T128", variant }),
      matmulCase(G, 1024, 768, 3072, { label: "gpt2 mlp T1024", variant }),
    ]),
    // the tiled kernels' scalar-load twins (K % 4 != 0), against their vec4 loads above
    ...(["tiled", "tiled_pf"] as const).map((variant) =>
      matmulCase(G, 4096, 4095, 4096, { label: "sgemm scalar loads", variant })
    ),
    // attention
    attentionCase(C, "gpt2", 1, 128),
    attentionCase(G, "gpt2", 1, 1024),
    attentionCase(G, "gpt2", 250, 31),
    attentionCase(G, "gpt2-medium", 1, 1024),
    // both variants at the shapes that decide the "auto" rule (see attention() in ops.ts)
    ...(["row", "flash"] as const).flatMap((v) => [
      attentionCase(G, "gpt2", 1, 128, v),
      attentionCase(G, "gpt2", 1, 1024, v),
      attentionCase(G, "gpt2", 250, 31, v),
    ]),
    // layer norm
    layerNormCase(C, 128, 768),
    layerNormCase(G, 1024, 768),
    layerNormCase(G, 7750, 1024),
    // softmax / next-token stats over the vocabulary
    softmaxCase(C, 32, 50257, false),
    softmaxCase(C, 32, 50257, true),
    softmaxCase(G, 1024, 50257, false),
    softmaxCase(G, 1024, 50257, true),
    // pairwise (seed 004 shapes: 25 layers x 250 vectors x 1024 dims)
    pairwiseCase(C, "mi_cov", 1, 250, 1024),
    pairwiseCase(C, "mi_cov", 1, 250, 1024, { algorithm: "direct" }),
    pairwiseCase(C, "cosine", 25, 250, 1024, { maxRepeat: 2 }),
    pairwiseCase(G, "mi_cov", 25, 250, 1024, {
      baselineKey: "torch_gpu_mi_cov_sweep_25x250x1024_one_group",
    }),
    pairwiseCase(G, "mi_cov", 25, 250, 1024, { algorithm: "direct" }),
    pairwiseCase(G, "cosine", 25, 250, 1024, {
      baselineKey: "torch_gpu_cos_sweep_25x250x1024",
    }),
    // end to end: forward passes returning hidden states
    forwardCase(C, "sotu-gpt2-mini", 1, 128),
    forwardCase(C, "sotu-gpt2-mini", 16, 31),
    forwardCase(C, "gpt2", 1, 128, { layers: 2 }),
    forwardCase(C, "gpt2", 4, 31, { layers: 2 }),
    forwardCase(C, "gpt2", 1, 128, { layers: 2, weights: "f16" }),
    ...["gpt2", "gpt2-medium", "gpt2-large"].flatMap((m) => [
      forwardCase(G, m, 1, 128),
      forwardCase(G, m, 1, 1024),
      forwardCase(G, m, 250, 31),
    ]),
    forwardCase(G, "gpt2", 1, 1024, { logits: true }),
    // f16 weight storage (halves read, f32 math) at the shapes weight bandwidth matters most
    ...["gpt2", "gpt2-medium"].flatMap((m) => [
      forwardCase(G, m, 1, 1024, { weights: "f16" }),
      forwardCase(G, m, 250, 31, { weights: "f16" }),
    ]),
    // end to end: seed 004's sweep, both groups, full matrices read back
    pairwiseCase(C, "mi_cov", 25, 250, 1024, { groups: 2, group: "e2e", maxRepeat: 1 }),
    pairwiseCase(G, "mi_cov", 25, 250, 1024, { groups: 2, group: "e2e" }),
    // end to end: seed 000's heatmap analysis
    heatmapCase(["cpu", "gpu"]),
  ];
  return Promise.resolve({ cases, skipped: [] });
}
