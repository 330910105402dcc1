/**
 * Parameter specs of the viz API and their validation. Every parameter of every analysis is
 * declared here-style (type, bounds, default), checked before any GPU work starts, and
 * normalised (defaults filled, numbers parsed) so equal requests share one cache entry.
 * @module
 */

import { InvalidArgumentError } from "../src/errors.ts";
import type { ModelInfo } from "../src/analysis/common.ts";

/** Kinds of parameter. */
export type ParamType =
  | "text" // a long text (textarea)
  | "string" // a short string
  | "int"
  | "number"
  | "bool"
  | "enum"
  | "ints" // list of integers ("1,2,3" or [1,2,3])
  | "strings" // list of strings (one per line / comma separated, or an array)
  | "model"; // a model spec

/** A bound that may depend on the model (e.g. the number of layers). */
export type Bound = number | ((m: ModelInfo) => number);

/** One parameter of an analysis. */
export interface ParamSpec {
  /** Name in the query string / JSON body. */
  name: string;
  /** Kind. */
  type: ParamType;
  /** Label shown in the page's form. */
  label: string;
  /** One line of help (form tooltip, docs). */
  help?: string;
  /** Default value (may depend on the model); undefined = optional with no default. */
  default?: unknown | ((m: ModelInfo) => unknown);
  /** Smallest value (numbers, list items). */
  min?: Bound;
  /** Largest value (numbers, list items). */
  max?: Bound;
  /** Longest text / string item (characters). */
  maxLength?: number;
  /** Most list items. */
  maxItems?: number;
  /** Fewest list items. */
  minItems?: number;
  /** Allowed values of an enum. */
  choices?: readonly string[];
  /** Form step of an "int" (decimals take any value: see viz/static/js/page.js). */
  step?: number;
  /** Text shown in the empty field (what empty means). */
  placeholder?: string;
}

/** A spec made JSON-friendly for one model (bounds and defaults evaluated). */
export interface ResolvedParamSpec {
  /** Name. */
  name: string;
  /** Kind. */
  type: ParamType;
  /** Label. */
  label: string;
  /** Help. */
  help?: string;
  /** Default. */
  default?: unknown;
  /** Smallest value. */
  min?: number;
  /** Largest value. */
  max?: number;
  /** Longest text. */
  maxLength?: number;
  /** Most items. */
  maxItems?: number;
  /** Fewest items. */
  minItems?: number;
  /** Enum choices. */
  choices?: readonly string[];
  /** Form step of an "int". */
  step?: number;
  /** Text shown in the empty field. */
  placeholder?: string;
}

function bound(b: Bound | undefined, m: ModelInfo): number | undefined {
  return typeof b === "function" ? b(m) : b;
}

/** Evaluate a spec's bounds and default for a model (for /api/analyses and the forms). */
export function resolveSpec(spec: ParamSpec, m: ModelInfo): ResolvedParamSpec {
  const d = typeof spec.default === "function"
    ? (spec.default as (m: ModelInfo) => unknown)(m)
    : spec.default;
  return {
    name: spec.name,
    type: spec.type,
    label: spec.label,
    help: spec.help,
    default: d,
    min: bound(spec.min, m),
    max: bound(spec.max, m),
    maxLength: spec.maxLength,
    maxItems: spec.maxItems,
    minItems: spec.minItems,
    choices: spec.choices,
    step: spec.step,
    placeholder: spec.placeholder,
  };
}

function bad(name: string, what: string, value: unknown): InvalidArgumentError {
  const shown = typeof value === "string" ? value : JSON.stringify(value);
  const short = shown !== undefined && shown.length > 60 ? shown.slice(0, 57) + "..." : shown;
  return new InvalidArgumentError(
    `Parameter "${name}" must be ${what}, got "${short}"`,
    `Fix "${name}" (see GET /api/analyses for every parameter's range)`,
  );
}

function range(s: ResolvedParamSpec): string {
  return [
    s.min !== undefined ? `>= ${s.min}` : "",
    s.max !== undefined ? `<= ${s.max}` : "",
  ].filter(Boolean).join(" and ");
}

function toNumber(s: ResolvedParamSpec, v: unknown, integer: boolean): number {
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
  const what = (integer ? "an integer" : "a number") + (range(s) ? " " + range(s) : "");
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) throw bad(s.name, what, v);
  if ((s.min !== undefined && n < s.min) || (s.max !== undefined && n > s.max)) {
    throw bad(s.name, what, v);
  }
  return n;
}

function toList(s: ResolvedParamSpec, v: unknown, separators: RegExp): unknown[] {
  const items = Array.isArray(v)
    ? v
    : typeof v === "string"
    ? v.split(separators).map((x) => x.trim()).filter((x) => x !== "")
    : null;
  if (items === null) throw bad(s.name, "a list", v);
  const max = s.maxItems ?? 10_000;
  if (items.length > max) {
    throw new InvalidArgumentError(
      `Parameter "${s.name}" has ${items.length} items, more than the limit of ${max}`,
      `Give at most ${max} items`,
    );
  }
  if (items.length < (s.minItems ?? 0)) {
    throw new InvalidArgumentError(
      `Parameter "${s.name}" has ${items.length} items, fewer than the ${s.minItems} needed`,
      `Give at least ${s.minItems} items`,
    );
  }
  return items;
}

function toString(s: ResolvedParamSpec, v: unknown): string {
  if (typeof v !== "string") throw bad(s.name, "a string", v);
  const max = s.maxLength ?? 1000;
  if (v.length > max) {
    throw new InvalidArgumentError(
      `Parameter "${s.name}" has ${v.length} characters, more than the limit of ${max}`,
      `Shorten "${s.name}" to at most ${max} characters`,
    );
  }
  return v;
}

/** Check and normalise one value. */
export function checkValue(s: ResolvedParamSpec, v: unknown): unknown {
  switch (s.type) {
    case "text":
    case "string":
    case "model":
      return toString(s, v);
    case "int":
      return toNumber(s, v, true);
    case "number":
      return toNumber(s, v, false);
    case "bool":
      if (typeof v === "boolean") return v;
      if (v === "true" || v === "1" || v === "on") return true;
      if (v === "false" || v === "0" || v === "off") return false;
      throw bad(s.name, "true or false", v);
    case "enum":
      if (typeof v !== "string" || !s.choices!.includes(v)) {
        throw bad(s.name, `one of ${s.choices!.join(", ")}`, v);
      }
      return v;
    case "ints":
      return toList(s, v, /[,\s]+/).map((x) => toNumber(s, x, true));
    case "strings":
      return toList(s, v, /[\n,]+/).map((x) =>
        toString({ ...s, maxLength: s.maxLength ?? 200 }, x)
      );
  }
}

/**
 * Validate raw parameters (from a query string or a JSON body) against specs for a model.
 * Unknown names and bad values are {@linkcode InvalidArgumentError}s; absent ones take their
 * default. The result lists the parameters in spec order (a stable cache key).
 */
export function validateParams(
  specs: readonly ParamSpec[],
  raw: Record<string, unknown>,
  m: ModelInfo,
): Record<string, unknown> {
  const known = new Set(specs.map((s) => s.name));
  for (const k of Object.keys(raw)) {
    if (!known.has(k)) {
      throw new InvalidArgumentError(
        `Unknown parameter "${k}"`,
        `Known parameters: ${[...known].join(", ") || "none"}`,
      );
    }
  }
  const out: Record<string, unknown> = {};
  for (const spec of specs) {
    const s = resolveSpec(spec, m);
    const v = raw[s.name];
    if (v === undefined || v === null || (v === "" && s.type !== "text" && s.type !== "string")) {
      if (s.default !== undefined) out[s.name] = s.default;
      continue;
    }
    out[s.name] = checkValue(s, v);
  }
  return out;
}

/** Parameters of a URL's query string (a repeated name becomes a list). */
export function queryParams(url: URL): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of new Set(url.searchParams.keys())) {
    const all = url.searchParams.getAll(k);
    out[k] = all.length === 1 ? all[0] : all;
  }
  return out;
}
