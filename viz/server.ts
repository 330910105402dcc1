/**
 * The visualization server: static pages (uPlot charts, canvas matrices, token heatmaps) and a
 * JSON API that runs the analyses on the GPU, one at a time (a FIFO queue), with results cached
 * by (model, analysis, normalised parameters) and progress streamed as Server-Sent Events.
 *
 * `deno task start [--port 8470] [--host 127.0.0.1] [--model default] [--offline] [--weights f16]`
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
import type { Gpt2Model } from "../src/model/gpt2.ts";
import type { WeightDType } from "../src/tensor/ops.ts";
import type { ModelInfo } from "../src/analysis/common.ts";
import { enterCallerFolder } from "../cli/common.ts";
import { ANALYSES, type AnalysisDef } from "./analyses.ts";
import {
  checkModelSpec as checkSpec,
  type GpuHost,
  HttpError,
  localGpuHost,
  workerGpuHost,
} from "./gpu_host.ts";
import { GpuQueue, type QueueStats } from "./queue.ts";
import { LruCache, type LruStats } from "./lru.ts";
import { queryParams, resolveSpec, validateParams } from "./params.ts";
import { contentType, findUplotDist, readStatic, STATIC_ROOT, staticTarget } from "./static.ts";

/** Options of {@linkcode startServer}. */
export interface ServerOptions {
  /** TCP port (0 = any free port). Default 8470. */
  port?: number;
  /** Address to bind. Default 127.0.0.1 (loopback only). */
  hostname?: string;
  /** The model to load at start ("default", a folder, a HF id) or an already loaded model. */
  model?: string | Gpt2Model;
  /** Never download models (web requests for other models use the local HF cache only). */
  offline?: boolean;
  /**
   * Storage of the big weight matrices of every model the server loads: "f32" (default) or
   * "f16" (halves: half the GPU memory; see `WeightOptions`).
   */
  weights?: WeightDType;
  /** Let web requests download models missing from the HF cache (default false). */
  allowDownload?: boolean;
  /** Largest request body in bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** Cached results (default 64). */
  cacheEntries?: number;
  /** Analyses to serve (default {@linkcode ANALYSES}; tests add instrumented ones). */
  analyses?: AnalysisDef[];
  /**
   * Run the GPU work in a Web Worker (default: yes when `model` is a name and `analyses` are the
   * defaults, which is what `deno task start` does; a model object or custom analyses cannot
   * cross to a worker and run in this thread). See viz/gpu_host.ts.
   */
  gpuWorker?: boolean;
  /** Print nothing (tests). */
  quiet?: boolean;
}

/** Counters of a running server (GET /api/stats). */
export interface ServerStats {
  /** GPU queue. */
  queue: QueueStats;
  /** Result cache. */
  cache: LruStats;
  /** Requests answered by joining an identical request already running. */
  joined: number;
  /** Models loaded, by spec. */
  models: string[];
}

/** A running server. */
export interface VizServer {
  /** Base URL, e.g. "http://127.0.0.1:8470/". */
  url: string;
  /** The port bound. */
  port: number;
  /** Counters. */
  stats(): ServerStats;
  /** Stop listening and wait for open connections to end. */
  close(): Promise<void>;
}

/** An event of a running analysis (the SSE stream's events). */
type JobEvent =
  | { type: "queued"; ahead: number }
  | { type: "start" }
  | { type: "progress"; stage: string; done: number; total: number };

interface Job {
  promise: Promise<string>;
  listeners: Set<(e: JobEvent) => void>;
}

const SECURITY_HEADERS: Record<string, string> = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-resource-policy": "same-origin",
  "content-security-policy": "default-src 'self'; img-src 'self' data: blob:; " +
    "style-src 'self' 'unsafe-inline'; connect-src 'self'; object-src 'none'; base-uri 'none'",
};

function json(status: number, body: unknown, extra: Record<string, string> = {}): Response {
  return new Response(typeof body === "string" ? body : JSON.stringify(body), {
    status,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
      ...SECURITY_HEADERS,
      ...extra,
    },
  });
}

/** The HTTP status and JSON body of an error. */
export function errorBody(e: unknown): { status: number; error: string; hint: string } {
  if (e instanceof HttpError) return { status: e.status, error: e.message, hint: e.hint };
  if (
    e instanceof InvalidArgumentError || e instanceof ContextLengthError || e instanceof ShapeError
  ) {
    return { status: 400, error: e.message, hint: e.hint };
  }
  if (e instanceof ModelNotFoundError || e instanceof FileNotFoundError) {
    return { status: 404, error: e.message, hint: e.hint };
  }
  // A book or model file the request named is not text / not a model (the request's fault).
  if (e instanceof FormatError) return { status: 422, error: e.message, hint: e.hint };
  // A download the server could not make (e.g. a book URL that is not cached: the server never
  // downloads books), and no GPU: not laminar bugs.
  if (e instanceof DownloadError) return { status: 502, error: e.message, hint: e.hint };
  if (e instanceof GpuUnavailableError) return { status: 503, error: e.message, hint: e.hint };
  if (e instanceof LaminarError) return { status: 500, error: e.message, hint: e.hint };
  const message = e instanceof Error ? e.message : String(e);
  return { status: 500, error: message, hint: "This is a bug in laminar; please report it" };
}

function errorResponse(e: unknown): Response {
  const { status, error, hint } = errorBody(e);
  return json(status, { error, hint });
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

/**
 * Start the server: load the model, bind, and serve until `close()`.
 *
 * @throws {InvalidArgumentError} The port is in use (hint: pass --port) or out of range.
 * @throws {ModelNotFoundError} The model cannot be found.
 */
export async function startServer(options: ServerOptions = {}): Promise<VizServer> {
  const hostname = options.hostname ?? "127.0.0.1";
  const port = options.port ?? 8470;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(`Port must be an integer from 0 to 65535, got "${port}"`);
  }
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;
  const analyses = new Map((options.analyses ?? ANALYSES).map((a) => [a.name, a]));
  const queue = new GpuQueue();
  const cache = new LruCache(options.cacheEntries ?? 64);
  const running = new Map<string, Job>();
  let joined = 0;

  // The GPU side: models and analysis runs, in a worker unless they cannot cross to one.
  const inProcess = typeof options.model === "object" || options.analyses !== undefined;
  if (options.gpuWorker && inProcess) {
    throw new InvalidArgumentError(
      "A GPU worker needs the model as a name and the default analyses",
      "Pass options.model as a string and no options.analyses, or gpuWorker: false",
    );
  }
  const hostOptions = {
    offline: options.offline,
    weights: options.weights,
    allowDownload: options.allowDownload,
  };
  const host: GpuHost = options.gpuWorker === false || inProcess
    ? await localGpuHost({ ...hostOptions, model: options.model }, analyses)
    : await workerGpuHost({ ...hostOptions, model: options.model as string | undefined });
  const checkModelSpec = (spec: string) => checkSpec(spec, host.models());

  // Infos of models seen loaded: a request for a loaded model is validated at once, without
  // waiting for the queue (models evicted since are loaded again through it).
  // (At start every loaded spec is the start model: "default" and the name it was started with.)
  const infos = new Map<string, ModelInfo>(host.models().map((s) => [s, host.startInfo]));

  /** Model info for validation (loads the model through the queue when needed). */
  async function infoOf(spec: string): Promise<{ spec: string; info: ModelInfo }> {
    const s = checkModelSpec(spec);
    const known = infos.get(s);
    if (known && host.models().includes(s)) return { spec: s, info: known };
    const info = await queue.run(() => host.info(s));
    infos.set(s, info);
    return { spec: s, info };
  }

  async function readBody(req: Request): Promise<Record<string, unknown>> {
    const declared = Number(req.headers.get("content-length") ?? "0");
    if (declared > maxBody) {
      throw new HttpError(413, `The request body is larger than ${maxBody} bytes`, "Send less");
    }
    const type = req.headers.get("content-type") ?? "";
    if (!req.body) return {};
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = req.body.getReader();
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > maxBody) {
        await reader.cancel().catch(() => {});
        throw new HttpError(413, `The request body is larger than ${maxBody} bytes`, "Send less");
      }
      chunks.push(value);
    }
    if (size === 0) return {};
    if (!type.toLowerCase().startsWith("application/json")) {
      throw new HttpError(
        415,
        `The request body must be JSON, got content type "${type}"`,
        'Send "content-type: application/json"',
      );
    }
    const bytes = new Uint8Array(size);
    let o = 0;
    for (const c of chunks) {
      bytes.set(c, o);
      o += c.length;
    }
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) {
      throw new HttpError(400, `The request body is not valid JSON: ${(e as Error).message}`);
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new HttpError(400, "The request body must be a JSON object of parameters");
    }
    return body as Record<string, unknown>;
  }

  /** Validate a request for an analysis; returns what the job needs. */
  async function prepare(def: AnalysisDef, raw: Record<string, unknown>) {
    const { spec, info } = await infoOf(typeof raw.model === "string" ? raw.model : "default");
    const params = validateParams(def.params, { ...raw, model: spec }, info);
    def.check?.(params, info);
    for (const p of def.params) {
      if (p.type === "model" && p.name !== "model" && params[p.name]) {
        params[p.name] = checkModelSpec(params[p.name] as string);
      }
    }
    const key = JSON.stringify([info.source, def.name, params]);
    return { spec, params, key };
  }

  /** The JSON text of a result: from the cache, from an identical running job, or computed. */
  function resultFor(
    def: AnalysisDef,
    spec: string,
    params: Record<string, unknown>,
    key: string,
    listener?: (e: JobEvent) => void,
  ): Promise<string> {
    const hit = cache.get(key);
    if (hit !== undefined) return Promise.resolve(hit);
    const job = running.get(key);
    if (job) {
      joined++;
      if (listener) job.listeners.add(listener);
      return job.promise;
    }
    const listeners = new Set<(e: JobEvent) => void>(listener ? [listener] : []);
    const emit = (e: JobEvent) => listeners.forEach((l) => l(e));
    let last = 0;
    const promise = queue.run(async () => {
      emit({ type: "start" });
      const text = await host.run(def.name, spec, params, (stage, done, total) => {
        const now = performance.now();
        if (done >= total || now - last > 100) {
          last = now;
          emit({ type: "progress", stage, done, total });
        }
      });
      if (def.cache !== false) cache.set(key, text);
      return text;
    }, (ahead) => emit({ type: "queued", ahead }));
    running.set(key, { promise, listeners });
    promise.then(() => running.delete(key), () => running.delete(key));
    return promise;
  }

  function sse(def: AnalysisDef, spec: string, params: Record<string, unknown>, key: string) {
    const enc = new TextEncoder();
    let open = true;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        const send = (event: string, data: string) => {
          if (!open) return;
          try {
            controller.enqueue(enc.encode(`event: ${event}\ndata: ${data}\n\n`));
          } catch {
            open = false;
          }
        };
        const finish = () => {
          if (!open) return;
          open = false;
          try {
            controller.close();
          } catch { /* already closed */ }
        };
        const cached = cache.has(key);
        if (cached) send("cached", "{}");
        resultFor(def, spec, params, key, (e) => {
          const { type, ...data } = e;
          send(type, JSON.stringify(data));
        }).then((text) => {
          send("result", text);
          finish();
        }, (e) => {
          const { status, error, hint } = errorBody(e);
          send("error", JSON.stringify({ status, error, hint }));
          finish();
        });
      },
      cancel() {
        open = false;
      },
    });
    return new Response(body, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        ...SECURITY_HEADERS,
      },
    });
  }

  let uplotDist: string | null | undefined;

  async function serveFile(root: string, rawPath: string, head: boolean): Promise<Response> {
    const target = staticTarget(root, rawPath);
    if ("status" in target) {
      return json(target.status, {
        error: target.status === 403 ? "Forbidden path" : "Not found",
        hint: target.reason,
      });
    }
    const data = await readStatic(root, target.file);
    if (!data) return json(404, { error: "Not found", hint: `No file at ${rawPath}` });
    return new Response(head ? null : data as Uint8Array<ArrayBuffer>, {
      headers: {
        "content-type": contentType(target.file),
        "content-length": String(data.length),
        "cache-control": "no-cache",
        ...SECURITY_HEADERS,
      },
    });
  }

  async function handleApi(req: Request, url: URL, parts: string[]): Promise<Response> {
    const [what, name] = parts;
    if (what === "health" && parts.length === 1) {
      const failure = host.failure();
      if (failure) throw failure;
      return json(200, { ok: true, model: host.startInfo });
    }
    if (what === "stats" && parts.length === 1) return json(200, stats());
    if (what === "model" && parts.length === 1) {
      const { spec, info } = await infoOf(url.searchParams.get("model") ?? "default");
      return json(200, { spec, ...info });
    }
    if (what === "analyses" && parts.length === 1) {
      const info = host.startInfo;
      const list = [];
      for (const a of analyses.values()) {
        list.push({
          name: a.name,
          title: a.title,
          seed: a.seed,
          description: a.description,
          available: (await a.load().catch(() => null)) !== null,
          params: a.params.map((p) => resolveSpec(p, info)),
        });
      }
      return json(200, { model: info, analyses: list });
    }
    if ((what === "run" || what === "stream") && parts.length === 2) {
      const def = analyses.get(name);
      if (!def) {
        throw new HttpError(
          404,
          `Unknown analysis "${name}"`,
          `Known analyses: ${[...analyses.keys()].join(", ")}`,
        );
      }
      if (req.method !== "GET" && req.method !== "POST") {
        throw new HttpError(405, `Method ${req.method} is not allowed here`, "Use GET or POST");
      }
      const raw = req.method === "POST"
        ? { ...queryParams(url), ...await readBody(req) }
        : queryParams(url);
      const { spec, params, key } = await prepare(def, raw);
      if (what === "stream") return sse(def, spec, params, key);
      const hit = cache.has(key);
      const text = await resultFor(def, spec, params, key);
      return json(200, text, { "x-laminar-cache": hit ? "hit" : "miss" });
    }
    throw new HttpError(404, `No API endpoint ${url.pathname}`, "See GET /api/analyses");
  }

  function hostAllowed(req: Request, boundPort: number): boolean {
    if (!LOOPBACK.has(hostname)) return true;
    const host = req.headers.get("host") ?? "";
    const m = host.match(/^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/);
    return !!m && LOOPBACK.has(m[1].toLowerCase()) && (m[2] ?? "80") === String(boundPort);
  }

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    if (!hostAllowed(req, server.addr.port)) {
      return json(403, {
        error: `Host "${req.headers.get("host")}" is not allowed`,
        hint: "Open the server through http://127.0.0.1:<port>/",
      });
    }
    const origin = req.headers.get("origin");
    if (origin && req.method !== "GET" && req.method !== "HEAD" && origin !== url.origin) {
      return json(403, { error: `Cross-origin request from "${origin}" refused`, hint: "" });
    }
    // The raw path as sent (URL() already collapsed "/../"); refuse traversal on that too.
    const rawPath = req.url.replace(/^[a-z]+:\/\/[^/]*/i, "").split(/[?#]/)[0];
    if (rawPath.includes("..") || rawPath.includes("\\") || /%2e%2e|%5c|%00/i.test(rawPath)) {
      return json(403, { error: "Forbidden path", hint: "path traversal" });
    }
    const path = url.pathname;
    try {
      if (path.startsWith("/api/")) {
        const parts = path.slice(5).split("/").filter((s) => s !== "").map(decodeURIComponent);
        return await handleApi(req, url, parts);
      }
      if (req.method !== "GET" && req.method !== "HEAD") {
        return json(405, { error: `Method ${req.method} is not allowed`, hint: "Use GET" });
      }
      if (path.startsWith("/vendor/")) {
        uplotDist ??= await findUplotDist();
        const file = path.slice("/vendor/".length);
        if (file !== "uPlot.esm.js" && file !== "uPlot.min.css") {
          return json(404, { error: "Not found", hint: "Vendored: uPlot.esm.js, uPlot.min.css" });
        }
        if (!uplotDist) {
          return json(404, {
            error: "uPlot is not installed",
            hint: "Run `deno install` in the repository (it fills node_modules/)",
          });
        }
        return await serveFile(uplotDist, "/" + file, req.method === "HEAD");
      }
      return await serveFile(STATIC_ROOT, rawPath, req.method === "HEAD");
    } catch (e) {
      return errorResponse(e);
    }
  }

  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      port,
      hostname,
      onListen: () => {},
      onError: (e) => errorResponse(e),
    }, handle);
  } catch (e) {
    await host.close();
    if (e instanceof Deno.errors.AddrInUse) {
      throw new InvalidArgumentError(
        `Port ${port} is in use`,
        "Pass --port <another port> (or --port 0 for any free one)",
      );
    }
    if (e instanceof Deno.errors.AddrNotAvailable) {
      throw new InvalidArgumentError(`Cannot bind to address "${hostname}"`, "Check --host");
    }
    throw e;
  }

  function stats(): ServerStats {
    return {
      queue: queue.stats(),
      cache: cache.stats(),
      joined,
      models: host.models(),
    };
  }

  const bound = server.addr.port;
  const shownHost = hostname.includes(":") ? `[${hostname}]` : hostname;
  const serverUrl = `http://${shownHost === "0.0.0.0" ? "127.0.0.1" : shownHost}:${bound}/`;
  if (!options.quiet) {
    console.log(`laminar viz: ${serverUrl}  (model: ${host.startInfo.source})`);
    if (!LOOPBACK.has(hostname)) {
      console.log(`warning: listening on ${hostname}, reachable from other machines`);
    }
  }
  return {
    url: serverUrl,
    port: bound,
    stats,
    async close() {
      await server.shutdown(); // waits for the requests in flight, analyses included
      await host.close();
    },
  };
}

const HELP = `usage: deno task start [options]

Starts the laminar visualization server (pages for every analysis, run live on the GPU).

Options:
  --port <n>        TCP port (default 8470; 0 = any free port)
  --host <addr>     address to bind (default 127.0.0.1, loopback only)
  --model <m>       model loaded at start: "default" (models/sotu-gpt2-mini), a folder
                    with config.json + model.safetensors, or a Hugging Face id
  --offline         never touch the network (also HF_HUB_OFFLINE=1)
  --weights <w>     storage of the big weight matrices of every model loaded: f32
                    (default) or f16 (IEEE halves: half the GPU memory, math in f32)
  --allow-download  let pages request models missing from the Hugging Face cache
  -h, --help        this help`;

async function main(args: string[]): Promise<number> {
  const { parse, num, reportError, weightsOption } = await import("../cli/common.ts");
  try {
    const { values } = parse(args, {
      port: { type: "string" },
      host: { type: "string", default: "127.0.0.1" },
      model: { type: "string", default: "default" },
      offline: { type: "boolean", default: false },
      weights: { type: "string", default: "f32" },
      "allow-download": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const port = num(values.port, "port", 8470, { min: 0, max: 65535, integer: true });
    const server = await startServer({
      port,
      hostname: values.host,
      model: values.model,
      offline: values.offline,
      weights: weightsOption(values.weights),
      allowDownload: values["allow-download"],
    });
    console.log("Press Ctrl-C to stop.");
    Deno.addSignalListener("SIGINT", () => {
      server.close().finally(() => Deno.exit(0));
    });
    return -1;
  } catch (e) {
    return reportError(e);
  }
}

if (import.meta.main) {
  enterCallerFolder();
  const code = await main(Deno.args);
  if (code >= 0) Deno.exit(code);
}
