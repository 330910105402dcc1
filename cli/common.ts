/**
 * Shared CLI plumbing: argument parsing, model loading, input text, output writing, errors.
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { FileNotFoundError, InvalidArgumentError, LaminarError } from "../src/errors.ts";
import { Gpu } from "../src/gpu/context.ts";
import { Gpt2Model } from "../src/model/gpt2.ts";
import type { WeightDType } from "../src/tensor/ops.ts";
import { writeFileAtomic } from "../src/io/atomic_write.ts";

/** A CLI command: `deno task cli <name> ...`. */
export interface CliCommand {
  /** Command name. */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Full usage text (printed by --help). */
  help: string;
  /** Run with the arguments after the command name; returns the exit code. */
  run(args: string[]): Promise<number>;
}

/** Options every analysis command accepts. */
export const COMMON_OPTIONS = {
  model: { type: "string", default: "default" },
  offline: { type: "boolean", default: false },
  weights: { type: "string", default: "f32" },
  json: { type: "boolean", default: false },
  out: { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const satisfies ParseArgsConfig["options"];

/** Help lines for {@linkcode COMMON_OPTIONS}. */
export const COMMON_HELP = `Common options:
  --model <m>     "default" (models/sotu-gpt2-mini), a folder with config.json +
                  model.safetensors, or a Hugging Face id (gpt2, gpt2-medium, ...;
                  from the HF cache, downloaded when missing)
  --offline       never touch the network (also HF_HUB_OFFLINE=1)
  --weights <w>   storage of the big weight matrices: f32 (default) or f16 (IEEE
                  halves: half the memory; math stays f32, results within ~1e-2)
  --json          print the versioned JSON result instead of the terminal view
  --out <file>    write the JSON result to a file (atomically)
  -h, --help      this help`;

/** Parse arguments strictly; unknown options become a clear error. */
export function parse<O extends ParseArgsConfig["options"]>(
  args: string[],
  options: O,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message.replace(/\.$/, ""), "See --help");
  }
}

/** A decimal number as people write it (no hex, binary, octal or Infinity). */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** The numbers of a comma-separated option value; null when an item is empty or not decimal. */
export function decimalList(value: string): number[] | null {
  const parts = value.split(",").map((s) => s.trim());
  return parts.every((s) => DECIMAL.test(s)) ? parts.map(Number) : null;
}

/** Parse a number option (decimal), with a clear error. */
export function num(
  value: string | undefined,
  name: string,
  fallback: number,
  check: { min?: number; max?: number; integer?: boolean } = {},
): number {
  if (value === undefined) return fallback;
  const v = Number(value);
  if (
    !DECIMAL.test(value.trim()) || !Number.isFinite(v) || (check.integer && !Number.isInteger(v)) ||
    (check.min !== undefined && v < check.min) || (check.max !== undefined && v > check.max)
  ) {
    const range = [
      check.integer ? "an integer" : "a number",
      check.min !== undefined ? `>= ${check.min}` : "",
      check.max !== undefined ? `<= ${check.max}` : "",
    ].filter(Boolean).join(" ");
    throw new InvalidArgumentError(
      `Option --${name} must be ${range}, got "${value}"`,
      `For example --${name} ${example(check, fallback)}`,
    );
  }
  return v;
}

/** A valid value for the hint of a rejected number option. */
function example(check: { min?: number; max?: number; integer?: boolean }, fallback: number) {
  const ok = (v: number) =>
    Number.isFinite(v) && (!check.integer || Number.isInteger(v)) &&
    (check.min === undefined || v >= check.min) && (check.max === undefined || v <= check.max);
  return [fallback, check.min, check.max, 1].find((v) => v !== undefined && ok(v)) ?? fallback;
}

/** Parse a comma-separated list of integers. */
export function intList(value: string | undefined, name: string): number[] | undefined {
  if (value === undefined) return undefined;
  const parts = value.split(",").map((s) => s.trim());
  const out = parts.map(Number);
  if (
    parts.some((s) => !/^[+-]?\d+$/.test(s)) || out.some((v) => !Number.isSafeInteger(v))
  ) {
    throw new InvalidArgumentError(
      `Option --${name} must be a comma-separated list of integers, got "${value}"`,
      `For example --${name}=1,2,3`,
    );
  }
  return out;
}

/**
 * Move to the folder the user ran the command from, so relative paths (--file, --out, --model
 * folders) mean what they typed: `./laminar` passes it as LAMINAR_CWD, `deno task` as INIT_CWD
 * (both switch to the project folder first). Repo files (the shipped model, the viz pages) are
 * found from the module's own location, not the working folder.
 */
export function enterCallerFolder(): void {
  let dir: string | undefined;
  try {
    dir = Deno.env.get("LAMINAR_CWD") || Deno.env.get("INIT_CWD");
    if (dir && Deno.statSync(dir).isDirectory) Deno.chdir(dir);
  } catch {
    // no permission or a stale folder: stay where the task started
  }
}

let gpuPromise: Promise<Gpu> | null = null;

/** The process's GPU (created on first use). */
export function getGpu(): Promise<Gpu> {
  gpuPromise ??= Gpu.create();
  return gpuPromise;
}

/** Parse --weights: "f32" (the default) or "f16". */
export function weightsOption(value: string | undefined): WeightDType {
  if (value === undefined || value === "f32" || value === "f16") return value ?? "f32";
  throw new InvalidArgumentError(
    `Option --weights must be f32 or f16, got "${value}"`,
    "Use --weights f16 to store the weight matrices as halves (half the memory)",
  );
}

/**
 * Load the model named by --model with the --offline and --weights options (the one place the
 * CLI loads models; progress on stderr when downloading).
 */
export async function loadModel(
  spec: string,
  options: { offline?: boolean; weights?: string } = {},
): Promise<Gpt2Model> {
  const weights = weightsOption(options.weights);
  const gpu = await getGpu();
  return await Gpt2Model.load(gpu, spec, {
    offline: options.offline || Deno.env.get("HF_HUB_OFFLINE") === "1",
    weights,
  });
}

/**
 * Read a UTF-8 file named by an option, every failure a typed error: missing, a folder, not
 * readable (`what` names it in messages, e.g. 'The words file').
 */
export async function readInputFile(path: string, what = "File"): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new FileNotFoundError(`${what} "${path}" does not exist`, "Check the path");
    }
    const why = e instanceof Deno.errors.IsADirectory ? "it is a folder" : (e as Error).message;
    throw new FileNotFoundError(
      `${what} "${path}" cannot be read: ${why}`,
      "Pass a readable UTF-8 text file",
      { cause: e },
    );
  }
}

/** Read a text from --text, --file, or stdin ("-"). Empty text is an error. */
export async function readText(opts: { text?: string; file?: string }): Promise<string> {
  let text: string;
  if (opts.text !== undefined) text = opts.text;
  else if (opts.file !== undefined) {
    text = opts.file === "-"
      ? await new Response(Deno.stdin.readable).text()
      : await readInputFile(opts.file);
  } else {
    throw new InvalidArgumentError("No text was given", 'Pass --text "..." or --file <path>');
  }
  if (text.trim() === "") {
    throw new InvalidArgumentError("The text is empty", "Give a text with some words in it");
  }
  return text;
}

/** Print or write a JSON result (`--json` prints, `--out` writes atomically). */
export async function emitJson(result: unknown, opts: { json?: boolean; out?: string }) {
  const text = JSON.stringify(result, null, 1) + "\n";
  if (opts.out !== undefined && opts.out.trim() === "") {
    throw new InvalidArgumentError(
      "Option --out is an empty path",
      "Give a file name, e.g. --out result.json",
    );
  }
  if (opts.out) await writeFileAtomic(opts.out, text);
  if (opts.json) await Deno.stdout.write(new TextEncoder().encode(text));
}

/** Whether to colour terminal output (a TTY, NO_COLOR unset). */
export function useColor(): boolean {
  return Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
}

/** Print a progress line on stderr (only on a TTY). */
export function progress(msg: string): void {
  if (Deno.stderr.isTerminal()) {
    Deno.stderr.writeSync(new TextEncoder().encode(`\r\x1b[2K${msg}`));
  }
}

/** End a progress line. */
export function progressDone(): void {
  if (Deno.stderr.isTerminal()) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[2K"));
}

/** Print an error for the user: message and hint, no stack trace for LaminarErrors. */
export function reportError(e: unknown): number {
  if (e instanceof LaminarError) {
    console.error(`error: ${e.message}`);
    if (e.hint) console.error(`hint: ${e.hint}`);
    if (Deno.env.get("LAMINAR_DEBUG")) console.error(e.stack);
    return 1;
  }
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  return 2;
}
