/**
 * Hugging Face GPT-2 `config.json`: parsing and validation into a camel-case {@linkcode Gpt2Config}.
 * @module
 */

import { join } from "node:path";
import { FileNotFoundError, FormatError } from "../errors.ts";

/**
 * MLP activations a config may name. HF aliases are normalized: "gelu_pytorch_tanh" and
 * "gelu_fast" are the same tanh approximation as "gelu_new"; "swish" is "silu". The GPU forward
 * pass implements only "gelu_new"; Gpt2Model refuses the others.
 */
export type Gpt2Activation = "gelu_new" | "gelu" | "relu" | "silu";

/** HF `activation_function` values accepted, mapped to the activation laminar runs. */
export const ACTIVATION_ALIASES: Readonly<Record<string, Gpt2Activation>> = {
  gelu_new: "gelu_new",
  gelu_pytorch_tanh: "gelu_new",
  gelu_fast: "gelu_new",
  gelu: "gelu",
  relu: "relu",
  silu: "silu",
  swish: "silu",
};

/** Hyper-parameters of a GPT-2 checkpoint (HF `GPT2Config`, camel-cased). */
export interface Gpt2Config {
  /** Number of transformer blocks (`n_layer`). */
  nLayer: number;
  /** Attention heads per block (`n_head`); divides `nEmbd`. */
  nHead: number;
  /** Residual stream width d_model (`n_embd`). */
  nEmbd: number;
  /** Context window in tokens (`n_positions`, or legacy `n_ctx`). */
  nPositions: number;
  /** Vocabulary size (`vocab_size`). */
  vocabSize: number;
  /** MLP hidden width (`n_inner`, default 4 * nEmbd). */
  nInner: number;
  /** Layer-norm epsilon (`layer_norm_epsilon`, default 1e-5). */
  layerNormEps: number;
  /** MLP activation (`activation_function`, default "gelu_new"), normalized. */
  activation: Gpt2Activation;
  /** Divide attention scores by sqrt(head dim) (`scale_attn_weights`, default true). */
  scaleAttnWeights: boolean;
  /** Also divide attention scores by (layer index + 1) (`scale_attn_by_inverse_layer_idx`, default false). */
  scaleAttnByInverseLayerIdx: boolean;
  /** Compute attention scores in float32 (`reorder_and_upcast_attn`, default false); no effect when already float32. */
  reorderAndUpcastAttn: boolean;
}

const ARCHITECTURES = ["GPT2LMHeadModel", "GPT2Model"];
const HINT = "Pass a Hugging Face GPT-2 checkpoint (config.json from transformers)";

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/**
 * Validate a parsed HF `config.json` and convert it to a {@linkcode Gpt2Config}.
 *
 * @param json The parsed JSON.
 * @param source Where it came from (a path), used in error messages.
 * @throws {FormatError} When it is not a GPT-2 config (model_type "gpt2" or architectures
 * GPT2LMHeadModel/GPT2Model), a size is not a positive integer, n_embd is not divisible by
 * n_head, or the activation is unsupported.
 *
 * @example
 * ```ts
 * import { parseGpt2Config } from "./config.ts";
 * const cfg = parseGpt2Config(
 *   { model_type: "gpt2", n_layer: 6, n_head: 12, n_embd: 768, n_positions: 1024, vocab_size: 50257 },
 *   "distilgpt2/config.json",
 * );
 * cfg.nInner; // 3072
 * ```
 */
export function parseGpt2Config(json: unknown, source: string): Gpt2Config {
  if (!isRecord(json)) {
    throw new FormatError(`Config "${source}" is not a JSON object`, HINT);
  }
  const archs = Array.isArray(json.architectures) ? json.architectures : [];
  const isGpt2 = json.model_type === "gpt2" ||
    archs.some((a) => typeof a === "string" && ARCHITECTURES.includes(a));
  if (!isGpt2) {
    throw new FormatError(
      `Config "${source}" describes model_type "${String(json.model_type)}"${
        archs.length ? ` (architectures ${JSON.stringify(archs)})` : ""
      }, not GPT-2`,
      "laminar runs only GPT-2 family checkpoints (gpt2, gpt2-medium, distilgpt2, ...)",
    );
  }
  const posInt = (key: string, fallbackKey?: string): number => {
    const value = json[key] ?? (fallbackKey ? json[fallbackKey] : undefined);
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
      throw new FormatError(
        `Config "${source}" has ${key} "${
          JSON.stringify(value) ?? "missing"
        }", not a positive integer`,
        HINT,
      );
    }
    return value;
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const value = json[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== "boolean") {
      throw new FormatError(
        `Config "${source}" has ${key} "${JSON.stringify(value)}", not true or false`,
        HINT,
      );
    }
    return value;
  };
  const nLayer = posInt("n_layer");
  const nHead = posInt("n_head");
  const nEmbd = posInt("n_embd");
  const nPositions = posInt("n_positions", "n_ctx");
  const vocabSize = posInt("vocab_size");
  if (nEmbd % nHead !== 0) {
    throw new FormatError(
      `Config "${source}" has n_embd "${nEmbd}" not divisible by n_head "${nHead}"`,
      HINT,
    );
  }
  const nInner = json.n_inner === undefined || json.n_inner === null
    ? 4 * nEmbd
    : posInt("n_inner");
  const eps = json.layer_norm_epsilon ?? 1e-5;
  if (typeof eps !== "number" || !Number.isFinite(eps) || eps <= 0) {
    throw new FormatError(
      `Config "${source}" has layer_norm_epsilon "${JSON.stringify(eps)}", not a positive number`,
      HINT,
    );
  }
  const act = json.activation_function ?? "gelu_new";
  const activation = typeof act === "string" && Object.hasOwn(ACTIVATION_ALIASES, act)
    ? ACTIVATION_ALIASES[act]
    : undefined;
  if (!activation) {
    throw new FormatError(
      `Config "${source}" has unsupported activation_function "${String(act)}"`,
      `Use a checkpoint whose activation is one of ${Object.keys(ACTIVATION_ALIASES).join(", ")}`,
    );
  }
  return {
    nLayer,
    nHead,
    nEmbd,
    nPositions,
    vocabSize,
    nInner,
    layerNormEps: eps,
    activation,
    scaleAttnWeights: bool("scale_attn_weights", true),
    scaleAttnByInverseLayerIdx: bool("scale_attn_by_inverse_layer_idx", false),
    reorderAndUpcastAttn: bool("reorder_and_upcast_attn", false),
  };
}

/**
 * Read and validate `config.json` in a model folder.
 * @throws {FileNotFoundError} When `dir/config.json` does not exist or cannot be read.
 * @throws {FormatError} When it is not valid JSON or not a valid GPT-2 config.
 *
 * @example
 * ```ts ignore
 * const cfg = await readGpt2Config("tests/fixtures/tiny-gpt2");
 * cfg.nLayer; // 3
 * ```
 */
export async function readGpt2Config(dir: string): Promise<Gpt2Config> {
  const path = join(dir, "config.json");
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new FileNotFoundError(
      error instanceof Deno.errors.NotFound
        ? `Config file "${path}" does not exist`
        : `Config file "${path}" cannot be read: ${(error as Error).message}`,
      "Pass a model folder that holds config.json and model.safetensors",
      { cause: error },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new FormatError(
      `Config file "${path}" is not valid JSON: ${(error as Error).message}`,
      "Re-download the model or fix the file",
      { cause: error },
    );
  }
  return parseGpt2Config(json, path);
}
