/**
 * Resolve a `--model` argument to a local folder holding `config.json` and `model.safetensors`:
 * a local folder, a Hugging Face repo already in the local cache, or a repo downloaded into that
 * cache (same layout as `huggingface_hub`, so both tools share downloads).
 *
 * Cache layout under the cache folder (HF_HUB_CACHE, else HF_HOME/hub, else
 * ~/.cache/huggingface/hub):
 * ```
 * models--{org}--{name}/
 *   blobs/{etag}                      file contents (".incomplete" while downloading)
 *   refs/{revision}                   commit hash the revision pointed to
 *   snapshots/{commit}/{file}         relative symlink to ../../blobs/{etag} (or a copy)
 * ```
 * Concurrent downloads of the same repo by two processes are not coordinated.
 * @module
 */

import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DownloadError, ModelNotFoundError } from "../errors.ts";
import { writeFileAtomic } from "./atomic_write.ts";

/** Files a model folder must hold. */
export const REQUIRED_FILES = ["config.json", "model.safetensors"] as const;

/** The model shipped with laminar, used for `--model default` or an empty `--model`. */
export const DEFAULT_MODEL_DIR: string = fileURLToPath(
  new URL("../../models/sotu-gpt2-mini", import.meta.url),
);

/** Download progress of one file. */
export interface DownloadProgress {
  /** Repo-relative file name, e.g. "model.safetensors". */
  file: string;
  /** Bytes on disk so far (including a resumed part). */
  loaded: number;
  /** Full size in bytes, when the server said. */
  total?: number;
  /** Average speed of this transfer, bytes per second. */
  bytesPerSecond: number;
  /** True on the last call for this file. */
  done: boolean;
}

/** Options of {@linkcode resolveModel}. */
export interface ResolveModelOptions {
  /** Never download (default: the HF_HUB_OFFLINE environment variable). */
  offline?: boolean;
  /** Hugging Face cache folder (default: HF_HUB_CACHE, HF_HOME/hub, ~/.cache/huggingface/hub). */
  cacheDir?: string;
  /** Hub URL (default: HF_ENDPOINT or https://huggingface.co). */
  endpoint?: string;
  /** Branch, tag or commit hash (default "main"). */
  revision?: string;
  /** Called during downloads; when given, no progress bar is drawn. */
  onProgress?: (progress: DownloadProgress) => void;
  /** Bearer token (default: HF_TOKEN). */
  token?: string;
  /**
   * Abort a download that receives no data for this long, keeping the partial file so the next
   * call resumes (default: LAMINAR_DOWNLOAD_STALL_S seconds, else 60 s). Above 2^31 - 1 ms
   * (about 24.8 days; Infinity included) there is no watchdog.
   */
  stallTimeoutMs?: number;
}

/** Where a model was found. */
export interface ResolvedModel {
  /** Absolute folder holding config.json and model.safetensors. */
  dir: string;
  /** "local": a folder given by the user; "cache": already in the HF cache; "download": fetched now. */
  source: "local" | "cache" | "download";
  /** The Hugging Face repo id, when `spec` named one. */
  repoId?: string;
}

function env(name: string): string | undefined {
  try {
    const value = Deno.env.get(name);
    return value === "" ? undefined : value;
  } catch {
    return undefined; // no --allow-env: behave as if unset
  }
}

function envFlag(name: string): boolean {
  return ["1", "true", "yes", "on"].includes((env(name) ?? "").toLowerCase());
}

/** The Hugging Face hub cache folder from the environment (see {@linkcode ResolveModelOptions.cacheDir}). */
export function defaultCacheDir(): string {
  const hubCache = env("HF_HUB_CACHE");
  if (hubCache) return resolve(expandHome(hubCache));
  const hfHome = env("HF_HOME");
  if (hfHome) return resolve(expandHome(hfHome), "hub");
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return resolve(expandHome(xdg), "huggingface", "hub");
  return join(homeDir(), ".cache", "huggingface", "hub");
}

function homeDir(): string {
  const home = env("HOME") ?? env("USERPROFILE");
  if (!home) {
    throw new ModelNotFoundError(
      "Cannot locate the Hugging Face cache: HOME is not set",
      "Set HF_HUB_CACHE to a cache folder, or pass a local model folder",
    );
  }
  return home;
}

function expandHome(path: string): string {
  return path === "~" || path.startsWith("~/") ? join(homeDir(), path.slice(1)) : path;
}

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return null;
    }
    throw error;
  }
}

async function isFile(path: string): Promise<boolean> {
  return (await statOrNull(path))?.isFile ?? false;
}

/** Check a local model folder; throws ModelNotFoundError naming what is missing. */
async function checkModelFolder(dir: string): Promise<void> {
  const missing: string[] = [];
  for (const file of REQUIRED_FILES) {
    if (!(await isFile(join(dir, file)))) missing.push(file);
  }
  if (missing.length === 0) return;
  if (missing.includes("model.safetensors")) {
    if (await isFile(join(dir, "model.safetensors.index.json"))) {
      throw new ModelNotFoundError(
        `Model folder "${dir}" holds a sharded checkpoint (model.safetensors.index.json); only a single model.safetensors is supported`,
        'Re-save it unsharded, e.g. model.save_pretrained(dir, max_shard_size="100GB") in transformers',
      );
    }
    if (await isFile(join(dir, "pytorch_model.bin"))) {
      throw new ModelNotFoundError(
        `Model folder "${dir}" holds only pytorch_model.bin; only safetensors checkpoints are supported`,
        "Convert it with transformers: AutoModelForCausalLM.from_pretrained(dir).save_pretrained(dir, safe_serialization=True)",
      );
    }
  }
  throw new ModelNotFoundError(
    `Model folder "${dir}" is missing ${missing.join(" and ")}`,
    "Pass a folder that holds a Hugging Face GPT-2 checkpoint: config.json and model.safetensors",
  );
}

const REPO_PART = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?$/;

/** Whether `id` is a valid Hugging Face repo id ("name" or "org/name"). */
export function isValidRepoId(id: string): boolean {
  const parts = id.split("/");
  return parts.length >= 1 && parts.length <= 2 && id.length <= 96 &&
    parts.every((p) => REPO_PART.test(p) && !p.includes("--") && !p.includes(".."));
}

function validRevision(revision: string): boolean {
  return revision.length > 0 && revision.length <= 255 && !revision.startsWith("/") &&
    !revision.split("/").some((p) => p === "" || p === "." || p === "..") &&
    /^[A-Za-z0-9._/-]+$/.test(revision);
}

/** The cache folder of a repo: `{cacheDir}/models--{org}--{name}`. */
export function repoCacheDir(cacheDir: string, repoId: string): string {
  return join(cacheDir, `models--${repoId.replaceAll("/", "--")}`);
}

const COMMIT_HASH = /^[0-9a-f]{40}$/;

/**
 * Resolve `spec` to a folder holding `config.json` and `model.safetensors`.
 *
 * - "" or "default": {@linkcode DEFAULT_MODEL_DIR}.
 * - an existing folder: itself.
 * - otherwise a Hugging Face repo id ("gpt2", "openai-community/gpt2"): the cached snapshot of
 *   `revision`, else a download into the cache (unless offline). A download interrupted midway
 *   leaves `blobs/*.incomplete`, which the next call resumes with an HTTP Range request.
 *
 * @throws {ModelNotFoundError} When the folder lacks a file, the repo id is malformed, the repo
 * or file does not exist on the hub (HTTP 404), or it is not cached while offline.
 * @throws {DownloadError} For network errors, HTTP 401/403 and other failed downloads.
 *
 * @example
 * ```ts ignore
 * const { dir, source } = await resolveModel("openai-community/gpt2");
 * console.log(dir); // ~/.cache/huggingface/hub/models--openai-community--gpt2/snapshots/<commit>
 * ```
 */
export async function resolveModel(
  spec: string,
  options: ResolveModelOptions = {},
): Promise<ResolvedModel> {
  const trimmed = spec.trim();
  if (trimmed === "" || trimmed === "default") {
    await checkModelFolder(DEFAULT_MODEL_DIR);
    return { dir: DEFAULT_MODEL_DIR, source: "local" };
  }
  const localPath = trimmed.startsWith("file:") ? fileURLToPath(trimmed) : expandHome(trimmed);
  const info = await statOrNull(localPath);
  if (info) {
    const dir = resolve(localPath);
    if (!info.isDirectory) {
      throw new ModelNotFoundError(
        `Model path "${trimmed}" is a file, not a folder`,
        "Pass the folder that holds config.json and model.safetensors",
      );
    }
    await checkModelFolder(dir);
    return { dir, source: "local" };
  }
  const looksLikePath = isAbsolute(localPath) || /^\.\.?([/\\]|$)/.test(trimmed) ||
    trimmed.includes("\\") || trimmed.split("/").length > 2;
  if (looksLikePath || !isValidRepoId(trimmed)) {
    throw new ModelNotFoundError(
      looksLikePath
        ? `Model folder "${trimmed}" does not exist`
        : `Model "${trimmed}" is neither an existing folder nor a valid Hugging Face repo id`,
      'Pass a folder with config.json and model.safetensors, or a repo id such as "openai-community/gpt2"',
    );
  }
  return await resolveRepo(trimmed, options);
}

async function readRef(repoDir: string, revision: string): Promise<string | undefined> {
  if (COMMIT_HASH.test(revision)) return revision;
  try {
    const commit = (await Deno.readTextFile(join(repoDir, "refs", revision))).trim();
    return commit && !commit.includes("/") && commit !== ".." ? commit : undefined;
  } catch {
    return undefined;
  }
}

async function resolveRepo(repoId: string, options: ResolveModelOptions): Promise<ResolvedModel> {
  const revision = options.revision ?? "main";
  if (!validRevision(revision)) {
    throw new ModelNotFoundError(
      `Revision "${revision}" is not a valid branch, tag or commit name`,
      'Pass a branch such as "main", a tag, or a 40-character commit hash',
    );
  }
  const cacheDir = options.cacheDir ? resolve(options.cacheDir) : defaultCacheDir();
  const repoDir = repoCacheDir(cacheDir, repoId);
  const cachedCommit = await readRef(repoDir, revision);
  if (cachedCommit) {
    const snapshot = join(repoDir, "snapshots", cachedCommit);
    const present = await Promise.all(REQUIRED_FILES.map((f) => isFile(join(snapshot, f))));
    if (present.every(Boolean)) return { dir: snapshot, source: "cache", repoId };
  }
  const offline = options.offline ?? envFlag("HF_HUB_OFFLINE");
  if (offline) {
    throw new ModelNotFoundError(
      `Model "${repoId}" (revision "${revision}") is not in the Hugging Face cache and offline mode is on`,
      `Looked in "${repoDir}"; go online to download it (drop --offline / unset HF_HUB_OFFLINE), or pass a local folder with config.json and model.safetensors`,
    );
  }
  const endpoint = (options.endpoint ?? env("HF_ENDPOINT") ?? "https://huggingface.co")
    .replace(/\/+$/, "");
  const token = options.token ?? env("HF_TOKEN") ?? env("HUGGING_FACE_HUB_TOKEN");
  const progress = options.onProgress ?? (isStderrTerminal() ? drawProgressBar : undefined);
  const stallEnv = Number(env("LAMINAR_DOWNLOAD_STALL_S"));
  const stallTimeoutMs = options.stallTimeoutMs ??
    (stallEnv > 0 ? stallEnv * 1000 : 60_000);
  const ctx: DownloadContext = { repoId, repoDir, endpoint, token, progress, stallTimeoutMs };

  // config.json first: it is small and its response names the commit; model.safetensors is then
  // fetched at that exact commit so both files belong to one snapshot.
  let commit: string | undefined;
  for (const file of REQUIRED_FILES) {
    const rev = commit && COMMIT_HASH.test(commit) ? commit : revision;
    const got = await downloadToCache(ctx, rev, file);
    commit ??= got.commit ?? (COMMIT_HASH.test(revision) ? revision : undefined) ??
      revision.replaceAll("/", "--");
    await placeInSnapshot(join(repoDir, "snapshots", commit), file, got.blob);
  }
  if (!COMMIT_HASH.test(revision)) {
    const refPath = join(repoDir, "refs", revision);
    await Deno.mkdir(dirname(refPath), { recursive: true });
    await writeFileAtomic(refPath, commit!);
  }
  return { dir: join(repoDir, "snapshots", commit!), source: "download", repoId };
}

interface DownloadContext {
  repoId: string;
  repoDir: string;
  endpoint: string;
  token?: string;
  progress?: (p: DownloadProgress) => void;
  stallTimeoutMs: number;
}

interface FileMetadata {
  commit?: string;
  etag?: string;
  size?: number;
}

function cleanEtag(etag: string | null): string | undefined {
  if (!etag) return undefined;
  const stripped = etag.replace(/^W\//, "").replaceAll('"', "").trim();
  return /^[A-Za-z0-9._-]{1,128}$/.test(stripped) && !stripped.startsWith(".")
    ? stripped
    : undefined;
}

function parseSize(value: string | null): number | undefined {
  if (value === null || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value.trim());
}

function networkError(url: string, error: unknown): DownloadError {
  return new DownloadError(
    `Cannot reach "${url}": ${(error as Error)?.message ?? String(error)}`,
    "Check your internet connection, or set HF_HUB_OFFLINE=1 and pass a local model folder",
    { cause: error },
  );
}

function statusError(ctx: DownloadContext, url: string, file: string, status: number): Error {
  if (status === 404) {
    return new ModelNotFoundError(
      `Hugging Face repository or file not found: "${ctx.repoId}" file "${file}" (HTTP 404 from ${url})`,
      "Check the repo id and revision; a GPT-2 checkpoint needs config.json and model.safetensors",
    );
  }
  if (status === 401 || status === 403) {
    return new DownloadError(
      `Access to "${ctx.repoId}" was denied (HTTP ${status} from ${url})`,
      ctx.token
        ? "Check that HF_TOKEN is valid and has access to this repository"
        : "The repository may be gated or private: set HF_TOKEN to an access token with read permission",
    );
  }
  return new DownloadError(
    `Downloading "${file}" of "${ctx.repoId}" failed with HTTP ${status} (${url})`,
    "Try again later, or set HF_HUB_OFFLINE=1 and pass a local model folder",
  );
}

function headers(ctx: DownloadContext, extra: Record<string, string> = {}): Headers {
  const h = new Headers({ "accept-encoding": "identity", ...extra });
  if (ctx.token) h.set("authorization", `Bearer ${ctx.token}`);
  return h;
}

/**
 * Metadata of a hub file without downloading it: a HEAD request that does not follow redirects
 * to the CDN (the hub's own response carries X-Repo-Commit and, for LFS files, X-Linked-Etag /
 * X-Linked-Size). Relative redirects (renamed repos) are followed.
 */
async function fetchMetadata(ctx: DownloadContext, url: string, file: string) {
  let current = url;
  for (let hop = 0; hop < 5; hop++) {
    let res: Response;
    try {
      res = await fetch(current, { method: "HEAD", headers: headers(ctx), redirect: "manual" });
    } catch (error) {
      throw networkError(current, error);
    }
    await res.body?.cancel();
    const meta: FileMetadata = {
      commit: res.headers.get("x-repo-commit") ?? undefined,
      etag: cleanEtag(res.headers.get("x-linked-etag") ?? res.headers.get("etag")),
      size: parseSize(res.headers.get("x-linked-size") ?? res.headers.get("content-length")),
    };
    if (res.status >= 300 && res.status < 400) {
      const location = res.headers.get("location");
      const hubAnswered = res.headers.has("x-repo-commit") || res.headers.has("x-linked-etag");
      if (hubAnswered || !location) {
        // A redirect to the CDN: the hub's headers describe the file; Content-Length does not.
        if (!res.headers.has("x-linked-size")) meta.size = undefined;
        return { meta, url: current };
      }
      current = new URL(location, current).href;
      continue;
    }
    if (res.status === 405 || res.status === 501) return { meta: {}, url: current }; // no HEAD
    if (!res.ok) throw statusError(ctx, current, file, res.status);
    return { meta, url: current };
  }
  throw new DownloadError(
    `Too many redirects for "${url}"`,
    "Check HF_ENDPOINT, or set HF_HUB_OFFLINE=1 and pass a local model folder",
  );
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Download one file into `blobs/` (resuming a partial download); returns the blob path and commit. */
async function downloadToCache(
  ctx: DownloadContext,
  revision: string,
  file: string,
): Promise<{ blob: string; commit?: string }> {
  const url = `${ctx.endpoint}/${ctx.repoId}/resolve/${encodeURIComponent(revision)}/${file}`;
  const { meta, url: finalUrl } = await fetchMetadata(ctx, url, file);
  const blobName = meta.etag ?? await sha256Hex(url);
  const blobsDir = join(ctx.repoDir, "blobs");
  const blob = join(blobsDir, blobName);
  await Deno.mkdir(blobsDir, { recursive: true });
  const existing = await statOrNull(blob);
  if (existing?.isFile && (meta.size === undefined || existing.size === meta.size) && meta.etag) {
    return { blob, commit: meta.commit };
  }
  await downloadBlob(ctx, finalUrl, file, blob, meta.size);
  return { blob, commit: meta.commit };
}

/** Parse `Content-Range: bytes a-b/total`. */
function parseContentRange(value: string | null): { start: number; total?: number } | undefined {
  const m = value?.match(/^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/);
  if (!m) return undefined;
  return { start: Number(m[1]), total: m[3] === "*" ? undefined : Number(m[3]) };
}

async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let written = 0;
  while (written < data.length) written += await file.write(data.subarray(written));
}

/** Longest delay setTimeout honours (ms); longer ones fire after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

async function downloadBlob(
  ctx: DownloadContext,
  url: string,
  file: string,
  blob: string,
  expectedSize: number | undefined,
): Promise<void> {
  const incomplete = `${blob}.incomplete`;
  let resumeFrom = (await statOrNull(incomplete))?.size ?? 0;
  if (expectedSize !== undefined && resumeFrom >= expectedSize) {
    // A stale partial file as large as the whole: do not trust it.
    await Deno.remove(incomplete).catch(() => {});
    resumeFrom = 0;
  }
  const extra: Record<string, string> = resumeFrom > 0 ? { range: `bytes=${resumeFrom}-` } : {};
  // A watchdog aborts the request when no data arrives for stallTimeoutMs (connect or body).
  // setTimeout runs delays above 2^31 - 1 ms after 1 ms: longer timeouts (and Infinity) disarm it.
  const controller = new AbortController();
  let watchdog: ReturnType<typeof setTimeout> | undefined;
  const armed = ctx.stallTimeoutMs <= MAX_TIMER_MS;
  const kick = () => {
    clearTimeout(watchdog);
    if (!armed) return;
    watchdog = setTimeout(
      () => controller.abort(new Error(`no data for ${ctx.stallTimeoutMs / 1000} s`)),
      ctx.stallTimeoutMs,
    );
  };
  kick();
  try {
    return await receiveBlob(ctx, url, file, blob, expectedSize, {
      incomplete,
      resumeFrom,
      extra,
      signal: controller.signal,
      kick,
    });
  } finally {
    clearTimeout(watchdog);
  }
}

async function receiveBlob(
  ctx: DownloadContext,
  url: string,
  file: string,
  blob: string,
  expectedSize: number | undefined,
  r: {
    incomplete: string;
    resumeFrom: number;
    extra: Record<string, string>;
    signal: AbortSignal;
    kick: () => void;
  },
): Promise<void> {
  const { incomplete, resumeFrom, extra } = r;
  let res: Response;
  try {
    res = await fetch(url, { headers: headers(ctx, extra), signal: r.signal });
  } catch (error) {
    throw networkError(url, r.signal.aborted ? r.signal.reason : error);
  }
  r.kick();
  if (res.status === 416 && resumeFrom > 0) {
    await res.body?.cancel();
    await Deno.remove(incomplete).catch(() => {});
    return downloadBlob(ctx, url, file, blob, expectedSize); // restart from 0
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw statusError(ctx, url, file, res.status);
  }
  let start = 0;
  let total: number | undefined;
  const length = parseSize(res.headers.get("content-length"));
  if (res.status === 206) {
    const range = parseContentRange(res.headers.get("content-range"));
    if (!range || range.start !== resumeFrom) {
      await res.body?.cancel();
      if (resumeFrom === 0) {
        throw new DownloadError(
          `Server sent a partial response for "${file}" of "${ctx.repoId}" without being asked (${url})`,
          "Check HF_ENDPOINT, or set HF_HUB_OFFLINE=1 and pass a local model folder",
        );
      }
      await Deno.remove(incomplete).catch(() => {});
      return downloadBlob(ctx, url, file, blob, expectedSize); // unusable range: restart from 0
    }
    start = resumeFrom;
    total = range.total ?? (length !== undefined ? start + length : undefined);
  } else {
    total = length; // 200: the server sent everything, start over
  }
  if (expectedSize !== undefined && total !== undefined && total !== expectedSize) {
    await res.body?.cancel();
    throw new DownloadError(
      `Server reports ${total} bytes for "${file}" of "${ctx.repoId}" but ${expectedSize} were expected`,
      "Try again; if it persists, delete the repo folder in the Hugging Face cache",
    );
  }
  total ??= expectedSize;
  const out = await Deno.open(incomplete, {
    write: true,
    create: true,
    truncate: start === 0,
    append: start > 0,
  });
  let loaded = start;
  const t0 = performance.now();
  let lastReport = 0;
  const report = (done: boolean) => {
    if (!ctx.progress) return;
    const now = performance.now();
    if (!done && now - lastReport < 100) return;
    lastReport = now;
    const seconds = Math.max((now - t0) / 1000, 1e-3);
    ctx.progress({ file, loaded, total, bytesPerSecond: (loaded - start) / seconds, done });
  };
  try {
    if (res.body) {
      for await (const chunk of res.body) {
        r.kick();
        await writeAll(out, chunk);
        loaded += chunk.length;
        report(false);
      }
    }
  } catch (caught) {
    const error = r.signal.aborted ? r.signal.reason : caught;
    throw new DownloadError(
      `Download of "${file}" from "${ctx.repoId}" was interrupted after ${loaded} bytes: ${
        (error as Error)?.message ?? String(error)
      }`,
      "Run the command again to resume the download, or set HF_HUB_OFFLINE=1 and pass a local model folder",
      { cause: error },
    );
  } finally {
    out.close();
  }
  report(true);
  if (total !== undefined && loaded !== total) {
    throw new DownloadError(
      `Download of "${file}" from "${ctx.repoId}" ended after ${loaded} of ${total} bytes`,
      "Run the command again to resume the download",
    );
  }
  await Deno.rename(incomplete, blob);
}

/** Link `snapshot/file` to the blob with a relative symlink, or copy it where links fail. */
async function placeInSnapshot(snapshot: string, file: string, blob: string): Promise<void> {
  const target = join(snapshot, file);
  await Deno.mkdir(dirname(target), { recursive: true });
  await Deno.remove(target).catch(() => {});
  try {
    await Deno.symlink(relative(dirname(target), blob), target);
  } catch {
    await Deno.copyFile(blob, target);
  }
}

function isStderrTerminal(): boolean {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}

const MB = 1024 * 1024;

/** Default progress display: one line on stderr, redrawn with a carriage return. */
function drawProgressBar(p: DownloadProgress): void {
  const width = 30;
  const fraction = p.total ? Math.min(p.loaded / p.total, 1) : 0;
  const filled = Math.round(fraction * width);
  const bar = p.total ? `[${"#".repeat(filled)}${".".repeat(width - filled)}] ` : "";
  const pct = p.total ? `${(fraction * 100).toFixed(1).padStart(5)}% ` : "";
  const sizes = `${(p.loaded / MB).toFixed(1)}${p.total ? `/${(p.total / MB).toFixed(1)}` : ""} MB`;
  const speed = `${(p.bytesPerSecond / MB).toFixed(1)} MB/s`;
  const line = `\r${p.file} ${bar}${pct}${sizes} ${speed}\x1b[K${p.done ? "\n" : ""}`;
  Deno.stderr.writeSync(new TextEncoder().encode(line));
}
