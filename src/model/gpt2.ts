/**
 * GPT-2 on the GPU: the forward pass of any Hugging Face GPT-2 checkpoint, with HF-style
 * hidden states, attention probabilities, logits or per-token next-token statistics, an
 * activation cache by TransformerLens hook names, and GPU-side interventions.
 *
 * The whole pass (every layer, every batch chunk, the unembedding) is recorded as one submission
 * and read back once; only JavaScript callback hooks split it.
 * @module
 */

import {
  ContextLengthError,
  FormatError,
  InvalidArgumentError,
  ModelNotFoundError,
} from "../errors.ts";
import { resolve } from "node:path";
import type { Gpu } from "../gpu/context.ts";
import { type Gpt2Config, readGpt2Config } from "../io/config.ts";
import { resolveModel, type ResolveModelOptions } from "../io/hub.ts";
import { readSafetensors } from "../io/safetensors.ts";
import {
  add,
  attention,
  attentionFromPattern,
  embed,
  gatherPositions,
  gelu,
  layerNorm,
  matmul,
  tokenStats,
} from "../tensor/ops.ts";
import { grid, KERNELS } from "../tensor/kernels.ts";
import { params } from "../gpu/context.ts";
import { type ArrayOf, type DType, Tensor } from "../tensor/tensor.ts";
import {
  applyIntervention,
  type CallbackHook,
  checkHookName,
  checkIntervention,
  hookShape,
  type HookView,
  type Intervention,
} from "./hooks.ts";
import {
  alignedRowStep,
  checkWeightDType,
  disposeGpt2Weights,
  type Gpt2Weights,
  randomGpt2Weights,
  rowChunks,
  uploadGpt2Weights,
  type WeightOptions,
} from "./weights.ts";

/**
 * Options of {@linkcode Gpt2Model.load}: where to find the model (cache, download) and how to
 * store its weights (`weights: "f16"` halves the memory of the big matrices).
 */
export interface LoadModelOptions extends ResolveModelOptions, WeightOptions {}

/** Token ids: one sequence, or a batch of equal-length sequences. */
export type TokenIds = readonly number[] | readonly (readonly number[])[] | Int32Array;

/** What a forward pass computes and keeps. */
export interface ForwardOptions {
  /** Logits [B, T, V] ("all"), at the last position only [B, 1, V] ("last"), or none (default). */
  logits?: "all" | "last" | "none";
  /**
   * Per-position statistics of the actual next token, [B, T, 5]: log p(next), rank (1 = top),
   * entropy (nats), max logit, logsumexp; at the last position the rank is 0 (no next token).
   * Computed on the GPU from the logits without keeping them.
   */
  nextTokenStats?: boolean | { temperature?: number };
  /**
   * HF `hidden_states` [n_layer + 1, B, P, D] (the last after ln_f): all positions (true) or the
   * given positions of every sequence.
   */
  hiddenStates?: boolean | { positions: number[] };
  /** Attention probabilities [n_layer, B, H, T, T]. */
  attentions?: boolean;
  /** Activations to keep, by TransformerLens hook name (shapes: {@linkcode hookShape}). */
  cache?: string[];
  /** GPU-side interventions (in addition to the model's registered ones). */
  interventions?: Intervention[];
  /** JavaScript callback hooks (each one reads the activation back: slow). */
  callbacks?: CallbackHook[];
}

/** The GPU tensors a forward pass produced. Dispose them (or the whole object) when done. */
export interface ForwardResult {
  /** Batch size. */
  B: number;
  /** Sequence length. */
  T: number;
  /** Logits [B, T, V] or [B, 1, V]. */
  logits?: Tensor;
  /** Next-token statistics [B, T, 5]. */
  nextTokenStats?: Tensor;
  /** Hidden states [n_layer + 1, B, P, D]. */
  hiddenStates?: Tensor;
  /** Attention probabilities [n_layer, B, H, T, T]. */
  attentions?: Tensor;
  /** Cached activations by hook name. */
  cache: Map<string, Tensor>;
  /** Free every tensor of the result. */
  [Symbol.dispose](): void;
}

/** A forward result read back to the CPU. */
export interface ForwardArrays {
  /** Batch size. */
  B: number;
  /** Sequence length. */
  T: number;
  /** Logits [B, T, V] or [B, 1, V]. */
  logits?: Float32Array;
  /** Next-token statistics [B, T, 5]. */
  nextTokenStats?: Float32Array;
  /** Hidden states [n_layer + 1, B, P, D]. */
  hiddenStates?: Float32Array;
  /** Attention probabilities [n_layer, B, H, T, T]. */
  attentions?: Float32Array;
  /** Cached activations by hook name. */
  cache: Map<string, Float32Array>;
}

const NO_TARGET = 0xffffffff;

/**
 * A GPT-2 model on the GPU.
 *
 * @example
 * ```ts ignore
 * using gpu = await Gpu.create();
 * const model = await Gpt2Model.load(gpu); // the shipped sotu-gpt2-mini
 * const ids = model.tokenizer.encode("It was a dark and stormy");
 * const out = await model.run(ids, { logits: "last" });
 * ```
 */
export class Gpt2Model {
  /** The GPU context. */
  readonly gpu: Gpu;
  /** The model's configuration. */
  readonly config: Gpt2Config;
  /** The weights on the GPU. */
  readonly weights: Gpt2Weights;
  /** Where the model came from (a folder, or "random"). */
  readonly source: string;
  /** Interventions applied to every forward pass until removed. */
  readonly interventions: Intervention[] = [];

  /** Wrap weights already on the GPU. */
  constructor(gpu: Gpu, config: Gpt2Config, weights: Gpt2Weights, source: string) {
    checkSupported(config, source);
    this.gpu = gpu;
    this.config = config;
    this.weights = weights;
    this.source = source;
  }

  /**
   * Load a model: "default"/"" (the shipped model), a local folder with config.json +
   * model.safetensors, or a Hugging Face repo id (cache, then download unless offline).
   * `options.weights: "f16"` stores the big matrices as halves (see {@linkcode WeightOptions}).
   *
   * @example
   * ```ts ignore
   * const model = await Gpt2Model.load(gpu, "gpt2-medium", { weights: "f16" });
   * ```
   */
  static async load(
    gpu: Gpu,
    spec = "default",
    options: LoadModelOptions = {},
  ): Promise<Gpt2Model> {
    const weights = checkWeightDType(options.weights); // before any download
    const { dir, source } = await resolveModel(spec, options);
    try {
      const config = await readGpt2Config(dir);
      checkSupported(config, dir);
      const file = await readSafetensors(`${dir}/model.safetensors`);
      return new Gpt2Model(gpu, config, uploadGpt2Weights(gpu, config, file, { weights }), dir);
    } catch (e) {
      // A damaged file in the Hugging Face cache: say which folder to delete to download afresh.
      if (source === "local" || !(e instanceof FormatError)) throw e;
      const repo = resolve(dir, "..", "..");
      throw new FormatError(
        e.message,
        `The cached download is damaged: delete the folder "${repo}" and run again to ` +
          "download it afresh",
        { cause: e },
      );
    }
  }

  /**
   * A model with random weights of the given config's shapes (benchmarks, size tests); with
   * `options.weights: "f16"`, the same seed's weights rounded to half.
   */
  static random(
    gpu: Gpu,
    config: Gpt2Config,
    seed = 1,
    options: WeightOptions = {},
  ): Gpt2Model {
    checkSupported(config, "random");
    return new Gpt2Model(gpu, config, randomGpt2Weights(gpu, config, seed, options), "random");
  }

  /**
   * Register an intervention for every forward pass; dispose the handle (or call `remove`) to
   * restore clean behaviour.
   */
  addIntervention(iv: Intervention): { remove(): void; [Symbol.dispose](): void } {
    checkHookName(iv.hook, this.config);
    this.interventions.push(iv);
    const remove = () => {
      const i = this.interventions.indexOf(iv);
      if (i >= 0) this.interventions.splice(i, 1);
    };
    return { remove, [Symbol.dispose]: remove };
  }

  /** Run a forward pass and read the results back in one map. */
  async run(ids: TokenIds, options: ForwardOptions = {}): Promise<ForwardArrays> {
    using res = await this.forward(ids, options);
    const named: [string, Tensor][] = [];
    if (res.logits) named.push(["logits", res.logits]);
    if (res.nextTokenStats) named.push(["nextTokenStats", res.nextTokenStats]);
    if (res.hiddenStates) named.push(["hiddenStates", res.hiddenStates]);
    if (res.attentions) named.push(["attentions", res.attentions]);
    for (const [k, t] of res.cache) named.push([`cache:${k}`, t]);
    const bufs = await this.gpu.read(named.map(([, t]) => t.range));
    const out: ForwardArrays = { B: res.B, T: res.T, cache: new Map() };
    named.forEach(([k, t], i) => {
      const a = new Float32Array(bufs[i], 0, t.size);
      if (k.startsWith("cache:")) out.cache.set(k.slice(6), a);
      else (out as unknown as Record<string, Float32Array>)[k] = a;
    });
    return out;
  }

  /** Check ids and turn them into a flat [B * T] array. */
  #flatIds(ids: TokenIds): { flat: Uint32Array; B: number; T: number } {
    let rows: readonly (readonly number[] | Int32Array)[];
    if (ids instanceof Int32Array) rows = [ids];
    else if (ids.length > 0 && Array.isArray(ids[0])) rows = ids as readonly (readonly number[])[];
    else rows = [ids as readonly number[]];
    const B = rows.length;
    const T = rows[0]?.length ?? 0;
    if (B === 0 || T === 0) {
      throw new InvalidArgumentError("The input has no tokens", "Give a non-empty text or id list");
    }
    if (T > this.config.nPositions) {
      throw new ContextLengthError(
        `The text has ${T} tokens, more than the model's context of ${this.config.nPositions}`,
        "Shorten the text, or split it into windows of at most n_positions tokens",
      );
    }
    if (T > MAX_ATTENTION_POSITIONS) {
      // checked here so a pass never stops half recorded at the attention kernel's limit
      throw new ContextLengthError(
        `The text has ${T} tokens; laminar's attention kernel handles at most ${MAX_ATTENTION_POSITIONS}`,
        `Split the text into windows of at most ${MAX_ATTENTION_POSITIONS} tokens`,
      );
    }
    const flat = new Uint32Array(B * T);
    rows.forEach((r, b) => {
      if (r.length !== T) {
        throw new InvalidArgumentError(
          `Sequence ${b} has ${r.length} tokens, sequence 0 has ${T}`,
          "Batch sequences of equal length",
        );
      }
      for (let t = 0; t < T; t++) {
        const id = r[t];
        if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) {
          throw new InvalidArgumentError(
            `Token id "${id}" is outside the vocabulary of ${this.config.vocabSize}`,
            "Use ids from this model's tokenizer",
          );
        }
        flat[b * T + t] = id;
      }
    });
    return { flat, B, T };
  }

  /**
   * Sequences per chunk so every activation of a chunk fits one storage binding and every launch
   * grid fits the device's workgroup limits.
   */
  #chunkSize(B: number, T: number): number {
    const { nEmbd: D, nHead: H, nInner: F } = this.config;
    const perSeq = Math.max(T * 3 * D, T * F, H * T * T) * 4;
    const limit = this.gpu.caps.maxStorageBindingBytes;
    const n = Math.floor(limit / perSeq);
    if (n < 1) {
      throw new InvalidArgumentError(
        `One sequence of ${T} tokens needs ${perSeq} bytes in one binding; the GPU allows ${limit}`,
        "Use a shorter text",
      );
    }
    // Launch grids: attention runs (T, H, chunk) workgroups and the matmuls ceil(chunk * T / 32)
    // rows of tiles; keep both within the per-dimension limit.
    const maxWg = this.gpu.caps.maxWorkgroupsPerDimension;
    return Math.max(1, Math.min(B, n, maxWg, Math.floor((32 * maxWg) / T)));
  }

  /**
   * Record a forward pass on the GPU and return the output tensors (nothing is read back).
   * Most callers want {@linkcode Gpt2Model.run}.
   */
  async forward(ids: TokenIds, options: ForwardOptions = {}): Promise<ForwardResult> {
    const gpu = this.gpu;
    const cfg = this.config;
    const { nEmbd: D, nHead: H, nLayer: L, vocabSize: V } = cfg;
    const { flat, B, T } = this.#flatIds(ids);

    const interventions = [...this.interventions, ...(options.interventions ?? [])].map((iv) =>
      checkIntervention(iv, cfg, B, T)
    );
    const callbacks = options.callbacks ?? [];
    for (const c of callbacks) checkHookName(c.hook, cfg);
    const cacheNames = new Set(options.cache ?? []);
    for (const n of cacheNames) checkHookName(n, cfg);
    const hooked = new Set([
      ...cacheNames,
      ...interventions.map((i) => i.hook),
      ...callbacks.map((c) => c.hook),
    ]);

    // Output tensors for the whole batch (filled chunk by chunk with copies).
    const logitsMode = options.logits ?? "none";
    const statsOpt = options.nextTokenStats;
    const temperature = typeof statsOpt === "object" ? statsOpt.temperature ?? 1 : 1;
    const hsOpt = options.hiddenStates;
    const hsPositions = typeof hsOpt === "object" ? hsOpt.positions : null;
    if (hsPositions) {
      if (hsPositions.length === 0) {
        throw new InvalidArgumentError("No positions were given for the hidden states");
      }
      for (const p of hsPositions) {
        if (!Number.isInteger(p) || p < 0 || p >= T) {
          throw new InvalidArgumentError(
            `Position "${p}" is outside the text's ${T} tokens`,
            `Use positions 0..${T - 1}`,
          );
        }
      }
    }
    const P = hsPositions ? hsPositions.length : T;
    const Bc = this.#chunkSize(B, T);
    checkBindings(gpu, interventions, statsOpt ? B * T * 5 * 4 : 0);
    const big = (shape: number[]) => bigTensor(gpu, shape);
    const result: ForwardResult = {
      B,
      T,
      cache: new Map(),
      [Symbol.dispose]() {
        result.logits?.dispose();
        result.nextTokenStats?.dispose();
        result.hiddenStates?.dispose();
        result.attentions?.dispose();
        for (const t of result.cache.values()) t.dispose();
      },
    };
    try {
      if (logitsMode === "all") result.logits = big([B, T, V]);
      if (logitsMode === "last") result.logits = big([B, 1, V]);
      if (statsOpt) result.nextTokenStats = big([B, T, 5]);
      if (hsOpt) result.hiddenStates = big([L + 1, B, P, D]);
      if (options.attentions) result.attentions = big([L, B, H, T, T]);
      for (const n of cacheNames) result.cache.set(n, big(hookShape(n, cfg, B, T)));
    } catch (e) {
      result[Symbol.dispose]();
      throw e;
    }
    const live: Tensor<DType>[] = [];
    const keep = <T extends Tensor<DType>>(t: T) => (live.push(t), t);
    const hsPosT = hsPositions ? keep(Tensor.from(gpu, new Uint32Array(hsPositions))) : null;
    const lastPosT = keep(Tensor.from(gpu, new Uint32Array([T - 1])));
    const allPos = keep(Tensor.from(gpu, new Uint32Array(T).fill(1)));
    const dummy = keep(Tensor.from(gpu, new Float32Array(4)));

    // Per-intervention GPU resources: position and sequence masks, values, value layout.
    const allSeq = keep(Tensor.from(gpu, new Uint32Array(B).fill(1)));
    const ivRes = interventions.map((iv): IvResources => {
      const posMask = iv.positions ? keep(Tensor.from(gpu, mask(T, iv.positions))) : allPos;
      const seqMask = iv.sequences ? keep(Tensor.from(gpu, mask(B, iv.sequences))) : allSeq;
      let value = dummy;
      if (iv.value instanceof Tensor) value = iv.value;
      else if (iv.value instanceof Float32Array) value = keep(Tensor.from(gpu, iv.value));
      const full = hookShape(iv.hook, cfg, B, T).reduce((a, b) => a * b, 1);
      const layout = value === dummy
        ? "none"
        : value.size === full
        ? "batch"
        : value.size === full / B
        ? "sequence"
        : "vector";
      return { posMask, seqMask, value, layout };
    });

    try {
      for (let b0 = 0; b0 < B; b0 += Bc) {
        const bc = Math.min(Bc, B - b0);
        await this.#forwardChunk(flat, b0, bc, T, {
          result,
          hooked,
          cacheNames,
          interventions,
          ivRes,
          allSeq,
          callbacks,
          hsPosT,
          P,
          lastPosT,
          logitsMode,
          statsTemperature: statsOpt ? temperature : null,
          B,
        });
      }
    } catch (e) {
      result[Symbol.dispose]();
      throw e;
    } finally {
      // Uploaded helpers are released after the submission that uses them is recorded; the
      // queue keeps them alive until the GPU is done.
      for (const t of live) t.dispose();
    }
    return result;
  }

  async #forwardChunk(
    flat: Uint32Array,
    b0: number,
    bc: number,
    T: number,
    ctx: ChunkContext,
  ): Promise<void> {
    const temps: Tensor<DType>[] = [];
    const tmp = (shape: number[]) => {
      const t = Tensor.empty(this.gpu, shape);
      temps.push(t);
      return t;
    };
    try {
      await this.#recordChunk(flat, b0, bc, T, ctx, temps, tmp);
    } finally {
      // Released (pooled) or retired (uploads) also when the pass throws half way: the launches
      // already recorded keep running in order at the next submission, so this is safe.
      for (const t of temps) t.dispose();
    }
  }

  async #recordChunk(
    flat: Uint32Array,
    b0: number,
    bc: number,
    T: number,
    ctx: ChunkContext,
    temps: Tensor<DType>[],
    tmp: (shape: number[]) => Tensor,
  ): Promise<void> {
    const gpu = this.gpu;
    const cfg = this.config;
    const w = this.weights;
    const { nEmbd: D, nHead: H, nLayer: L, vocabSize: V, nInner: F } = cfg;
    const dh = D / H;
    const rows = bc * T;
    const ids = Tensor.from(gpu, flat.subarray(b0 * T, (b0 + bc) * T));
    const posIds = Tensor.from(gpu, Uint32Array.from({ length: rows }, (_, i) => i % T));
    temps.push(ids, posIds);

    // Copy a chunk's activation [bc, ...] into the whole-batch tensor at sequence b0.
    const toBatch = (src: Tensor, dst: Tensor, perSeq: number, dstSeqOffset = 0) => {
      gpu.copy(
        { buffer: src.buffer, offset: src.offset, size: bc * perSeq * 4 },
        {
          buffer: dst.buffer,
          offset: dst.offset + (dstSeqOffset + b0 * perSeq) * 4,
          size: bc * perSeq * 4,
        },
      );
    };

    // The hook point: cache, intervene, call back. `view` describes where the activation lives.
    const hook = async (name: string, view: HookView) => {
      if (!ctx.hooked.has(name)) return;
      for (let i = 0; i < ctx.interventions.length; i++) {
        const iv = ctx.interventions[i];
        if (iv.hook !== name) continue;
        const r = ctx.ivRes[i];
        const rowsPerSeq = view.rows / bc;
        applyIntervention(iv, view, bc, {
          posMask: r.posMask,
          seqMask: r.seqMask,
          value: r.value,
          valueOffset: r.layout === "batch" ? b0 * rowsPerSeq * view.cols : 0,
          valueStride: r.layout === "vector" || r.layout === "none" ? 0 : view.cols,
          valueRows: r.layout === "sequence" ? rowsPerSeq : 0xffffffff,
          b0,
        });
      }
      const contiguous = view.stride === view.cols && view.c0 === 0;
      let packed: Tensor | null = null;
      const pack = () => {
        if (contiguous) return view.tensor;
        packed ??= extractColumns(view, tmp([view.rows, view.cols]));
        return packed;
      };
      for (const cb of ctx.callbacks) {
        if (cb.hook !== name) continue;
        const shape = hookShape(name, cfg, bc, T);
        const src = pack();
        const [buf] = await gpu.read([src.range]);
        const data = new Float32Array(buf, 0, src.size);
        const ret = cb.fn(data, shape);
        if (ret) {
          if (ret.length !== src.size) {
            throw new InvalidArgumentError(
              `Callback on "${name}" returned ${ret.length} values, expected ${src.size}`,
            );
          }
          if (contiguous) {
            gpu.device.queue.writeBuffer(src.buffer, src.offset, new Float32Array(ret));
          } else {
            // write back through a set intervention
            const vt = Tensor.from(gpu, ret);
            temps.push(vt);
            applyIntervention({ hook: name, op: "set" }, view, bc, {
              posMask: allPosMask(gpu, T, temps),
              seqMask: ctx.allSeq,
              value: vt,
              valueOffset: 0,
              valueStride: view.cols,
              valueRows: 0xffffffff,
              b0,
            });
          }
          packed = null;
        }
      }
      if (ctx.cacheNames.has(name)) {
        const dst = ctx.result.cache.get(name)!;
        toBatch(pack(), dst, view.rows * view.cols / bc);
      }
    };
    const plain = (t: Tensor, cols: number): HookView => ({
      tensor: t,
      rows: t.size / cols,
      cols,
      stride: cols,
      c0: 0,
      T,
      heads: 1,
      headDim: cols,
    });

    // Embeddings: hook_embed, hook_pos_embed, resid_pre 0 = their sum.
    const tokEmb = embed(ids, w.wteChunks, tmp([bc, T, D]));
    await hook("hook_embed", plain(tokEmb, D));
    const posEmb = embed(posIds, rowChunks(gpu, w.wpe), tmp([bc, T, D]));
    await hook("hook_pos_embed", plain(posEmb, D));
    let x = add(tokEmb, posEmb, tmp([bc, T, D]));

    const saveHidden = (layer: number, h: Tensor) => {
      const hs = ctx.result.hiddenStates;
      if (!hs) return;
      const perLayer = ctx.B * ctx.P * D;
      if (ctx.hsPosT) {
        const g = tmp([bc, ctx.P, D]);
        gatherPositions(h, ctx.hsPosT, g);
        toBatch(g, hs, ctx.P * D, layer * perLayer);
      } else toBatch(h, hs, T * D, layer * perLayer);
    };

    for (let l = 0; l < L; l++) {
      const blk = w.blocks[l];
      const p = `blocks.${l}.`;
      await hook(p + "hook_resid_pre", plain(x, D));
      saveHidden(l, x);

      const ln1 = layerNorm(x, blk.ln1G, blk.ln1B, { eps: cfg.layerNormEps, out: tmp([bc, T, D]) });
      await hook(p + "ln1.hook_normalized", plain(ln1, D));
      const qkv = matmul(ln1, blk.attnW, { bias: blk.attnB, out: tmp([bc, T, 3 * D]) });
      for (const [i, n] of ["q", "k", "v"].entries()) {
        await hook(p + `attn.hook_${n}`, {
          tensor: qkv,
          rows: rows,
          cols: D,
          stride: 3 * D,
          c0: i * D,
          T,
          heads: H,
          headDim: dh,
        });
      }
      let scale = cfg.scaleAttnWeights ? 1 / Math.sqrt(dh) : 1;
      if (cfg.scaleAttnByInverseLayerIdx) scale /= l + 1;
      const patternName = p + "attn.hook_pattern";
      const wantPattern = ctx.hooked.has(patternName) || !!ctx.result.attentions;
      const pattern = wantPattern ? tmp([bc, H, T, T]) : undefined;
      let z: Tensor;
      if (ctx.hooked.has(patternName)) {
        attention(qkv, { heads: H, scale, pattern, out: tmp([bc, T, D]) });
        await hook(patternName, {
          tensor: pattern!,
          rows: bc * H * T,
          cols: T,
          stride: T,
          c0: 0,
          T,
          heads: H,
          headDim: 0,
        });
        z = attentionFromPattern(qkv, pattern!, { heads: H, out: tmp([bc, T, D]) });
      } else z = attention(qkv, { heads: H, scale, pattern, out: tmp([bc, T, D]) });
      if (ctx.result.attentions) {
        toBatch(pattern!, ctx.result.attentions, H * T * T, l * ctx.B * H * T * T);
      }
      await hook(p + "attn.hook_z", { ...plain(z, D), heads: H, headDim: dh });
      // The residual adds are fused into the projections (x += z @ W + b, bit-identical to a
      // separate add) unless a hook wants the projection's output on its own.
      let mid: Tensor;
      const attnOutName = p + "hook_attn_out";
      if (ctx.hooked.has(attnOutName)) {
        const attnOut = matmul(z, blk.projW, { bias: blk.projB, out: tmp([bc, T, D]) });
        await hook(attnOutName, plain(attnOut, D));
        mid = add(x, attnOut, tmp([bc, T, D]));
      } else mid = matmul(z, blk.projW, { bias: blk.projB, out: x, accumulate: true });
      await hook(p + "hook_resid_mid", plain(mid, D));

      const ln2 = layerNorm(mid, blk.ln2G, blk.ln2B, {
        eps: cfg.layerNormEps,
        out: tmp([bc, T, D]),
      });
      await hook(p + "ln2.hook_normalized", plain(ln2, D));
      let act: Tensor;
      const preName = p + "mlp.hook_pre";
      if (ctx.hooked.has(preName)) {
        const pre = matmul(ln2, blk.fcW, { bias: blk.fcB, out: tmp([bc, T, F]) });
        await hook(preName, plain(pre, F));
        act = gelu(pre, tmp([bc, T, F]));
      } else act = matmul(ln2, blk.fcW, { bias: blk.fcB, gelu: true, out: tmp([bc, T, F]) });
      await hook(p + "mlp.hook_post", plain(act, F));
      const mlpOutName = p + "hook_mlp_out";
      if (ctx.hooked.has(mlpOutName)) {
        const mlpOut = matmul(act, blk.fc2W, { bias: blk.fc2B, out: tmp([bc, T, D]) });
        await hook(mlpOutName, plain(mlpOut, D));
        x = add(mid, mlpOut, tmp([bc, T, D]));
      } else x = matmul(act, blk.fc2W, { bias: blk.fc2B, out: mid, accumulate: true });
      await hook(p + "hook_resid_post", plain(x, D));
    }

    const xf = layerNorm(x, w.lnFG, w.lnFB, { eps: cfg.layerNormEps, out: tmp([bc, T, D]) });
    await hook("ln_final.hook_normalized", plain(xf, D));
    saveHidden(L, xf);

    // Unembedding (tied lm_head), in row chunks that fit one binding, vocabulary chunks of wte.
    if (ctx.logitsMode !== "none" || ctx.statsTemperature !== null) {
      let src = xf;
      let srcRows = rows;
      if (ctx.logitsMode === "last" && ctx.statsTemperature === null) {
        src = tmp([bc, 1, D]);
        gatherPositions(xf, ctx.lastPosT, src);
        srcRows = bc;
      }
      let targets: Tensor<"u32"> | null = null;
      if (ctx.statsTemperature !== null) {
        const tg = new Uint32Array(rows);
        for (let r = 0; r < rows; r++) {
          const t = r % T;
          tg[r] = t + 1 < T ? flat[b0 * T + r + 1] : NO_TARGET;
        }
        targets = Tensor.from(gpu, tg);
        temps.push(targets);
      }
      // Row chunks: logits of a chunk fit one binding; chunk starts keep the [rows, D] input's
      // binding offset aligned.
      const step = alignedRowStep(gpu, D * 4);
      const fit = Math.floor(gpu.caps.maxStorageBindingBytes / (V * 4));
      const chunkRows = Math.min(srcRows, Math.max(step, Math.floor(fit / step) * step));
      const logitsTmp = tmp([chunkRows, V]);
      for (let r0 = 0; r0 < srcRows; r0 += chunkRows) {
        const n = Math.min(chunkRows, srcRows - r0);
        const xs = src.reshape([srcRows, D]).slice(r0, n);
        const out = logitsTmp.slice(0, n);
        for (const { table, row0 } of w.wteChunks) {
          matmul(xs, table, { transposeW: true, out, outRowStride: V, outColumn: row0 });
        }
        if (targets) {
          tokenStats(out, targets, {
            temperature: ctx.statsTemperature!,
            out: ctx.result.nextTokenStats!.reshape([ctx.B * T, 5]),
            outRow: b0 * T + r0,
            targetRow: r0,
          });
        }
        const lg = ctx.result.logits;
        if (lg && ctx.logitsMode === "all") {
          gpu.copy(
            { buffer: out.buffer, offset: out.offset, size: n * V * 4 },
            { buffer: lg.buffer, offset: lg.offset + (b0 * T + r0) * V * 4, size: n * V * 4 },
          );
        } else if (lg && ctx.logitsMode === "last") {
          // rows r0..r0+n of the chunk; keep those at position T - 1
          for (let r = r0; r < r0 + n; r++) {
            if (src === xf && r % T !== T - 1) continue;
            const seq = src === xf ? Math.floor(r / T) : r;
            gpu.copy(
              { buffer: out.buffer, offset: out.offset + (r - r0) * V * 4, size: V * 4 },
              { buffer: lg.buffer, offset: lg.offset + (b0 + seq) * V * 4, size: V * 4 },
            );
          }
        }
      }
    }
  }

  /** Free the weights. */
  dispose(): void {
    disposeGpt2Weights(this.weights);
  }

  /** `using model = ...` frees the weights at the end of the scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** What every batch chunk of one forward pass shares. */
interface ChunkContext {
  result: ForwardResult;
  hooked: Set<string>;
  cacheNames: Set<string>;
  interventions: Intervention[];
  ivRes: IvResources[];
  allSeq: Tensor<"u32">;
  callbacks: CallbackHook[];
  hsPosT: Tensor<"u32"> | null;
  P: number;
  lastPosT: Tensor<"u32">;
  logitsMode: "all" | "last" | "none";
  statsTemperature: number | null;
  B: number;
}

/** laminar's attention kernel keeps a row of scores in workgroup memory: T <= 1024. */
const MAX_ATTENTION_POSITIONS = 1024;

/**
 * Tensors bound whole by every chunk (intervention values, the next-token statistics) must fit
 * one binding at an aligned offset: checked before anything is recorded.
 */
function checkBindings(gpu: Gpu, interventions: Intervention[], statsBytes: number): void {
  const limit = gpu.caps.maxStorageBindingBytes;
  if (statsBytes > limit) {
    throw new InvalidArgumentError(
      `Next-token statistics of this batch need ${statsBytes} bytes in one binding; the GPU ` +
        `allows ${limit}`,
      "Use a smaller batch",
    );
  }
  for (const iv of interventions) {
    const v = iv.value;
    const bytes = v instanceof Tensor ? v.bytes : v instanceof Float32Array ? v.byteLength : 0;
    if (bytes > limit) {
      throw new InvalidArgumentError(
        `The value of intervention "${iv.op}" on "${iv.hook}" has ${bytes} bytes, over the GPU's ` +
          `binding limit of ${limit}`,
        "Give one sequence's values (applied to every selected sequence) or a smaller batch",
      );
    }
    if (v instanceof Tensor && v.offset % gpu.caps.storageOffsetAlignment !== 0) {
      throw new InvalidArgumentError(
        `The value of intervention "${iv.op}" on "${iv.hook}" starts at byte "${v.offset}" of ` +
          `its buffer, not a multiple of ${gpu.caps.storageOffsetAlignment}`,
        "Pass a tensor that starts at an aligned offset (e.g. a copy)",
      );
    }
  }
}

/** Refuse configs whose forward pass laminar would compute wrongly. */
function checkSupported(config: Gpt2Config, source: string): void {
  if (config.activation !== "gelu_new") {
    throw new ModelNotFoundError(
      `Model "${source}" uses activation_function "${config.activation}"; laminar's GPU forward ` +
        `pass implements only gelu_new (gelu_pytorch_tanh, gelu_fast)`,
      "Use a GPT-2 checkpoint with the standard gelu_new activation",
    );
  }
}

/** GPU resources of one intervention; `layout` says how its value is indexed. */
interface IvResources {
  posMask: Tensor<"u32">;
  seqMask: Tensor<"u32">;
  value: Tensor;
  layout: "none" | "vector" | "sequence" | "batch";
}

function mask(n: number, selected: number[]): Uint32Array {
  const m = new Uint32Array(n);
  for (const i of selected) m[i] = 1;
  return m;
}

/** A pooled tensor that may exceed one binding (filled by copies, read back, never bound). */
function bigTensor(gpu: Gpu, shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n * 4 > gpu.caps.maxBufferBytes) {
    throw new InvalidArgumentError(
      `An output of shape [${shape.join(", ")}] needs ${n * 4} bytes, over the GPU's buffer limit`,
      "Ask for fewer outputs (positions, logits) or a smaller batch",
    );
  }
  return Tensor.empty(gpu, shape);
}

function allPosMask(gpu: Gpu, T: number, temps: Tensor<DType>[]): Tensor<"u32"> {
  const t = Tensor.from(gpu, new Uint32Array(T).fill(1));
  temps.push(t);
  return t;
}

/** Copy a strided column block into a packed [rows, cols] tensor. */
function extractColumns(view: HookView, out: Tensor): Tensor {
  const n = view.rows * view.cols;
  const [nx, ny] = grid(Math.ceil(n / 256), view.tensor.gpu.caps.maxWorkgroupsPerDimension);
  view.tensor.gpu.dispatch({
    kernel: KERNELS.columns,
    params: params(n, view.cols, view.stride, view.c0, 0, 0, 0, nx),
    buffers: [view.tensor.range, view.tensor.range, out.range],
    workgroups: [nx, ny],
    bytes: 8 * n,
  });
  return out;
}

/** Read a tensor of any dtype (re-exported convenience for analyses). */
export type { ArrayOf };
