import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DownloadError, ModelNotFoundError } from "../src/errors.ts";
import {
  DEFAULT_MODEL_DIR,
  defaultCacheDir,
  type DownloadProgress,
  isValidRepoId,
  resolveModel,
} from "../src/io/hub.ts";

const FIXTURE_DIR = fileURLToPath(new URL("./fixtures/tiny-gpt2", import.meta.url));
const FILES: Record<string, Uint8Array<ArrayBuffer>> = {
  "config.json": Deno.readFileSync(join(FIXTURE_DIR, "config.json")),
  "model.safetensors": Deno.readFileSync(join(FIXTURE_DIR, "model.safetensors")),
};
const REPO = "test-org/tiny-gpt2";
const COMMIT = "0123456789abcdef0123456789abcdef01234567";

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}
const ETAGS: Record<string, string> = {};
for (const [name, bytes] of Object.entries(FILES)) ETAGS[name] = await sha256(bytes);

interface Logged {
  method: string;
  path: string;
  range: string | null;
  auth: string | null;
}

/**
 * A tiny Hugging Face hub: `/{repo}/resolve/{rev}/{file}` answers like the hub (X-Repo-Commit,
 * ETag; model.safetensors redirects to a "CDN" path with X-Linked-Etag/Size like an LFS file),
 * `/old-org/tiny-gpt2/...` redirects relatively (a renamed repo), `test-org/private` needs a
 * token. Byte ranges `bytes=N-` get 206. `dropNext` sends half a body, then breaks the stream.
 */
class FakeHub {
  log: Logged[] = [];
  dropNext = false;
  /** Send half a body, then nothing more (the connection stays open). */
  stallNext = false;
  ignoreRange = false;
  #server: Deno.HttpServer<Deno.NetAddr>;
  readonly url: string;

  constructor() {
    this.#server = Deno.serve(
      {
        port: 0,
        hostname: "127.0.0.1",
        onListen() {},
        onError: () => new Response(null, { status: 500 }),
      },
      (req) => this.#handle(req),
    );
    this.url = `http://127.0.0.1:${this.#server.addr.port}`;
  }

  close(): Promise<void> {
    return this.#server.shutdown();
  }

  #handle(req: Request): Response {
    const { pathname } = new URL(req.url);
    const range = req.headers.get("range");
    this.log.push({
      method: req.method,
      path: pathname,
      range,
      auth: req.headers.get("authorization"),
    });
    const cdn = pathname.match(/^\/cdn\/([0-9a-f]{64})$/);
    if (cdn) {
      const name = Object.keys(ETAGS).find((n) => ETAGS[n] === cdn[1]);
      if (!name) return new Response("not found", { status: 404 });
      return this.#serveFile(req, name, { etag: `"cdn-${cdn[1].slice(0, 8)}"` });
    }
    const m = pathname.match(/^\/(.+)\/resolve\/([^/]+)\/([^/]+)$/);
    if (!m) return new Response("not found", { status: 404 });
    const [, repo, rev, file] = m;
    if (repo === "old-org/tiny-gpt2") {
      return new Response(null, {
        status: 307,
        headers: { location: `/${REPO}/resolve/${rev}/${file}` },
      });
    }
    if (repo === "test-org/private" && req.headers.get("authorization") !== "Bearer secret") {
      return new Response("unauthorized", { status: 401 });
    }
    if (
      (repo !== REPO && repo !== "test-org/private") || !(file in FILES) ||
      (rev !== "main" && rev !== COMMIT)
    ) {
      return new Response("Repository not found", { status: 404 });
    }
    if (file === "model.safetensors") {
      return new Response(null, {
        status: 302,
        headers: {
          location: `${this.url}/cdn/${ETAGS[file]}`,
          "x-repo-commit": COMMIT,
          "x-linked-etag": `"${ETAGS[file]}"`,
          "x-linked-size": String(FILES[file].length),
          "content-length": "0",
        },
      });
    }
    return this.#serveFile(req, file, { etag: `"${ETAGS[file]}"`, "x-repo-commit": COMMIT });
  }

  #serveFile(req: Request, name: string, extra: Record<string, string>): Response {
    const full = FILES[name];
    const range = req.headers.get("range")?.match(/^bytes=(\d+)-$/);
    let start = 0;
    let status = 200;
    const headers: Record<string, string> = { "accept-ranges": "bytes", ...extra };
    if (range && !this.ignoreRange) {
      start = Number(range[1]);
      if (start >= full.length) return new Response(null, { status: 416 });
      status = 206;
      headers["content-range"] = `bytes ${start}-${full.length - 1}/${full.length}`;
    }
    const body = full.subarray(start);
    headers["content-length"] = String(body.length);
    if (req.method === "HEAD") return new Response(null, { status, headers });
    if (this.stallNext && name === "model.safetensors") {
      this.stallNext = false;
      const half = body.subarray(0, Math.floor(body.length / 2));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(half);
          // never closes on its own; ends after 5 s so the test server can shut down
          timer = setTimeout(() => controller.close(), 5000);
        },
        cancel() {
          clearTimeout(timer);
        },
      });
      return new Response(stream, { status, headers });
    }
    if (this.dropNext && name === "model.safetensors") {
      this.dropNext = false;
      const half = body.subarray(0, Math.floor(body.length / 2));
      const stream = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(half);
          await new Promise((r) => setTimeout(r, 50));
          controller.error(new Error("connection dropped by test"));
        },
      });
      return new Response(stream, { status, headers });
    }
    return new Response(body, { status, headers });
  }
}

async function withHub(fn: (hub: FakeHub, cacheDir: string) => Promise<void>): Promise<void> {
  const hub = new FakeHub();
  const cacheDir = await Deno.makeTempDir({ prefix: "laminar-hub-test-" });
  try {
    await fn(hub, cacheDir);
  } finally {
    await hub.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
}

function assertSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  assert.equal(actual.length, expected.length);
  assert.ok(actual.every((b, i) => b === expected[i]), "bytes differ");
}

Deno.test("downloads into the cache, then serves from it without requests", async () => {
  await withHub(async (hub, cacheDir) => {
    const progress: DownloadProgress[] = [];
    const opts = { cacheDir, endpoint: hub.url, offline: false, token: "" };
    const got = await resolveModel(REPO, { ...opts, onProgress: (p) => progress.push(p) });
    const repoDir = join(cacheDir, "models--test-org--tiny-gpt2");
    assert.deepEqual(got, {
      dir: join(repoDir, "snapshots", COMMIT),
      source: "download",
      repoId: REPO,
    });
    for (const name of Object.keys(FILES)) {
      assertSameBytes(await Deno.readFile(join(got.dir, name)), FILES[name]);
      assert.ok((await Deno.lstat(join(got.dir, name))).isSymlink);
      assert.ok((await Deno.stat(join(repoDir, "blobs", ETAGS[name]))).isFile);
    }
    assert.equal(await Deno.readTextFile(join(repoDir, "refs", "main")), COMMIT);
    const blobs = [...Deno.readDirSync(join(repoDir, "blobs"))].map((e) => e.name).sort();
    assert.deepEqual(blobs, Object.values(ETAGS).sort());
    const last = progress.filter((p) => p.file === "model.safetensors").at(-1)!;
    assert.equal(last.done, true);
    assert.equal(last.loaded, FILES["model.safetensors"].length);
    assert.equal(last.total, FILES["model.safetensors"].length);
    // The weights were fetched at the commit named by config.json's response.
    assert.ok(hub.log.some((r) => r.path === `/${REPO}/resolve/${COMMIT}/model.safetensors`));

    const before = hub.log.length;
    const again = await resolveModel(REPO, opts);
    assert.deepEqual(again, { dir: got.dir, source: "cache", repoId: REPO });
    assert.equal(hub.log.length, before);
    // Offline also works once cached.
    assert.equal((await resolveModel(REPO, { ...opts, offline: true })).source, "cache");
  });
});

Deno.test("offline with an empty cache names where it looked", async () => {
  await withHub(async (hub, cacheDir) => {
    await assert.rejects(
      resolveModel(REPO, { cacheDir, endpoint: hub.url, offline: true }),
      (e: unknown) =>
        e instanceof ModelNotFoundError && e.message.includes("offline") &&
        e.hint.includes(join(cacheDir, "models--test-org--tiny-gpt2")),
    );
    assert.equal(hub.log.length, 0);
  });
});

Deno.test("404 gives ModelNotFoundError, 401 gives DownloadError naming HF_TOKEN", async () => {
  await withHub(async (hub, cacheDir) => {
    const opts = { cacheDir, endpoint: hub.url, offline: false, token: "" };
    await assert.rejects(
      resolveModel("test-org/missing", opts),
      (e: unknown) => e instanceof ModelNotFoundError && e.message.includes("not found"),
    );
    await assert.rejects(resolveModel(REPO, { ...opts, revision: "nope" }), ModelNotFoundError);
    await assert.rejects(
      resolveModel("test-org/private", opts),
      (e: unknown) => e instanceof DownloadError && e.hint.includes("HF_TOKEN"),
    );
    const ok = await resolveModel("test-org/private", { ...opts, token: "secret" });
    assert.equal(ok.source, "download");
    assert.ok(hub.log.filter((r) => r.path.startsWith("/test-org/private")).at(-1)!.auth);
  });
});

Deno.test("a renamed repo's relative redirect is followed", async () => {
  await withHub(async (hub, cacheDir) => {
    const got = await resolveModel("old-org/tiny-gpt2", {
      cacheDir,
      endpoint: hub.url,
      offline: false,
    });
    assert.equal(got.source, "download");
    assertSameBytes(await Deno.readFile(join(got.dir, "config.json")), FILES["config.json"]);
  });
});

Deno.test("a dropped connection leaves .incomplete; the retry resumes with Range", async () => {
  await withHub(async (hub, cacheDir) => {
    const opts = { cacheDir, endpoint: hub.url, offline: false, token: "" };
    hub.dropNext = true;
    await assert.rejects(resolveModel(REPO, opts), DownloadError);
    const blobs = join(cacheDir, "models--test-org--tiny-gpt2", "blobs");
    const partial = join(blobs, `${ETAGS["model.safetensors"]}.incomplete`);
    const size = (await Deno.stat(partial)).size;
    assert.ok(size > 0 && size < FILES["model.safetensors"].length, `partial size ${size}`);
    await assert.rejects(resolveModel(REPO, { ...opts, offline: true }), ModelNotFoundError);

    const got = await resolveModel(REPO, opts);
    assert.equal(got.source, "download");
    const cdnGets = hub.log.filter((r) => r.method === "GET" && r.path.startsWith("/cdn/"));
    assert.equal(cdnGets.at(-1)!.range, `bytes=${size}-`);
    assertSameBytes(
      await Deno.readFile(join(got.dir, "model.safetensors")),
      FILES["model.safetensors"],
    );
    assert.ok(![...Deno.readDirSync(blobs)].some((e) => e.name.endsWith(".incomplete")));
  });
});

Deno.test("a stalled download is aborted after the stall timeout; the retry resumes", async () => {
  await withHub(async (hub, cacheDir) => {
    const opts = { cacheDir, endpoint: hub.url, offline: false, token: "", stallTimeoutMs: 300 };
    hub.stallNext = true;
    const t0 = performance.now();
    await assert.rejects(resolveModel(REPO, opts), DownloadError);
    assert.ok(performance.now() - t0 < 4000, "aborted well before the server gave up");
    const blobs = join(cacheDir, "models--test-org--tiny-gpt2", "blobs");
    const partial = join(blobs, `${ETAGS["model.safetensors"]}.incomplete`);
    const size = (await Deno.stat(partial)).size;
    assert.ok(size > 0 && size < FILES["model.safetensors"].length, `partial size ${size}`);
    const got = await resolveModel(REPO, opts);
    assertSameBytes(
      await Deno.readFile(join(got.dir, "model.safetensors")),
      FILES["model.safetensors"],
    );
  });
});

Deno.test("a stall timeout beyond setTimeout's range (or Infinity) never aborts", async () => {
  // setTimeout treats delays over 2^31 - 1 ms (about 24.8 days) as 1 ms: a generous timeout,
  // e.g. LAMINAR_DOWNLOAD_STALL_S=1e9 to turn the watchdog off, must not abort at once.
  for (const stallTimeoutMs of [2 ** 32, Infinity]) {
    await withHub(async (hub, cacheDir) => {
      const opts = { cacheDir, endpoint: hub.url, offline: false, token: "", stallTimeoutMs };
      const got = await resolveModel(REPO, opts);
      assertSameBytes(
        await Deno.readFile(join(got.dir, "model.safetensors")),
        FILES["model.safetensors"],
      );
    });
  }
});

Deno.test("a server ignoring Range (200) restarts the file from 0", async () => {
  await withHub(async (hub, cacheDir) => {
    const opts = { cacheDir, endpoint: hub.url, offline: false, token: "" };
    hub.dropNext = true;
    await assert.rejects(resolveModel(REPO, opts), DownloadError);
    hub.ignoreRange = true;
    const got = await resolveModel(REPO, opts);
    assertSameBytes(
      await Deno.readFile(join(got.dir, "model.safetensors")),
      FILES["model.safetensors"],
    );
  });
});

Deno.test("network errors give DownloadError with a hint", async () => {
  const hub = new FakeHub();
  const endpoint = hub.url;
  await hub.close(); // nothing listens there now
  const cacheDir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      resolveModel(REPO, { cacheDir, endpoint, offline: false }),
      (e: unknown) => e instanceof DownloadError && e.hint.includes("HF_HUB_OFFLINE=1"),
    );
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("local folders: complete, missing files, pytorch only", async () => {
  assert.deepEqual(await resolveModel(FIXTURE_DIR), { dir: FIXTURE_DIR, source: "local" });
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      resolveModel(dir),
      (e: unknown) =>
        e instanceof ModelNotFoundError && e.message.includes("config.json") &&
        e.message.includes("model.safetensors"),
    );
    await Deno.writeTextFile(join(dir, "config.json"), "{}");
    await Deno.writeFile(join(dir, "pytorch_model.bin"), new Uint8Array(4));
    await assert.rejects(
      resolveModel(dir),
      (e: unknown) => e instanceof ModelNotFoundError && e.message.includes("only safetensors"),
    );
    await assert.rejects(resolveModel(join(dir, "config.json")), ModelNotFoundError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  await assert.rejects(
    resolveModel("./no/such/folder"),
    (e: unknown) => e instanceof ModelNotFoundError && e.message.includes("does not exist"),
  );
  await assert.rejects(resolveModel("bad id!"), ModelNotFoundError);
});

Deno.test("default model and repo id validation", async () => {
  assert.deepEqual(await resolveModel("default"), { dir: DEFAULT_MODEL_DIR, source: "local" });
  assert.deepEqual(await resolveModel(""), { dir: DEFAULT_MODEL_DIR, source: "local" });
  for (const id of ["gpt2", "openai-community/gpt2", "distilbert/distilgpt2", "a.b_c-d/x1"]) {
    assert.ok(isValidRepoId(id), id);
  }
  for (const id of ["", "a/b/c", "-x", "x-", "a--b", "a..b", "a b", "org/", "/x", "x".repeat(97)]) {
    assert.ok(!isValidRepoId(id), id);
  }
});

Deno.test("cache folder from HF_HUB_CACHE / HF_HOME", () => {
  const saved = ["HF_HUB_CACHE", "HF_HOME"].map((k) => [k, Deno.env.get(k)] as const);
  try {
    Deno.env.set("HF_HUB_CACHE", "/tmp/hf-cache-a");
    assert.equal(defaultCacheDir(), "/tmp/hf-cache-a");
    Deno.env.delete("HF_HUB_CACHE");
    Deno.env.set("HF_HOME", "/tmp/hf-home");
    assert.equal(defaultCacheDir(), "/tmp/hf-home/hub");
  } finally {
    for (const [k, v] of saved) v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
  }
});
