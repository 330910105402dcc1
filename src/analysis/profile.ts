/**
 * Per-kernel GPU profile of one forward pass: a timestamp query around every kernel launch
 * (after an untimed warm-up pass that compiles the pipelines), aggregated by kernel name, with
 * the ordered launch list. Used by `deno task cli profile` and the viz server's Profile page.
 * @module
 */

import { GpuUnavailableError, InvalidArgumentError } from "../errors.ts";
import type { Gpu, KernelTiming } from "../gpu/context.ts";
import { describeTuning } from "../gpu/tuning.ts";
import { type Gpt2Config, parseGpt2Config } from "../io/config.ts";
import type { Gpt2Model } from "../model/gpt2.ts";
import { type AnalysisOptions, type ModelInfo, modelInfo, tokenizeForModel } from "./common.ts";

/** The adapter cannot time kernels: it lacks the `timestamp-query` feature. */
export class TimestampsUnavailableError extends GpuUnavailableError {}

/** Layers, heads and width of the GPT-2 sizes that {@linkcode randomGpt2Config} knows. */
export const GPT2_SHAPES: Readonly<
  Record<string, { nLayer: number; nHead: number; nEmbd: number }>
> = {
  "gpt2": { nLayer: 12, nHead: 12, nEmbd: 768 },
  "gpt2-medium": { nLayer: 24, nHead: 16, nEmbd: 1024 },
  "gpt2-large": { nLayer: 36, nHead: 20, nEmbd: 1280 },
  "gpt2-xl": { nLayer: 48, nHead: 25, nEmbd: 1600 },
};

/**
 * The config of a released GPT-2 size (context 1024, vocabulary 50257), for random weights of
 * real shapes (`Gpt2Model.random(gpu, randomGpt2Config("gpt2-medium"))`).
 *
 * @throws {InvalidArgumentError} `name` is not one of {@linkcode GPT2_SHAPES}.
 */
export function randomGpt2Config(name: string): Gpt2Config {
  const s = Object.hasOwn(GPT2_SHAPES, name) ? GPT2_SHAPES[name] : undefined;
  if (!s) {
    throw new InvalidArgumentError(
      `Unknown GPT-2 size "${name}"`,
      `Use one of ${Object.keys(GPT2_SHAPES).join(", ")}`,
    );
  }
  return parseGpt2Config({
    model_type: "gpt2",
    n_layer: s.nLayer,
    n_head: s.nHead,
    n_embd: s.nEmbd,
    n_positions: 1024,
    vocab_size: 50257,
  }, `${name} (random weights)`);
}

/**
 * Throw a clear error when the GPU cannot time kernels.
 *
 * @throws {TimestampsUnavailableError} The adapter lacks `timestamp-query` (a
 * {@linkcode GpuUnavailableError}: HTTP 503 in the viz server).
 */
export function checkTimestamps(gpu: Gpu): void {
  if (gpu.caps.timestamps) return;
  throw new TimestampsUnavailableError(
    `The GPU adapter "${gpu.caps.description}" does not offer timestamp queries, so kernels ` +
      "cannot be timed",
    "Profiling needs the WebGPU timestamp-query feature: use another adapter or driver " +
      "(lavapipe and NVIDIA's Vulkan driver offer it)",
  );
}

/** One kernel's aggregate over a pass. */
export interface KernelSummary {
  /** Kernel name. */
  name: string;
  /** Launches. */
  count: number;
  /** Total GPU time, ms. */
  totalMs: number;
  /** Mean per launch, ms. */
  meanMs: number;
  /** Share of the pass's total kernel time (the shares sum to 1). */
  share: number;
  /** FLOP/s / 1e9 over the total time (null when the kernel reports no FLOPs). */
  gflops: number | null;
  /** GB/s over the total time (null when the kernel reports no bytes). */
  gbps: number | null;
}

/** Aggregate launch timings by kernel name, sorted by total time (largest first). */
export function aggregate(timings: KernelTiming[]): { totalMs: number; kernels: KernelSummary[] } {
  const by = new Map<string, { count: number; ms: number; flops: number; bytes: number }>();
  let total = 0;
  for (const t of timings) {
    const e = by.get(t.name) ?? { count: 0, ms: 0, flops: 0, bytes: 0 };
    e.count++;
    e.ms += t.ms;
    e.flops += t.flops ?? 0;
    e.bytes += t.bytes ?? 0;
    by.set(t.name, e);
    total += t.ms;
  }
  const kernels = [...by].map(([name, e]) => ({
    name,
    count: e.count,
    totalMs: e.ms,
    meanMs: e.ms / e.count,
    share: total > 0 ? e.ms / total : 0,
    gflops: e.flops > 0 && e.ms > 0 ? e.flops / (e.ms / 1000) / 1e9 : null,
    gbps: e.bytes > 0 && e.ms > 0 ? e.bytes / (e.ms / 1000) / 1e9 : null,
  })).sort((a, b) => b.totalMs - a.totalMs);
  return { totalMs: total, kernels };
}

/** One kernel launch of the profiled pass, in order. */
export interface ProfileLaunch {
  /** Launch index (0-based, in submission order). */
  i: number;
  /** Kernel name. */
  name: string;
  /** GPU time, ms. */
  ms: number;
  /** Kernel time of the launches before this one, ms (its start on a gap-free timeline). */
  startMs: number;
  /** FLOPs the launch declares, or null. */
  flops: number | null;
  /** Bytes the launch declares, or null. */
  bytes: number | null;
}

/** Options of {@linkcode profileForward}. */
export interface ProfileOptions extends AnalysisOptions {
  /** A text to tokenize (GPT-2 BPE); give at most one of `text`, `tokens` and `ids`. */
  text?: string;
  /** Number of synthetic token ids (default `min(128, nPositions)` when nothing is given). */
  tokens?: number;
  /** Explicit token ids. */
  ids?: number[];
  /** Sequences in the batch (the input repeated). Default 1. */
  batch?: number;
  /** Logits to compute: none (default), last, all. */
  logits?: "none" | "last" | "all";
  /** Collect hidden states (default true, as the analyses do). */
  hiddenStates?: boolean;
  /** Run an untimed warm-up pass first (compiles the pipelines). Default true. */
  warmup?: boolean;
}

/** Result of {@linkcode profileForward}. */
export interface ProfileResult {
  /** Result type. */
  schema: "laminar.profile";
  /** Schema version. */
  version: 1;
  /** The model profiled (`source` "random" for random weights). */
  model: ModelInfo;
  /** The GPU adapter. */
  adapter: string;
  /**
   * The kernel-variant rules the pass ran with, in words, and whether they are the defaults
   * ("rules") or measured on this adapter by `deno task cli tune` ("measured").
   */
  kernelRules: { summary: string; source: "rules" | "measured" };
  /** The pass: batch size, tokens per sequence, logits mode, hidden states. */
  input: {
    batch: number;
    tokens: number;
    logits: "none" | "last" | "all";
    hiddenStates: boolean;
  };
  /** Sum of every launch's GPU time, ms. */
  totalMs: number;
  /** Wall time of the profiled pass (recording, submission, readback), ms. */
  wallMs: number;
  /** Per-kernel aggregates, largest total first. */
  kernels: KernelSummary[];
  /** Every launch in order. */
  launches: ProfileLaunch[];
}

/** Synthetic token ids (deterministic, spread over the vocabulary). */
function syntheticIds(n: number, vocab: number): number[] {
  return Array.from({ length: n }, (_, i) => (i * 7919 + 13) % vocab);
}

/**
 * Profile one forward pass of `model`: every kernel launch timed with timestamp queries (each in
 * its own compute pass, so the total is a little above the one-pass GPU time), aggregated by
 * kernel.
 *
 * @example
 * ```ts ignore
 * const p = await profileForward(model, { tokens: 64 });
 * console.log(p.kernels[0].name, p.kernels[0].share);
 * ```
 * @throws {TimestampsUnavailableError} The adapter lacks timestamp-query.
 * @throws {InvalidArgumentError} Bad options (empty text, token count out of range, ...).
 * @throws {ContextLengthError} The text is longer than the model's context.
 */
export async function profileForward(
  model: Gpt2Model,
  options: ProfileOptions = {},
): Promise<ProfileResult> {
  const gpu = model.gpu;
  checkTimestamps(gpu);
  const given = [options.text, options.tokens, options.ids].filter((x) => x !== undefined);
  if (given.length > 1) {
    throw new InvalidArgumentError("Give at most one of text, tokens and ids", "Pick one input");
  }
  const { nPositions, vocabSize } = model.config;
  let ids: number[];
  if (options.text !== undefined) {
    ids = tokenizeForModel(model, options.text).map((p) => p.id);
  } else if (options.ids !== undefined) {
    ids = options.ids;
    if (ids.length < 1 || ids.length > nPositions) {
      throw new InvalidArgumentError(
        `${ids.length} token ids given; the model takes 1 to ${nPositions}`,
        "Give fewer ids",
      );
    }
  } else {
    const T = options.tokens ?? Math.min(128, nPositions);
    if (!Number.isInteger(T) || T < 1 || T > nPositions) {
      throw new InvalidArgumentError(
        `Tokens must be an integer from 1 to ${nPositions} (the model's context), got ${T}`,
        `Use at most ${nPositions} tokens`,
      );
    }
    ids = syntheticIds(T, vocabSize);
  }
  const B = options.batch ?? 1;
  if (!Number.isInteger(B) || B < 1) {
    throw new InvalidArgumentError(`Batch must be a positive integer, got ${B}`);
  }
  const logits = options.logits ?? "none";
  if (!["none", "last", "all"].includes(logits)) {
    throw new InvalidArgumentError(`Logits must be none, last or all, got "${logits}"`);
  }
  const hiddenStates = options.hiddenStates ?? true;
  const batch = Array.from({ length: B }, () => ids);
  const opts = { hiddenStates, logits };
  const onProgress = options.onProgress ?? (() => {});
  const warmup = options.warmup ?? true;
  const steps = warmup ? 2 : 1;

  if (warmup) {
    // Compiles every pipeline so the profile times kernels, not compilation.
    onProgress("warm-up pass", 0, steps);
    const warm = await model.forward(batch, opts);
    await gpu.flush();
    warm[Symbol.dispose]();
  }
  onProgress("profiled pass", steps - 1, steps);
  const t0 = performance.now();
  gpu.startProfile();
  let timings: KernelTiming[];
  let res;
  try {
    res = await model.forward(batch, opts);
  } finally {
    timings = await gpu.stopProfile();
  }
  res[Symbol.dispose]();
  const wallMs = performance.now() - t0;
  onProgress("profiled pass", steps, steps);

  const { totalMs, kernels } = aggregate(timings);
  let start = 0;
  const launches = timings.map((t, i) => {
    const l = {
      i,
      name: t.name,
      ms: t.ms,
      startMs: start,
      flops: t.flops ?? null,
      bytes: t.bytes ?? null,
    };
    start += t.ms;
    return l;
  });
  return {
    schema: "laminar.profile",
    version: 1,
    model: modelInfo(model),
    adapter: gpu.caps.description,
    kernelRules: { summary: describeTuning(gpu.tuning), source: gpu.tuning.source },
    input: { batch: B, tokens: ids.length, logits, hiddenStates },
    totalMs,
    wallMs,
    kernels,
    launches,
  };
}
