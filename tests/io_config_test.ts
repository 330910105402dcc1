import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { FileNotFoundError, FormatError } from "../src/errors.ts";
import { parseGpt2Config, readGpt2Config } from "../src/io/config.ts";

const TINY = fileURLToPath(new URL("./fixtures/tiny-gpt2", import.meta.url));

const GPT2_SMALL = {
  architectures: ["GPT2LMHeadModel"],
  model_type: "gpt2",
  n_layer: 12,
  n_head: 12,
  n_embd: 768,
  n_positions: 1024,
  n_ctx: 1024,
  vocab_size: 50257,
  layer_norm_epsilon: 1e-5,
  activation_function: "gelu_new",
};

Deno.test("tiny fixture config", async () => {
  const cfg = await readGpt2Config(TINY);
  assert.deepEqual(cfg, {
    nLayer: 3,
    nHead: 4,
    nEmbd: 64,
    nPositions: 128,
    vocabSize: 2048,
    nInner: 256,
    layerNormEps: 1e-5,
    activation: "gelu_new",
    scaleAttnWeights: true,
    scaleAttnByInverseLayerIdx: false,
    reorderAndUpcastAttn: false,
  });
});

Deno.test("shipped model config parses", async () => {
  const dir = fileURLToPath(new URL("../models/sotu-gpt2-mini", import.meta.url));
  const cfg = await readGpt2Config(dir);
  assert.equal(cfg.nEmbd % cfg.nHead, 0);
  assert.equal(cfg.vocabSize, 50257);
});

Deno.test("gpt2 small and distilgpt2 style configs, defaults", () => {
  const small = parseGpt2Config(GPT2_SMALL, "gpt2/config.json");
  assert.equal(small.nInner, 3072);
  assert.equal(small.activation, "gelu_new");
  const distil = parseGpt2Config(
    { model_type: "gpt2", n_layer: 6, n_head: 12, n_embd: 768, n_ctx: 1024, vocab_size: 50257 },
    "distilgpt2/config.json",
  );
  assert.equal(distil.nLayer, 6);
  assert.equal(distil.nPositions, 1024);
  assert.equal(distil.layerNormEps, 1e-5);
  assert.equal(distil.scaleAttnWeights, true);
  // Architectures alone identify GPT-2; aliases are normalized.
  const arch = parseGpt2Config(
    { ...GPT2_SMALL, model_type: undefined, architectures: ["GPT2Model"], n_inner: 1000 },
    "x",
  );
  assert.equal(arch.nInner, 1000);
  assert.equal(
    parseGpt2Config({ ...GPT2_SMALL, activation_function: "gelu_pytorch_tanh" }, "x").activation,
    "gelu_new",
  );
  assert.equal(
    parseGpt2Config({ ...GPT2_SMALL, activation_function: "relu" }, "x").activation,
    "relu",
  );
  assert.equal(
    parseGpt2Config({ ...GPT2_SMALL, scale_attn_by_inverse_layer_idx: true }, "x")
      .scaleAttnByInverseLayerIdx,
    true,
  );
});

Deno.test("invalid configs give FormatError", () => {
  const bad: [string, unknown][] = [
    ["not an object", [1]],
    ["null", null],
    ["other model", { ...GPT2_SMALL, model_type: "llama", architectures: ["LlamaForCausalLM"] }],
    ["zero layers", { ...GPT2_SMALL, n_layer: 0 }],
    ["fractional heads", { ...GPT2_SMALL, n_head: 1.5 }],
    ["string width", { ...GPT2_SMALL, n_embd: "768" }],
    ["missing vocab", { ...GPT2_SMALL, vocab_size: undefined }],
    ["missing positions", { ...GPT2_SMALL, n_positions: undefined, n_ctx: undefined }],
    ["indivisible heads", { ...GPT2_SMALL, n_head: 5 }],
    ["bad n_inner", { ...GPT2_SMALL, n_inner: -1 }],
    ["bad eps", { ...GPT2_SMALL, layer_norm_epsilon: 0 }],
    ["unsupported activation", { ...GPT2_SMALL, activation_function: "quick_gelu" }],
    ["non-boolean flag", { ...GPT2_SMALL, scale_attn_weights: "yes" }],
  ];
  for (const [label, json] of bad) {
    assert.throws(
      () => parseGpt2Config(json, "bad/config.json"),
      (e: unknown) =>
        e instanceof FormatError && e.message.includes('"bad/config.json"') && e.hint.length > 0,
      label,
    );
  }
});

Deno.test("readGpt2Config: missing file and invalid JSON", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(readGpt2Config(dir), FileNotFoundError);
    await Deno.writeTextFile(join(dir, "config.json"), "{oops");
    await assert.rejects(readGpt2Config(dir), FormatError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
