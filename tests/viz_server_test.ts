// The viz server over real HTTP on 127.0.0.1 (port 0): every API endpoint, the SSE progress
// stream, the GPU queue under 20 concurrent requests (instrumented: never two jobs at once),
// path traversal, malformed parameters, body size limit, Host check, port in use.
import { assert, assertEquals } from "./helpers/assert.ts";
import { testGpu } from "./helpers/gpu.ts";
import { Gpt2Model } from "../src/model/gpt2.ts";
import { Gpu } from "../src/gpu/context.ts";
import {
  DownloadError,
  FileNotFoundError,
  FormatError,
  GpuUnavailableError,
  InvalidArgumentError,
  LaminarError,
  ModelNotFoundError,
} from "../src/errors.ts";
import { ANALYSES, type AnalysisDef } from "../viz/analyses.ts";
import { errorBody, startServer } from "../viz/server.ts";
import { HttpError, reviveError, sendableError } from "../viz/gpu_host.ts";
import { staticTarget } from "../viz/static.ts";
import { GpuQueue } from "../viz/queue.ts";
import { LruCache } from "../viz/lru.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

/** An instrumented analysis: records how many runs overlap, and runs a tiny forward pass. */
function probe() {
  const seen = { active: 0, maxActive: 0, runs: 0 };
  const def: AnalysisDef = {
    name: "probe",
    title: "Probe",
    seed: "-",
    description: "test analysis",
    params: [
      { name: "model", type: "model", label: "Model", default: "default", maxLength: 100 },
      { name: "n", type: "int", label: "n", default: 0, min: 0, max: 1000 },
    ],
    load() {
      return Promise.resolve(async ({ model, params, onProgress }) => {
        seen.active++;
        seen.runs++;
        seen.maxActive = Math.max(seen.maxActive, seen.active);
        try {
          onProgress("probe", 0, 2);
          const out = await model.run([464, 2068, 7586], { logits: "last" });
          await new Promise((r) => setTimeout(r, 5));
          onProgress("probe", 2, 2);
          return { n: params.n, vocab: out.logits!.length };
        } finally {
          seen.active--;
        }
      });
    },
  };
  return { def, seen };
}

/** A raw HTTP/1.1 request (fetch would normalise the path); returns status and body. */
async function raw(port: number, target: string, host = `127.0.0.1:${port}`) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const req = `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
  await conn.write(new TextEncoder().encode(req));
  const text = await new Response(conn.readable).text();
  const status = Number(text.split(" ")[1]);
  return { status, body: text.slice(text.indexOf("\r\n\r\n") + 4) };
}

Deno.test("viz server: API, SSE, queue, security over HTTP", opts, async (t) => {
  const model = await Gpt2Model.load(await testGpu(), "default", { offline: true });
  const p = probe();
  const server = await startServer({
    port: 0,
    model,
    quiet: true,
    analyses: [...ANALYSES, p.def, {
      ...p.def,
      name: "absent",
      load: () => Promise.resolve(null),
    }],
  });
  const base = server.url;
  const get = async (path: string) => {
    const res = await fetch(base + path.replace(/^\//, ""));
    return { status: res.status, headers: res.headers, body: await res.json() };
  };
  const post = async (path: string, body: unknown) => {
    const res = await fetch(base + path.replace(/^\//, ""), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: await res.json() };
  };
  try {
    assert(base.startsWith("http://127.0.0.1:"), base);

    await t.step("health, model, analyses, stats", async () => {
      const h = await get("/api/health");
      assertEquals(h.status, 200);
      assertEquals(h.body.model.nLayer, 6);
      const m = await get("/api/model");
      assertEquals(m.body.spec, "default");
      assertEquals(m.body.weights, "f32");
      const a = await get("/api/analyses");
      const names = a.body.analyses.map((x: { name: string }) => x.name);
      for (
        const n of [
          "heatmap",
          "softmax",
          "layers",
          "intervene",
          "categories",
          "contexts",
          "punctuation",
          "profile",
        ]
      ) assert(names.includes(n), n);
      const layers = a.body.analyses.find((x: { name: string }) => x.name === "layers");
      const spec = layers.params.find((x: { name: string }) => x.name === "layers");
      assertEquals(spec.max, 6); // bounds resolved for the model
      const iv = a.body.analyses.find((x: { name: string }) => x.name === "intervene");
      const ivParam = (n: string) => iv.params.find((x: { name: string }) => x.name === n);
      assertEquals(ivParam("op").choices, ["scale", "zero", "patch", "add"]);
      assertEquals(ivParam("hook").choices.length, 14);
      assertEquals(ivParam("heads").max, 3);
      for (const n of ["factor", "positions", "patch", "dimension"]) assert(ivParam(n), n);
      const s = await get("/api/stats");
      assertEquals(s.body.queue.active, 0);
    });

    await t.step("each analysis endpoint returns its schema", async () => {
      const heat = await get("/api/run/heatmap?text=It%20was%20a%20dark%20and%20stormy");
      assertEquals(heat.status, 200);
      assertEquals(heat.body.schema, "laminar.heatmap");
      assertEquals(heat.body.tokens.length, 7); // "It was a dark and storm|y"
      assertEquals(heat.headers.get("x-laminar-cache"), "miss");
      const again = await get("/api/run/heatmap?text=It%20was%20a%20dark%20and%20stormy");
      assertEquals(again.headers.get("x-laminar-cache"), "hit");
      assertEquals(again.body, heat.body);

      const cases: [string, Record<string, unknown>, string][] = [
        ["softmax", { k: 5, temperatures: "0.5,2", compare: "default" }, "laminar.softmax"],
        ["layers", { text: "A wise man once said: Penguins are cute." }, "laminar.layers"],
        ["intervene", { factor: 0.5 }, "laminar.intervene"],
        ["categories", { layer: 2 }, "laminar.categories"],
        ["punctuation", { count: 6, pre: 4, post: 2, bins: 6 }, "laminar.punctuation"],
      ];
      for (const [name, params, schema] of cases) {
        const r = await post(`/api/run/${name}`, params);
        assertEquals(r.status, 200, `${name}: ${JSON.stringify(r.body).slice(0, 300)}`);
        assertEquals(r.body.schema, schema);
      }
      const absent = await get("/api/run/absent");
      assertEquals(absent.status, 501);
      assert(absent.body.error.includes("not available"), absent.body.error);
      const soft = await post("/api/run/softmax", { k: 5, temperatures: "0.5,2" });
      assertEquals(soft.body.top.ids.length, 5);
      assertEquals(soft.body.temperatures.length, 2);
      const pun = await post("/api/run/punctuation", { count: 6, pre: 4, post: 2, bins: 6 });
      assertEquals(pun.body.matrices.n, 6);
      // intervene: patch from a prompt of the same token length, add a one-hot direction.
      const SEED = "As Gregor Samsa awoke one morning from uneasy dreams, he found himself " +
        "transformed in his bed into a gigantic";
      const patch = await post("/api/run/intervene", {
        op: "patch",
        patch: SEED.replace("gigantic", "tiny"), // 22 tokens, as the prompt
        positions: "-1",
        factor: 3, // not used by patch: dropped
        dimension: 5,
      });
      assertEquals(patch.status, 200, JSON.stringify(patch.body).slice(0, 300));
      assertEquals(patch.body.options.op, "patch");
      assertEquals(patch.body.options.factor, null);
      assertEquals(patch.body.options.positions, [21]);
      assertEquals(patch.body.options.patchTokens.length, 22);
      assertEquals(patch.body.layers.length, 6);
      for (const l of patch.body.layers) assert(Number.isFinite(l.logProb) && l.rank >= 1);
      // Patching the last position of the last block's output gives the patch prompt's
      // prediction, which differs from the clean one.
      assert(Math.abs(patch.body.layers[5].delta) > 1e-3, String(patch.body.layers[5].delta));
      const unequal = await post("/api/run/intervene", { op: "patch", patch: "Far too short" });
      assertEquals(unequal.status, 400, JSON.stringify(unequal.body));
      assert(unequal.body.error.includes("tokens"), unequal.body.error);
      assert(unequal.body.hint.includes("equal token length"), unequal.body.hint);
      const add = await post("/api/run/intervene", {
        op: "add",
        dimension: 7,
        factor: 20,
        hook: "hook_mlp_out",
      });
      assertEquals(add.status, 200, JSON.stringify(add.body).slice(0, 300));
      assertEquals(add.body.options.op, "add");
      assertEquals(add.body.options.factor, 20);
      assertEquals(add.body.options.vectorLength, 128);
      assertEquals(add.body.layers.length, 6);
      assert(add.body.layers.some((l: { delta: number }) => Math.abs(l.delta) > 1e-4));
      const heads = await get("/api/run/intervene?op=zero&hook=attn.hook_z&heads=0,3");
      assertEquals(heads.status, 200, JSON.stringify(heads.body).slice(0, 300));
      assertEquals(heads.body.options.heads, [0, 3]);
      const mlp = await get("/api/run/intervene?op=add&hook=mlp.hook_post&dimension=511");
      assertEquals(mlp.status, 200, JSON.stringify(mlp.body).slice(0, 300));
      assertEquals(mlp.body.options.vectorLength, 512);

      const ctx = await post("/api/run/contexts", { maxPerWord: 4, window: 10 });
      assertEquals(ctx.status, 200, JSON.stringify(ctx.body).slice(0, 300));
      assertEquals(ctx.body.schema, "laminar.contexts");
      assertEquals(ctx.body.matrix.n, 12);
    });

    await t.step("profile: per-kernel GPU times, never cached, bounded", async () => {
      if (!model.gpu.caps.timestamps) {
        console.warn("adapter without timestamp-query: profile endpoint not tested");
        return;
      }
      type Kernel = { name: string; count: number; share: number; totalMs: number };
      const r = await post("/api/run/profile", { tokens: 16 });
      assertEquals(r.status, 200, JSON.stringify(r.body).slice(0, 300));
      assertEquals(r.body.schema, "laminar.profile");
      assertEquals(r.body.version, 1);
      assertEquals(r.body.config, "loaded");
      assertEquals(r.body.input, { batch: 1, tokens: 16, logits: "none", hiddenStates: true });
      assert(r.body.kernelRules.summary.startsWith("matmul: "), r.body.kernelRules.summary);
      const kernels: Kernel[] = r.body.kernels;
      const names = kernels.map((k) => k.name);
      for (const k of ["matmul", "embed"]) assert(names.includes(k), String(names));
      assert(names.some((n) => n.startsWith("attention")), String(names));
      assertEquals(kernels.find((k) => k.name === "matmul")!.count, 4 * 6);
      const share = kernels.reduce((a, k) => a + k.share, 0);
      assert(Math.abs(share - 1) < 1e-6, `shares sum to ${share}`);
      assert(kernels.every((k) => k.totalMs > 0 && k.count > 0));
      assert(r.body.totalMs > 0 && r.body.wallMs > 0);
      assertEquals(r.body.launches.length, kernels.reduce((a, k) => a + k.count, 0));
      assertEquals(r.body.launches[0].startMs, 0);
      // A measurement: every request runs again (no cache entry).
      assertEquals(r.headers.get("x-laminar-cache"), "miss");
      const again = await post("/api/run/profile", { tokens: 16 });
      assertEquals(again.headers.get("x-laminar-cache"), "miss");
      assert(again.body.launches.length === r.body.launches.length);
      // Random weights of a real GPT-2 shape (12 layers, width 768), made and dropped per run.
      const rnd = await get("/api/run/profile?config=gpt2&tokens=4&hiddenStates=false");
      assertEquals(rnd.status, 200, JSON.stringify(rnd.body).slice(0, 300));
      assertEquals(rnd.body.config, "gpt2");
      assertEquals([rnd.body.model.source, rnd.body.model.nLayer, rnd.body.model.nEmbd], [
        "random",
        12,
        768,
      ]);
      const rs = rnd.body.kernels.reduce((a: number, k: Kernel) => a + k.share, 0);
      assert(Math.abs(rs - 1) < 1e-6, `shares sum to ${rs}`);
      // Bad parameters are 400 before any GPU work.
      for (
        const q of [
          "tokens=0",
          "tokens=1025",
          "tokens=300", // more than the loaded model's context (256)
          "batch=0",
          "batch=257",
          "batch=1.5",
          "batch=200&tokens=64", // 12800 tokens, over the 8192 limit
          "config=gpt2-xl",
          "logits=some",
          "hiddenStates=maybe",
          "warmup=false",
        ]
      ) {
        const b = await get(`/api/run/profile?${q}`);
        assertEquals(b.status, 400, `${q}: ${JSON.stringify(b.body)}`);
        assert(b.body.error.length > 0 && typeof b.body.hint === "string", q);
      }
    });

    await t.step("SSE stream: queued, start, progress, result", async () => {
      const res = await fetch(base + "api/stream/probe?n=1");
      assertEquals(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
      const text = await res.text();
      const events = [...text.matchAll(/^event: (\w+)\ndata: (.*)$/gm)].map((m) => ({
        type: m[1],
        data: JSON.parse(m[2]),
      }));
      assertEquals(events.map((e) => e.type), [
        "queued",
        "start",
        "progress",
        "progress",
        "result",
      ]);
      assertEquals(events[2].data, { stage: "probe", done: 0, total: 2 });
      assertEquals(events[4].data.n, 1);
      // Errors arrive as an error event when they happen inside the job...
      const bad = await fetch(base + "api/stream/contexts?targets=years,garage&maxPerWord=3");
      assertEquals(bad.status, 200);
      const body = await bad.text();
      assert(/event: error\ndata: \{"status":400,"error":"Target/.test(body), body.slice(0, 300));
      // ...and as a plain 400 when the parameters are wrong.
      const invalid = await fetch(base + "api/stream/probe?n=-1");
      assertEquals(invalid.status, 400);
      await invalid.body?.cancel();
    });

    await t.step("20 concurrent requests are queued, never run at once", async () => {
      const before = p.seen.runs;
      const texts = Array.from({ length: 10 }, (_, i) => `Request number ${i} says hello`);
      const heat = texts.map((text) => post("/api/run/heatmap", { text }));
      const probes = Array.from({ length: 10 }, (_, i) => get(`/api/run/probe?n=${100 + i}`));
      const [hs, ps] = await Promise.all([Promise.all(heat), Promise.all(probes)]);
      hs.forEach((r, i) => {
        assertEquals(r.status, 200);
        assertEquals(r.body.text, texts[i]);
      });
      ps.forEach((r, i) => {
        assertEquals(r.status, 200);
        assertEquals(r.body.n, 100 + i);
        assertEquals(r.body.vocab, 50257);
      });
      assertEquals(p.seen.runs - before, 10);
      assertEquals(p.seen.maxActive, 1);
      const s = (await get("/api/stats")).body;
      assertEquals(s.queue.maxActive, 1);
      assertEquals(s.queue.active, 0);
      assertEquals(s.queue.waiting, 0);
      // Identical concurrent requests share one run.
      const same = await Promise.all(Array.from({ length: 5 }, () => get("/api/run/probe?n=7")));
      same.forEach((r) => assertEquals(r.body.n, 7));
      assertEquals(p.seen.runs - before, 11);
    });

    await t.step("path traversal and odd paths are refused", async () => {
      const attempts = [
        "/../deno.json",
        "/../../etc/passwd",
        "/%2e%2e/deno.json",
        "/%2E%2E/%2E%2E/deno.json",
        "/..%2fdeno.json",
        "/%2e%2e%2fdeno.json",
        "/%252e%252e/deno.json",
        "/js/..\\..\\deno.json",
        "/js/%5c..%5cdeno.json",
        "//etc/passwd",
        "/C:/Windows/win.ini",
        "/%00index.html",
        "/.hidden",
        "/vendor/../../deno.json",
        "/vendor/uPlot.cjs.js",
        "/nope.html",
      ];
      for (const path of attempts) {
        const r = await raw(server.port, path);
        assert(r.status === 403 || r.status === 404, `${path}: ${r.status}`);
        assert(!r.body.includes("nodeModulesDir") && !r.body.includes("root:"), path);
      }
      const ok = await raw(server.port, "/js/page.js");
      assertEquals(ok.status, 200);
      assertEquals((await raw(server.port, "/")).status, 200);
      const vendor = await fetch(base + "vendor/uPlot.esm.js");
      assertEquals(vendor.status, 200);
      assert((await vendor.text()).includes("uPlot"));
      const css = await fetch(base + "vendor/uPlot.min.css");
      assertEquals(css.headers.get("content-type"), "text/css; charset=utf-8");
      await css.body?.cancel();
      // Unit level: the resolver itself.
      assertEquals(staticTarget("/root/", "/a/../b"), { status: 403, reason: "path traversal" });
      assertEquals("file" in staticTarget("/root/", "/js/page.js"), true);
    });

    await t.step("foreign Host headers and cross-origin posts are refused", async () => {
      const r = await raw(server.port, "/api/health", "evil.example:80");
      assertEquals(r.status, 403);
      const res = await fetch(base + "api/run/probe", {
        method: "POST",
        headers: { "content-type": "application/json", origin: "http://evil.example" },
        body: "{}",
      });
      assertEquals(res.status, 403);
      await res.body?.cancel();
    });

    await t.step("malformed parameters are 400 with {error, hint}", async () => {
      const bad: [string, string | Record<string, unknown>][] = [
        ["/api/run/categories?layer=99", {}],
        ["/api/run/layers?layers=0,1,7", {}],
        ["/api/run/layers?token=abc", {}],
        ["/api/run/softmax?k=1000000", {}],
        ["/api/run/softmax?temperatures=0,-1", {}],
        ["/api/run/heatmap?temperature=-1", {}],
        ["/api/run/heatmap?metric=colour", {}],
        ["/api/run/heatmap?text=%20", {}],
        ["/api/run/heatmap?unknown=1", {}],
        ["/api/run/heatmap?model=../../etc", {}],
        ["/api/run/heatmap", "{not json"],
        ["/api/run/heatmap", "[1,2]"],
        ["/api/run/heatmap", { text: "word ".repeat(400) }], // longer than the context (256)
        ["/api/run/heatmap", { text: 42 }],
        ["/api/run/punctuation", { count: 1 }],
        ["/api/run/punctuation", { book: "/etc/passwd" }],
        ["/api/run/intervene", { target: " two tokens" }],
        ["/api/run/intervene", { scale: 0.5 }], // renamed to factor
        ["/api/run/intervene", { op: "patch" }],
        ["/api/run/intervene", { op: "patch", patch: "  " }],
        ["/api/run/intervene", { op: "patch", patch: "Far too short" }],
        ["/api/run/intervene", { op: "swap" }],
        ["/api/run/intervene", { op: "add" }],
        ["/api/run/intervene", { op: "add", dimension: 128 }], // d_model is 128
        ["/api/run/intervene", { op: "add", dimension: 512, hook: "mlp.hook_pre" }],
        ["/api/run/intervene", { op: "add", dimension: 22, hook: "attn.hook_pattern" }],
        ["/api/run/intervene", { op: "add", dimension: -1 }],
        ["/api/run/intervene", { factor: 1e9 }],
        ["/api/run/intervene", { hook: "blocks.0.hook_resid_post" }],
        ["/api/run/intervene?heads=0", {}], // hook_resid_post has no heads
        ["/api/run/intervene?hook=attn.hook_z&heads=4", {}], // 4 heads
        ["/api/run/intervene?hook=attn.hook_z&heads=-1", {}],
        ["/api/run/intervene?positions=22", {}], // the prompt has 22 tokens
        ["/api/run/intervene?positions=-23", {}],
        ["/api/run/intervene?positions=9999", {}],
        ["/api/run/intervene?positions=a,b", {}],
        ["/api/run/categories", { words: "fruit,apple\nnot a line" }],
      ];
      for (const [path, body] of bad) {
        const r = path.includes("?") ? await get(path) : await post(path, body);
        assertEquals(r.status, 400, `${path} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
        assert(typeof r.body.error === "string" && r.body.error.length > 0, path);
        assert(typeof r.body.hint === "string", path);
      }
      const missing = await get("/api/run/heatmap?model=nobody-has/this-model");
      assertEquals(missing.status, 404, JSON.stringify(missing.body));
      if (Deno.env.get("HF_HUB_OFFLINE") !== "1") {
        // offline because this server does not download: the hint says so, not "drop --offline"
        assert(missing.body.hint.includes("--allow-download"), missing.body.hint);
      }
      // A book URL the server has not cached (it never downloads books): the request's fault.
      const uncached = await post("/api/run/punctuation", {
        book: "https://books.invalid/laminar-test-never-cached.txt",
      });
      assertEquals(uncached.status, 404, JSON.stringify(uncached.body));
      assert(uncached.body.hint.includes("cache"), uncached.body.hint);
      assertEquals((await get("/api/run/nothing")).status, 404);
      assertEquals((await get("/api/nothing")).status, 404);
      const del = await fetch(base + "api/run/heatmap", { method: "DELETE" });
      assertEquals(del.status, 405);
      await del.body?.cancel();
      const form = await fetch(base + "api/run/heatmap", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "text=hi",
      });
      assertEquals(form.status, 415);
      await form.body?.cancel();
      // The server still works afterwards.
      assertEquals((await get("/api/run/probe?n=3")).body.n, 3);
    });

    await t.step("a body over 1 MiB is 413", async () => {
      const big = JSON.stringify({ text: "x".repeat(1024 * 1024 + 10) });
      const r = await post("/api/run/heatmap", big);
      assertEquals(r.status, 413);
      assert(r.body.error.includes("larger than"), r.body.error);
      // Without a content-length (streamed), too.
      const stream = new ReadableStream({
        start(c) {
          for (let i = 0; i < 20; i++) c.enqueue(new Uint8Array(100_000).fill(32));
          c.close();
        },
      });
      const res = await fetch(base + "api/run/heatmap", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: stream,
      });
      assertEquals(res.status, 413);
      await res.body?.cancel();
    });

    await t.step("a port in use is a clear error", async () => {
      let err: unknown;
      try {
        const s2 = await startServer({ port: server.port, model, quiet: true });
        await s2.close();
      } catch (e) {
        err = e;
      }
      assert(err instanceof InvalidArgumentError, String(err));
      assert((err as Error).message.includes(`Port ${server.port} is in use`));
      assert((err as InvalidArgumentError).hint.includes("--port"));
    });
  } finally {
    await server.close();
  }
});

Deno.test(
  "a job's models are not evicted under it when it loads another one",
  opts,
  async () => {
    // Three cached "Hugging Face" models (copies of the tiny fixture); the server keeps at most
    // two besides its start model. A job on t/a that loads t/c while t/a and t/b are held used
    // to evict (dispose) t/a, the model it was running on.
    const cache = await Deno.makeTempDir();
    const fixture = new URL("./fixtures/tiny-gpt2/", import.meta.url).pathname;
    const commit = "0123456789abcdef0123456789abcdef01234567";
    for (const name of ["a", "b", "c"]) {
      const repo = `${cache}/models--t--${name}`;
      await Deno.mkdir(`${repo}/refs`, { recursive: true });
      await Deno.mkdir(`${repo}/snapshots/${commit}`, { recursive: true });
      await Deno.writeTextFile(`${repo}/refs/main`, commit);
      for (const f of ["config.json", "model.safetensors"]) {
        await Deno.copyFile(fixture + f, `${repo}/snapshots/${commit}/${f}`);
      }
    }
    const before = Deno.env.get("HF_HUB_CACHE");
    Deno.env.set("HF_HUB_CACHE", cache);
    const model = await Gpt2Model.load(await testGpu(), "default", { offline: true });
    const compare: AnalysisDef = {
      name: "compare",
      title: "Compare",
      seed: "-",
      description: "test analysis with a second model",
      params: [
        { name: "model", type: "model", label: "Model", default: "default", maxLength: 100 },
        { name: "other", type: "model", label: "Other", default: "", maxLength: 100 },
      ],
      load() {
        return Promise.resolve(async ({ model, getModel, params }) => {
          const other = params.other ? await getModel(params.other as string) : null;
          const a = await model.run([1, 2, 3], { logits: "last" });
          const b = other ? await other.run([1, 2, 3], { logits: "last" }) : null;
          return { a: a.logits![0], b: b ? b.logits![0] : null };
        });
      },
    };
    const server = await startServer({ port: 0, model, quiet: true, analyses: [compare] });
    try {
      const run = async (q: string) => {
        const res = await fetch(`${server.url}api/run/compare?${q}`);
        return { status: res.status, body: await res.json() };
      };
      const alone = await run("model=t/a");
      assertEquals(alone.status, 200, JSON.stringify(alone.body));
      assertEquals((await run("model=t/b")).status, 200);
      const both = await run("model=t/a&other=t/c");
      assertEquals(both.status, 200, JSON.stringify(both.body));
      assertEquals(both.body.a, alone.body.a);
      assertEquals(both.body.b, alone.body.a); // the same weights
      assertEquals(server.stats().models.length, 3); // default + the two most recent
      assertEquals((await run("model=t/b&other=t/a")).status, 200); // reloads t/b when evicted
    } finally {
      await server.close();
      if (before === undefined) Deno.env.delete("HF_HUB_CACHE");
      else Deno.env.set("HF_HUB_CACHE", before);
      await Deno.remove(cache, { recursive: true });
    }
  },
);

Deno.test("profile on an adapter without timestamp-query is a 503 with a hint", opts, async () => {
  const gpu = await testGpu();
  // The same device, told it has no timestamp queries.
  const blind = new Gpu(gpu.device, { ...gpu.caps, timestamps: false });
  const model = await Gpt2Model.load(blind, "default", { offline: true });
  const server = await startServer({ port: 0, model, quiet: true });
  try {
    const res = await fetch(`${server.url}api/run/profile?tokens=4&config=gpt2`);
    const body = await res.json();
    assertEquals(res.status, 503, JSON.stringify(body));
    assert(body.error.includes("timestamp"), body.error);
    assert(body.hint.includes("timestamp-query"), body.hint);
    const sse = await (await fetch(`${server.url}api/stream/profile?tokens=4`)).text();
    assert(/event: error\ndata: \{"status":503,/.test(sse), sse.slice(0, 300));
    // The other analyses still work on that adapter.
    const heat = await fetch(`${server.url}api/run/heatmap?text=Hello%20there`);
    assertEquals(heat.status, 200);
    await heat.body?.cancel();
  } finally {
    await server.close();
    model.dispose();
  }
});

Deno.test("errorBody() maps user-caused laminar errors to 4xx/5xx statuses, not 500", () => {
  const cases: [Error, number][] = [
    [new InvalidArgumentError("bad", "hint"), 400],
    [new FormatError('Book "x" is not valid UTF-8 text', "convert it"), 422],
    [new FileNotFoundError("no such book", "check"), 404],
    [new DownloadError("Downloading failed", "retry"), 502],
    [new GpuUnavailableError("no adapter", "install a driver"), 503],
    [new Error("boom"), 500],
  ];
  for (const [e, status] of cases) {
    const b = errorBody(e);
    assertEquals(b.status, status, e.constructor.name);
    assertEquals(b.error, e.message);
  }
});

Deno.test("GpuQueue runs jobs first in, first out, one at a time", async () => {
  const q = new GpuQueue();
  const order: number[] = [];
  const jobs = [30, 1, 10, 0].map((ms, i) =>
    q.run(async () => {
      order.push(i);
      await new Promise((r) => setTimeout(r, ms));
      if (i === 2) throw new Error("boom");
      return i;
    })
  );
  const results = await Promise.allSettled(jobs);
  assertEquals(order, [0, 1, 2, 3]);
  assertEquals(results.map((r) => r.status), ["fulfilled", "fulfilled", "rejected", "fulfilled"]);
  assertEquals(q.stats(), { active: 0, maxActive: 1, waiting: 0, completed: 4, failed: 1 });
});

Deno.test("LruCache evicts the least recently used entry", () => {
  const c = new LruCache(2);
  c.set("a", "1");
  c.set("b", "2");
  c.get("a");
  c.set("c", "3");
  assertEquals([c.has("a"), c.has("b"), c.has("c")], [true, false, true]);
  assertEquals(c.stats().entries, 2);
});

Deno.test(
  "GPU worker: analyses run off the server's thread, which keeps answering; errors keep their status",
  opts,
  async () => {
    // A model name and the default analyses: the GPU work goes to viz/gpu_worker.ts.
    const server = await startServer({ port: 0, model: "default", offline: true, quiet: true });
    try {
      const base = server.url;
      const heat = await fetch(`${base}api/run/heatmap?text=Hello%20there%20again`);
      const body = await heat.json();
      assertEquals([heat.status, body.schema], [200, "laminar.heatmap"]);
      // A long run (a whole punctuation sweep): health answers while it is on the GPU, and the
      // stream carries its progress before the result.
      const t0 = performance.now();
      let streamEnd = Infinity;
      const stream = fetch(`${base}api/stream/punctuation?count=250`).then(async (r) => {
        const t = await r.text();
        streamEnd = performance.now();
        return t;
      });
      await new Promise((r) => setTimeout(r, 100)); // the run has started
      const h = await fetch(`${base}api/health`);
      await h.body?.cancel();
      const healthEnd = performance.now();
      const text = await stream;
      // (On a fast GPU the whole run may end first: only a run of over 1 s proves anything.)
      assert(healthEnd < streamEnd || streamEnd - t0 < 1000, "health waited for the analysis");
      const events = [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
      assert(events.includes("progress") && events.at(-1) === "result", events.join(","));
      // Errors cross from the worker with their class, so their status and hint.
      const missing = await fetch(`${base}api/run/heatmap?model=nobody-has/this-model`);
      assertEquals(missing.status, 404);
      assert((await missing.json()).hint.length > 0);
      const long = await fetch(`${base}api/run/heatmap?text=${"word%20".repeat(400)}`);
      assertEquals(long.status, 400, "a text past the context is the request's fault");
      await long.body?.cancel();
      assertEquals(server.stats().models, ["default"]);
      assertEquals(server.stats().queue.maxActive, 1);
    } finally {
      await server.close();
    }
    // A model object cannot cross to a worker.
    const model = await Gpt2Model.load(await testGpu(), "default", { offline: true });
    try {
      let refused = false;
      await startServer({ port: 0, model, quiet: true, gpuWorker: true }).catch(() =>
        refused = true
      );
      assert(refused, "gpuWorker with a model object");
    } finally {
      model.dispose();
    }
  },
);

Deno.test("errors cross from the GPU worker with their class, status and hint", () => {
  class NewKindError extends LaminarError {}
  const cases: [Error, number][] = [
    [new InvalidArgumentError("bad", "fix it"), 400],
    [new ModelNotFoundError("no model", "download it"), 404],
    [new GpuUnavailableError("no adapter", "install a driver"), 503],
    [new HttpError(501, "not wired", "later"), 501],
    [new NewKindError("a new laminar error", "its hint"), 500], // unknown here: a LaminarError
    [new TypeError("a bug"), 500],
  ];
  for (const [e, status] of cases) {
    const back = reviveError(structuredClone(sendableError(e)));
    const [a, b] = [errorBody(e), errorBody(back)];
    assertEquals(b, a, e.message);
    assertEquals(b.status, status, e.message);
  }
});
