/**
 * Where the viz server's GPU work runs: its models and the analyses that use them. The server
 * (viz/server.ts) keeps the HTTP side, the FIFO queue, the result cache and parameter validation,
 * and calls a {@linkcode GpuHost} inside its queue, one call at a time.
 *
 * - {@linkcode localGpuHost}: in the server's own thread (tests, and a model object passed in).
 * - {@linkcode workerGpuHost}: in a Web Worker (viz/gpu_worker.ts), what `deno task start` uses.
 *   Deno's WebGPU readback holds its thread until the GPU is idle, so GPU work on the server's
 *   thread would stall every other request and the progress events while a stage runs (seconds
 *   on a CPU adapter); in a worker only the worker waits.
 * @module
 */

import {
  ContextLengthError,
  DownloadError,
  FileNotFoundError,
  FormatError,
  GpuUnavailableError,
  InvalidArgumentError,
  LaminarError,
  ModelNotFoundError,
  ShapeError,
} from "../src/errors.ts";
import { Gpt2Model } from "../src/model/gpt2.ts";
import type { WeightDType } from "../src/tensor/ops.ts";
import { type ModelInfo, modelInfo, type Progress } from "../src/analysis/common.ts";
import { isValidRepoId } from "../src/io/hub.ts";
import { getGpu } from "../cli/common.ts";
import type { AnalysisDef } from "./analyses.ts";

/** An error with an HTTP status, for the API's JSON errors. */
export class HttpError extends Error {
  /** Create an error answered with `status`, its message and a hint. */
  constructor(readonly status: number, message: string, readonly hint = "") {
    super(message);
    this.name = "HttpError";
  }
}

/** What a host needs to load models (all of it structured-cloneable but a model object). */
export interface GpuHostOptions {
  /** The model to load at start ("default", a folder, a HF id) or an already loaded model. */
  model?: string | Gpt2Model;
  /** Never download models. */
  offline?: boolean;
  /** Storage of the big weight matrices of every model loaded. */
  weights?: WeightDType;
  /** Let requests download models missing from the HF cache. */
  allowDownload?: boolean;
}

/** The GPU side of the server. Call `info` and `run` one at a time (inside the server's queue). */
export interface GpuHost {
  /** The start model. */
  readonly startInfo: ModelInfo;
  /** Why the host can no longer run anything (a worker that stopped), or null while it can. */
  failure(): Error | null;
  /** Specs of the loaded models ("default" first). */
  models(): string[];
  /** A model's info by spec, loading it when needed. */
  info(spec: string): Promise<ModelInfo>;
  /** Run analysis `name` on the model `spec`; the result as JSON text. */
  run(
    name: string,
    spec: string,
    params: Record<string, unknown>,
    onProgress: Progress,
  ): Promise<string>;
  /**
   * Release the host: a worker is stopped (calls still running are rejected); models it loaded
   * are disposed, a model passed in is left to its owner.
   */
  close(): Promise<void>;
}

/**
 * "default" for an empty spec; refuses what is neither a loaded model nor a Hugging Face repo id
 * (pages cannot name local folders: those only through --model at start).
 */
export function checkModelSpec(spec: string, loaded: readonly string[]): string {
  const s = spec.trim() === "" ? "default" : spec.trim();
  if (loaded.includes(s)) return s;
  if (!isValidRepoId(s) || s.includes("..") || s.startsWith("/") || s.includes("\\")) {
    throw new InvalidArgumentError(
      `Model "${spec}" is not a Hugging Face repo id`,
      'The server loads "default", its start model, or a repo id such as "gpt2" (local folders ' +
        "only through --model at start)",
    );
  }
  return s;
}

/** Runs the GPU work in this thread. `analyses`: the runners by name. */
export async function localGpuHost(
  options: GpuHostOptions,
  analyses: ReadonlyMap<string, AnalysisDef>,
): Promise<GpuHost> {
  const userOffline = options.offline || Deno.env.get("HF_HUB_OFFLINE") === "1";
  const start = typeof options.model === "object"
    ? options.model
    : await Gpt2Model.load(await getGpu(), options.model ?? "default", {
      offline: userOffline,
      weights: options.weights,
    });
  const startSpec = typeof options.model === "string" ? options.model : "default";
  const models = new Map<string, Gpt2Model>([["default", start]]);
  if (startSpec !== "default") models.set(startSpec, start);
  const extraModels: string[] = []; // load order of the others (at most 2 kept)
  // Models the call now running uses: never evicted (disposed) under it, e.g. when an analysis
  // loads a second model to compare with. Cleared when the call ends.
  const inUse = new Set<Gpt2Model>();

  async function getModel(spec: string): Promise<Gpt2Model> {
    const s = checkModelSpec(spec, [...models.keys()]);
    const have = models.get(s);
    if (have) {
      inUse.add(have);
      return have;
    }
    let model: Gpt2Model;
    try {
      model = await Gpt2Model.load(await getGpu(), s, {
        offline: !options.allowDownload || userOffline,
        weights: options.weights,
      });
    } catch (e) {
      // Offline because this server does not download (no --allow-download): say that.
      if (!(e instanceof ModelNotFoundError) || options.allowDownload || userOffline) throw e;
      throw new ModelNotFoundError(
        `Model "${s}" is not in this server's Hugging Face cache, and the server does not ` +
          "download models",
        'Choose "default" or a cached model, or restart the server with --allow-download',
        { cause: e },
      );
    }
    models.set(s, model);
    inUse.add(model);
    extraModels.push(s);
    while (extraModels.length > 2) {
      // The oldest model the running call does not use (a call may hold more than two a while).
      const k = extraModels.findIndex((x) => !inUse.has(models.get(x)!));
      if (k < 0) break;
      const [old] = extraModels.splice(k, 1);
      models.get(old)?.dispose();
      models.delete(old);
    }
    return model;
  }

  return {
    startInfo: modelInfo(start),
    failure: () => null,
    models: () => [...models.keys()],
    async info(spec) {
      try {
        return modelInfo(await getModel(spec));
      } finally {
        inUse.clear();
      }
    },
    async run(name, spec, params, onProgress) {
      try {
        const def = analyses.get(name);
        const run = await def?.load();
        if (!run) {
          throw new HttpError(
            501,
            `The analysis "${name}" is not available yet`,
            `Its library module src/analysis/${name}.ts is missing or not wired to the server`,
          );
        }
        const model = await getModel(spec);
        return JSON.stringify(await run({ model, getModel, params, onProgress }));
      } finally {
        inUse.clear();
      }
    },
    close() {
      for (const m of new Set(models.values())) if (m !== options.model) m.dispose();
      models.clear();
      return Promise.resolve();
    },
  };
}

/** An error as it crosses from the worker: enough to rebuild its class, status and hint. */
export interface SentError {
  name: string;
  message: string;
  hint: string;
  status?: number;
  /** A LaminarError (a subclass this side may not know is revived as LaminarError). */
  laminar?: boolean;
}

/** The structured-cloneable form of an error (see {@linkcode reviveError}). */
export function sendableError(e: unknown): SentError {
  if (e instanceof HttpError) {
    return { name: "HttpError", message: e.message, hint: e.hint, status: e.status };
  }
  if (e instanceof LaminarError) {
    return { name: e.name, message: e.message, hint: e.hint, laminar: true };
  }
  const name = e instanceof Error ? e.name : "Error";
  return { name, message: e instanceof Error ? e.message : String(e), hint: "" };
}

const LAMINAR_ERRORS: Record<string, new (message: string, hint?: string) => LaminarError> = {
  ContextLengthError,
  DownloadError,
  FileNotFoundError,
  FormatError,
  GpuUnavailableError,
  InvalidArgumentError,
  LaminarError,
  ModelNotFoundError,
  ShapeError,
};

/** The error a worker sent, as an instance of its own class (so it maps to the same status). */
export function reviveError(e: SentError): Error {
  if (e.name === "HttpError") return new HttpError(e.status ?? 500, e.message, e.hint);
  const Class = LAMINAR_ERRORS[e.name] ?? (e.laminar ? LaminarError : undefined);
  if (Class) return new Class(e.message, e.hint);
  const error = new Error(e.message);
  error.name = e.name;
  return error;
}

/** A message from the worker (viz/gpu_worker.ts). */
export type WorkerReply =
  | { id: number; type: "done"; value: unknown; models: string[] }
  | { id: number; type: "error"; error: SentError; models: string[] }
  | { id: number; type: "progress"; stage: string; done: number; total: number };

/** A request to the worker. */
export type WorkerRequest =
  | { id: number; type: "init"; options: Omit<GpuHostOptions, "model"> & { model?: string } }
  | { id: number; type: "info"; spec: string }
  | { id: number; type: "run"; name: string; spec: string; params: Record<string, unknown> };

/**
 * Runs the GPU work in a Web Worker (viz/gpu_worker.ts, the server's default analyses): loads the
 * start model there and resolves once it is ready.
 *
 * @throws {ModelNotFoundError} (and the other load errors) The start model cannot be loaded.
 */
export async function workerGpuHost(
  options: Omit<GpuHostOptions, "model"> & { model?: string },
): Promise<GpuHost> {
  const worker = new Worker(new URL("./gpu_worker.ts", import.meta.url).href, { type: "module" });
  let nextId = 0;
  let models: string[] = ["default"];
  const pending = new Map<number, {
    resolve(v: unknown): void;
    reject(e: Error): void;
    onProgress?: Progress;
  }>();
  let dead: Error | null = null;
  let ready = false;
  const failAll = (e: Error) => {
    dead = e;
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  worker.onmessage = (ev: MessageEvent<WorkerReply>) => {
    const m = ev.data;
    const p = pending.get(m.id);
    if (!p) return;
    if (m.type === "progress") {
      p.onProgress?.(m.stage, m.done, m.total);
      return;
    }
    pending.delete(m.id);
    models = m.models;
    if (m.type === "done") p.resolve(m.value);
    else p.reject(reviveError(m.error));
  };
  worker.onerror = (ev: ErrorEvent) => {
    ev.preventDefault();
    failAll(
      new GpuUnavailableError(
        `The GPU worker stopped: ${ev.message}`,
        ready ? "Restart the server" : "This is a bug in laminar; please report it",
      ),
    );
  };
  const call = <T>(req: WorkerRequest, onProgress?: Progress): Promise<T> => {
    if (dead) return Promise.reject(dead);
    return new Promise<T>((resolve, reject) => {
      pending.set(req.id, { resolve: resolve as (v: unknown) => void, reject, onProgress });
      try {
        worker.postMessage(req);
      } catch (e) {
        pending.delete(req.id);
        reject(e);
      }
    });
  };
  let startInfo: ModelInfo;
  try {
    startInfo = await call<ModelInfo>({ id: nextId++, type: "init", options });
    ready = true;
  } catch (e) {
    worker.terminate();
    throw e;
  }
  return {
    startInfo,
    failure: () => dead,
    models: () => models,
    info: (spec) => call<ModelInfo>({ id: nextId++, type: "info", spec }),
    run: (name, spec, params, onProgress) =>
      call<string>({ id: nextId++, type: "run", name, spec, params }, onProgress),
    close() {
      failAll(new GpuUnavailableError("The server is closing", "Try again once it is back"));
      worker.terminate();
      return Promise.resolve();
    },
  };
}
