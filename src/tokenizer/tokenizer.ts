/**
 * GPT-2 byte-level BPE tokenizer (OpenAI r50k_base, identical to HF `gpt2`), with exact
 * per-token bytes and byte spans for visualizations.
 * @module
 */

import { encode as r50kEncode } from "gpt-tokenizer/encoding/r50k_base";
import r50kRanks from "gpt-tokenizer/bpeRanks/r50k_base";
import { InvalidArgumentError } from "../errors.ts";

/** Id of `<|endoftext|>`, GPT-2's only special token (also its BOS/EOS). */
export const EOT_ID = 50256;

/** The text of the `<|endoftext|>` token. */
export const EOT_TEXT = "<|endoftext|>";

/** Number of GPT-2 token ids (50256 BPE tokens + `<|endoftext|>`). */
export const GPT2_VOCAB_SIZE = 50257;

/** One token of a tokenized text. */
export interface TokenPiece {
  /** Token id in [0, 50257). */
  id: number;
  /** The token's exact bytes (GPT-2 tokens are byte sequences, not always whole characters). */
  bytes: Uint8Array;
  /** Byte offset of the token's first byte in the UTF-8 encoding of the text. */
  start: number;
  /** Byte offset just past the token's last byte (`end - start === bytes.length`). */
  end: number;
  /**
   * Display string: the token's bytes decoded as UTF-8, where a byte that does not belong to a
   * character complete within this token (a token splitting a multi-byte character) is shown
   * as a `\xNN` escape, e.g. "🙂" split in two tokens shows as "\xf0\x9f" and "\x99\x82".
   * Literal backslashes in the text are shown unchanged.
   */
  text: string;
}

/** Options of {@linkcode Gpt2Tokenizer.encode}. */
export interface EncodeOptions {
  /**
   * Map the literal text `<|endoftext|>` to {@linkcode EOT_ID} (HF's behaviour, the default).
   * When false it is tokenized as ordinary characters.
   */
  allowSpecial?: boolean;
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });
const lossyDecoder = new TextDecoder("utf-8", { ignoreBOM: true });
// gpt-tokenizer 3.4.0 finds allowed special tokens only at the very start of the text (its
// special-token regex is sticky), so `<|endoftext|>` is split out here and every segment is
// encoded as plain text.
const PLAIN = { disallowedSpecial: new Set<string>() };

function hex(b: number): string {
  return `\\x${b.toString(16).padStart(2, "0")}`;
}

/** Length of the UTF-8 sequence a lead byte starts, or 0 when it cannot start one. */
function utf8Length(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

/**
 * Decode bytes as UTF-8, showing each byte outside a complete, valid character as `\xNN`.
 * @example
 * ```ts
 * import { displayBytes } from "./tokenizer.ts";
 * displayBytes(new Uint8Array([0x68, 0x69, 0xe2, 0x80])); // "hi\\xe2\\x80"
 * ```
 */
export function displayBytes(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  while (i < bytes.length) {
    const n = utf8Length(bytes[i]);
    if (n === 1) {
      out += String.fromCharCode(bytes[i]);
      i += 1;
      continue;
    }
    if (n > 0 && i + n <= bytes.length) {
      try {
        out += strictDecoder.decode(bytes.subarray(i, i + n));
        i += n;
        continue;
      } catch {
        // Invalid continuation, overlong or surrogate: fall through to the escape.
      }
    }
    out += hex(bytes[i]);
    i += 1;
  }
  return out;
}

/**
 * GPT-2 tokenizer. Stateless apart from a lazily filled table of token bytes; share one instance.
 *
 * @example
 * ```ts
 * import { Gpt2Tokenizer } from "./tokenizer.ts";
 * const tok = new Gpt2Tokenizer();
 * tok.encode("Hello world"); // [15496, 995]
 * tok.tokenize("Hi 🙂").map((p) => p.text); // ["Hi", " \\xf0\\x9f", "\\x99\\x82"]
 * ```
 */
export class Gpt2Tokenizer {
  /** Number of token ids. */
  readonly vocabSize: number = GPT2_VOCAB_SIZE;
  /** Id of `<|endoftext|>`. */
  readonly eotId: number = EOT_ID;
  #bytes: (Uint8Array | undefined)[] = new Array(GPT2_VOCAB_SIZE);

  /** Token ids of `text` (same ids as HF's `GPT2TokenizerFast`). */
  encode(text: string, options: EncodeOptions = {}): number[] {
    if (options.allowSpecial === false || !text.includes(EOT_TEXT)) {
      return r50kEncode(text, PLAIN);
    }
    const ids: number[] = [];
    text.split(EOT_TEXT).forEach((segment, i) => {
      if (i > 0) ids.push(EOT_ID);
      if (segment) ids.push(...r50kEncode(segment, PLAIN));
    });
    return ids;
  }

  /**
   * The text of `ids` (bytes decoded as UTF-8; invalid or incomplete sequences become U+FFFD).
   * @throws {InvalidArgumentError} When an id is not an integer in [0, 50257).
   */
  decode(ids: Iterable<number>): string {
    // Not gpt-tokenizer's decode: 3.4.0 decodes with `stream: true` and never flushes, so it
    // drops a trailing partial character and carries it into the next call.
    const parts = Array.from(ids, (id) => this.tokenBytes(id));
    const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const part of parts) {
      bytes.set(part, offset);
      offset += part.length;
    }
    return lossyDecoder.decode(bytes);
  }

  /**
   * The exact bytes of token `id` (a shared array: do not modify it).
   * @throws {InvalidArgumentError} When `id` is not an integer in [0, 50257).
   */
  tokenBytes(id: number): Uint8Array {
    this.#check(id);
    let bytes = this.#bytes[id];
    if (!bytes) {
      const entry = id === EOT_ID ? EOT_TEXT : r50kRanks[id];
      bytes = typeof entry === "string" ? encoder.encode(entry) : Uint8Array.from(entry);
      this.#bytes[id] = bytes;
    }
    return bytes;
  }

  /** The display string of token `id` (see {@linkcode TokenPiece.text}). */
  tokenText(id: number): string {
    return displayBytes(this.tokenBytes(id));
  }

  /**
   * Tokens of `text` with their bytes and byte spans. The spans are contiguous and cover the
   * UTF-8 encoding of `text` exactly; concatenating every piece's `bytes` gives it back.
   *
   * @example
   * ```ts
   * import { Gpt2Tokenizer } from "./tokenizer.ts";
   * const pieces = new Gpt2Tokenizer().tokenize("Hello world");
   * pieces.map((p) => [p.id, p.start, p.end, p.text]); // [[15496, 0, 5, "Hello"], [995, 5, 11, " world"]]
   * ```
   */
  tokenize(text: string, options: EncodeOptions = {}): TokenPiece[] {
    let offset = 0;
    return this.encode(text, options).map((id) => {
      const bytes = this.tokenBytes(id);
      const piece = {
        id,
        bytes,
        start: offset,
        end: offset + bytes.length,
        text: displayBytes(bytes),
      };
      offset += bytes.length;
      return piece;
    });
  }

  #check(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= GPT2_VOCAB_SIZE) {
      throw new InvalidArgumentError(
        `Token id "${id}" is outside the GPT-2 vocabulary [0, ${GPT2_VOCAB_SIZE})`,
        "Pass ids produced by the GPT-2 tokenizer",
      );
    }
  }
}
