/**
 * Static files: the pages under viz/static/ and uPlot's ESM build and CSS from its npm package.
 * Paths are checked before the file system is touched: no `..` (raw or percent-encoded), no
 * backslashes, no NUL, no absolute or drive paths, and the real path (symlinks followed) must
 * stay under the root.
 * @module
 */

import { dirname, join, normalize, sep as SEPARATOR } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";

/** Folder of the pages. */
export const STATIC_ROOT: string = fromFileUrl(new URL("./static/", import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
};

/** Content type of a file name (by extension). */
export function contentType(path: string): string {
  const dot = path.lastIndexOf(".");
  return TYPES[dot >= 0 ? path.slice(dot).toLowerCase() : ""] ?? "application/octet-stream";
}

/** Where a request path points: a file under the root, or a refusal with its status. */
export type StaticTarget = { file: string } | { status: 403 | 404; reason: string };

/**
 * Map a URL path (as received, still percent-encoded) to a file under `root`. Refuses
 * traversal (403) and malformed encodings (404) without touching the file system.
 */
export function staticTarget(root: string, rawPath: string): StaticTarget {
  let path: string;
  try {
    // Decode twice so double encodings (%252e%252e) are seen too; a bad escape is a 404.
    path = decodeURIComponent(rawPath);
    if (/%[0-9a-f]{2}/i.test(path)) path = decodeURIComponent(path);
  } catch {
    return { status: 404, reason: "malformed path" };
  }
  if (path.includes("\\") || path.includes("\0") || /^\/*[a-zA-Z]:/.test(path)) {
    return { status: 403, reason: "forbidden characters in path" };
  }
  if (!path.startsWith("/") || path.startsWith("//")) {
    return { status: 403, reason: "absolute or protocol-relative path" };
  }
  const segments = path.split("/");
  if (segments.some((s) => s === ".." || s === ".")) {
    return { status: 403, reason: "path traversal" };
  }
  if (segments.some((s) => s.startsWith("."))) {
    return { status: 404, reason: "hidden file" };
  }
  let rel = path.slice(1);
  if (rel === "" || rel.endsWith("/")) rel += "index.html";
  const file = normalize(join(root, rel));
  if (!file.startsWith(root.endsWith(SEPARATOR) ? root : root + SEPARATOR)) {
    return { status: 403, reason: "outside the static root" };
  }
  return { file };
}

/** Read a file under `root`, checking that its real path (after symlinks) stays inside. */
export async function readStatic(
  root: string,
  file: string,
): Promise<Uint8Array | null> {
  try {
    const realRoot = await Deno.realPath(root);
    const real = await Deno.realPath(file);
    if (!real.startsWith(realRoot + SEPARATOR)) return null;
    const info = await Deno.stat(real);
    if (!info.isFile) return null;
    return await Deno.readFile(real);
  } catch {
    return null;
  }
}

/** The folder holding uPlot's dist files (uPlot.esm.js, uPlot.min.css), or null. */
export async function findUplotDist(): Promise<string | null> {
  const candidates: string[] = [];
  try {
    // With "nodeModulesDir": "auto" this resolves to node_modules/.deno/uplot@x/.../dist/*.js.
    const url = import.meta.resolve("uplot");
    if (url.startsWith("file:")) candidates.push(dirname(fromFileUrl(url)));
  } catch {
    // not mapped: try the node_modules folder next to the repo
  }
  const repo = fromFileUrl(new URL("../", import.meta.url));
  candidates.push(join(repo, "node_modules", "uplot", "dist"));
  for (const dir of candidates) {
    try {
      await Deno.stat(join(dir, "uPlot.esm.js"));
      return dir;
    } catch {
      // next
    }
  }
  return null;
}
