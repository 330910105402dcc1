/**
 * laminar: look inside GPT-2-class language models on any GPU with nothing but Deno.
 *
 * Hand-written WGSL kernels run GPT-2 and the heavy statistics of interpretability work
 * (all-pairs cosine similarity, covariance and mutual information between hidden states, for
 * every layer); typed tensors wrap the kernels; the analyses of the seed notebooks are plain
 * async functions from a model and an input to a small, typed result.
 *
 * @example
 * ```ts ignore
 * import { Gpt2Model, Gpt2Tokenizer, Gpu } from "@laminar/laminar";
 *
 * using gpu = await Gpu.create();
 * const model = await Gpt2Model.load(gpu); // the shipped sotu-gpt2-mini
 * const ids = new Gpt2Tokenizer().encode("It was a dark and stormy");
 * const out = await model.run(ids, { hiddenStates: true, nextTokenStats: true });
 * console.log(out.hiddenStates!.length); // (n_layer + 1) * T * n_embd
 * ```
 * @module
 */

export * from "./errors.ts";
export * from "./gpu/mod.ts";
export * from "./tensor/mod.ts";
export * from "./model/mod.ts";
export * from "./io/safetensors.ts";
export * from "./io/config.ts";
export * from "./io/hub.ts";
export * from "./io/atomic_write.ts";
export * from "./tokenizer/tokenizer.ts";
export * as stats from "./stats/mod.ts";
export * from "./analysis/common.ts";
export * from "./pairwise/mod.ts";
export * from "./autotune.ts";
export * from "./analysis/categories.ts";
export * from "./analysis/heatmap.ts";
export * from "./analysis/softmax.ts";
export * from "./analysis/layers.ts";
export * from "./analysis/intervene.ts";
export * from "./io/books.ts";
export * from "./analysis/punctuation.ts";
export * from "./analysis/contexts.ts";
export * from "./analysis/profile.ts";
