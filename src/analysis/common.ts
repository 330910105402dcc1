/**
 * Shared pieces of the analyses: model description, checked tokenization, progress reporting,
 * the versioned result envelope.
 * @module
 */

import { ContextLengthError, InvalidArgumentError } from "../errors.ts";
import type { Gpt2Model } from "../model/gpt2.ts";
import { Gpt2Tokenizer, type TokenPiece } from "../tokenizer/tokenizer.ts";

/** What a result says about the model that produced it. */
export interface ModelInfo {
  /** Folder the weights came from (or "random"). */
  source: string;
  /** Blocks. */
  nLayer: number;
  /** Heads per block. */
  nHead: number;
  /** Residual width. */
  nEmbd: number;
  /** Vocabulary size. */
  vocabSize: number;
  /** Context window. */
  nPositions: number;
  /** Storage of the big weight matrices: "f32", or "f16" (halves; results differ by ~1e-2). */
  weights: "f32" | "f16";
}

/** Describe a model for a result. */
export function modelInfo(model: Gpt2Model): ModelInfo {
  const c = model.config;
  return {
    source: model.source,
    nLayer: c.nLayer,
    nHead: c.nHead,
    nEmbd: c.nEmbd,
    vocabSize: c.vocabSize,
    nPositions: c.nPositions,
    weights: model.weights.dtype,
  };
}

/** Progress callback: a stage name and how far it is (done of total units). */
export type Progress = (stage: string, done: number, total: number) => void;

/** Common options of every analysis. */
export interface AnalysisOptions {
  /** Called as long work advances (tokenising a book, batches, sweeps). */
  onProgress?: Progress;
}

let tokenizer: Gpt2Tokenizer | null = null;

/** The GPT-2 tokenizer (shared instance). */
export function gpt2Tokenizer(): Gpt2Tokenizer {
  tokenizer ??= new Gpt2Tokenizer();
  return tokenizer;
}

/**
 * Tokenize a text for a model: empty text and texts longer than the context are clear errors.
 * `minTokens` (default 1) is the fewest tokens the analysis can use.
 */
export function tokenizeForModel(
  model: Gpt2Model,
  text: string,
  minTokens = 1,
): TokenPiece[] {
  if (text.trim() === "") {
    throw new InvalidArgumentError("The text is empty", "Give a text with some words in it");
  }
  const pieces = gpt2Tokenizer().tokenize(text);
  if (pieces.length < minTokens) {
    throw new InvalidArgumentError(
      `The text has ${pieces.length} token(s); this analysis needs at least ${minTokens}`,
      "Give a longer text",
    );
  }
  const max = model.config.nPositions;
  if (pieces.length > max) {
    throw new ContextLengthError(
      `The text has ${pieces.length} tokens, more than the model's context of ${max}`,
      `Shorten the text to at most ${max} tokens`,
    );
  }
  for (const p of pieces) {
    if (p.id >= model.config.vocabSize) {
      throw new InvalidArgumentError(
        `Token ${p.id} (${
          JSON.stringify(p.text)
        }) is outside the model's vocabulary of ${model.config.vocabSize}`,
        "Use a model with the GPT-2 vocabulary",
      );
    }
  }
  return pieces;
}
