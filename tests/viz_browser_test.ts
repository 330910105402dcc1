// Every viz page in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core):
// the page runs its analysis with small inputs on the GPU, draws non-blank canvases and the
// expected uPlot series, logs no console errors; screenshots go to a temporary folder (or to
// $LAMINAR_SCREENSHOTS when set). Skipped with a message when Chromium is not installed.
import { chromium } from "playwright-core";
import { assert, assertEquals } from "./helpers/assert.ts";
import { testGpu } from "./helpers/gpu.ts";
import { Gpt2Model } from "../src/model/gpt2.ts";
import { startServer } from "../viz/server.ts";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();
if (!haveChromium) {
  console.warn(`viz_browser_test: ${CHROMIUM} is missing; skipped (apt-get install -y chromium)`);
}

/** In the page: the page's state ("loading", "running", "done", "error", "unavailable"). */
const STATE = "document.body.dataset.state";

/** In the page: the canvases of the figures with fewer than 3 colours (blank ones). */
const BLANK_CANVASES = `(() => {
  const out = [];
  document.querySelectorAll("#figures canvas").forEach((canvas, i) => {
    const d = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    const first = d[0] << 16 | d[1] << 8 | d[2];
    const seen = new Set([first]);
    for (let p = 0; p < d.length && seen.size < 3; p += 4 * 7) {
      if (d[p + 3] > 0) seen.add(d[p] << 16 | d[p + 1] << 8 | d[p + 2]);
    }
    if (seen.size < 3) out.push(i + ":" + canvas.className);
  });
  return out;
})()`;

/**
 * Each page, a query string with small inputs, and the uPlot series counts it must draw (or an
 * expression evaluated in the page that gives them, when they depend on the result).
 */
const PAGES: { name: string; query: string; series: number[] | string; canvases: number }[] = [
  { name: "heatmap", query: "", series: [1], canvases: 1 },
  // softmax: 3 top-k bar charts, probability by rank, the histogram, the model-vs-model scatter
  // (2 series: ids spread evenly, the top-200 union).
  { name: "softmax", query: "?k=8&compare=default", series: [1, 1, 1, 3, 1, 2], canvases: 0 },
  { name: "layers", query: "", series: [7, 1, 6], canvases: 9 },
  { name: "intervene", query: "", series: [1, 1], canvases: 0 },
  { name: "categories", query: "", series: [7, 2, 2, 7, 7, 7], canvases: 2 },
  { name: "contexts", query: "?maxPerWord=6&window=20", series: [3, 3], canvases: 4 },
  {
    name: "punctuation",
    query: "?count=12&pre=6&post=3&bins=8",
    series: [7, 7, 7, 7, 2, 2, 2],
    canvases: 4,
  },
  {
    // One bar series per kernel in both charts (by-kernel totals and the launch timeline).
    name: "profile",
    query: "?tokens=16",
    series: `(() => {
      const k = document.querySelectorAll("table.profile tr").length - 2;
      return k > 0 ? [k, k] : [];
    })()`,
    canvases: 0,
  },
];

Deno.test({
  name: "viz pages draw their figures in headless Chromium",
  ignore: !haveChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const model = await Gpt2Model.load(await testGpu(), "default", { offline: true });
    const server = await startServer({ port: 0, model, quiet: true });
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    const shots = Deno.env.get("LAMINAR_SCREENSHOTS") ??
      await Deno.makeTempDir({ prefix: "laminar_viz_" });
    await Deno.mkdir(shots, { recursive: true });
    try {
      const open = async (path: string) => {
        // bypassCSP: the server's CSP forbids eval, which Playwright's string probes use.
        const page = await browser.newPage({
          viewport: { width: 1280, height: 900 },
          bypassCSP: true,
        });
        const errors: string[] = [];
        page.on("console", (m) => {
          if (m.type() === "error") errors.push(m.text());
        });
        page.on("pageerror", (e) => errors.push(e.message));
        await page.goto(server.url + path);
        await page.waitForFunction(
          `["done", "error", "unavailable"].includes(document.body.dataset.state ?? "")`,
          null,
          { timeout: 60_000 },
        );
        return { page, errors };
      };

      await t.step("index lists every analysis", async () => {
        const { page, errors } = await open("");
        const cards = await page.locator(".card").count();
        assertEquals(cards, 8);
        assertEquals(errors, []);
        await page.screenshot({ path: `${shots}/index.png`, fullPage: true });
        await page.close();
      });

      for (const spec of PAGES) {
        if (spec.name === "profile" && !model.gpu.caps.timestamps) {
          console.warn("adapter without timestamp-query: profile page not tested");
          continue;
        }
        await t.step(`${spec.name} page`, async () => {
          const { page, errors } = await open(`${spec.name}.html${spec.query}`);
          const state = await page.evaluate(STATE);
          const message = await page.evaluate(
            `document.querySelector(".error")?.textContent ?? ""`,
          );
          assertEquals(state, "done", String(message));
          const series = await page.evaluate(
            `(globalThis.__laminarCharts ?? []).map((u) => u.series.length - 1)`,
          );
          const expected = typeof spec.series === "string"
            ? await page.evaluate(spec.series)
            : spec.series;
          assertEquals(series, expected);
          // Every canvas (uPlot's and ours) has more than one colour.
          const blank = await page.evaluate(BLANK_CANVASES);
          assertEquals(blank, []);
          const ours = await page.locator("#figures canvas.matrix, #figures canvas.tokens").count();
          assertEquals(ours, spec.canvases);
          // The form submits at its defaults (a step mismatch would block Run silently).
          assert(await page.evaluate(`document.querySelector("form.params").checkValidity()`));
          assertEquals(errors, []);
          await page.screenshot({ path: `${shots}/${spec.name}.png`, fullPage: true });
          await page.close();
        });
      }

      await t.step(
        "Run re-runs with the form; bad address values and failed runs are said",
        async () => {
          const { page } = await open("heatmap.html?text=One%20two%20three&temperature=abc");
          assertEquals(await page.evaluate(STATE), "done");
          const warning = await page.locator(".warning").textContent();
          assert(warning?.includes('temperature="abc"'), String(warning));
          await page.fill('input[name="temperature"]', "0.7");
          await page.fill('textarea[name="text"], input[name="text"]', "Four five six seven");
          await page.click('button[type="submit"]');
          await page.waitForFunction(`document.body.dataset.state === "done"`, null, {
            timeout: 60_000,
          });
          const summary = await page.locator("#figures").textContent();
          // the new text (4 tokens, drawn on a canvas) at the new temperature
          assert(
            summary?.includes("4 tokens") && summary.includes("T = 0.7"),
            summary?.slice(0, 200),
          );
          // A failed run keeps the earlier figures, marked as the previous run's.
          await page.fill('textarea[name="text"], input[name="text"]', "");
          await page.click('button[type="submit"]');
          await page.waitForFunction(`document.body.dataset.state === "error"`, null, {
            timeout: 60_000,
          });
          assertEquals(await page.locator("#figures.stale").count(), 1);
          assert((await page.locator(".error").textContent())?.includes("previous run"));
          await page.close();
        },
      );

      await t.step("a figure downloads as PNG, its data as CSV", async () => {
        const { page } = await open("heatmap.html?text=One%20two%20three%20four");
        const [png] = await Promise.all([
          page.waitForEvent("download"),
          page.locator(".figure").first().getByText("PNG").click(),
        ]);
        assertEquals(png.suggestedFilename(), "token_heatmap.png");
        const [csv] = await Promise.all([
          page.waitForEvent("download"),
          page.locator(".figure").first().getByText("CSV").click(),
        ]);
        const text = await Deno.readTextFile(await csv.path());
        assert(text.startsWith("index,id,token,logprob"), text.slice(0, 80));
        // a uPlot figure (the second on this page: log p per token) exports too
        const [chartPng] = await Promise.all([
          page.waitForEvent("download"),
          page.locator(".figure").nth(1).getByText("PNG").click(),
        ]);
        assert((await Deno.stat(await chartPng.path())).size > 1000);
        await page.close();
      });

      await t.step("softmax page: the model-vs-model scatter, its toggle and exports", async () => {
        const { page, errors } = await open("softmax.html?k=5&compare=default");
        assertEquals(await page.evaluate(STATE), "done");
        // The scatter's chart: 2000 sampled ids (200 top + 1800 spread), logits on both axes;
        // the shipped model against itself, so every point is on the identity line.
        const SCATTER = `(() => {
          const fig = document.querySelector('[data-figure="model_vs_model"]');
          const u = (globalThis.__laminarCharts ?? []).find((c) => fig.contains(c.root));
          if (!u) return null;
          const pts = u.data.slice(1);
          return {
            series: pts.map((d) => d[0].length),
            onDiagonal: pts.every((d) => d[0].every((x, i) => x === d[1][i])),
            max: Math.max(...pts.flatMap((d) => d[0])),
            canvas: fig.querySelectorAll("canvas").length,
            xLabel: u.axes[0].label,
          };
        })()`;
        const before = await page.evaluate(SCATTER) as Record<string, unknown> | null;
        assert(before, "no scatter chart in the model_vs_model figure");
        assertEquals(before.series, [1800, 200]);
        assertEquals(before.onDiagonal, true);
        assertEquals(before.canvas, 1);
        assert(String(before.xLabel).endsWith("logit"), String(before.xLabel));
        assert((before.max as number) > 1, "logits, not probabilities");
        await page.locator("#scatter-probs").check();
        const after = await page.evaluate(SCATTER) as Record<string, unknown>;
        assertEquals(after.series, [1800, 200]);
        assertEquals(after.onDiagonal, true);
        assertEquals(after.canvas, 1);
        assert(String(after.xLabel).includes("log₁₀ probability"), String(after.xLabel));
        assert((after.max as number) < 0, "log10 probabilities are negative");
        assertEquals(await page.evaluate(BLANK_CANVASES), []);
        await page.screenshot({ path: `${shots}/softmax_scatter_probs.png`, fullPage: true });
        const fig = page.locator('[data-figure="model_vs_model"]');
        const [png] = await Promise.all([
          page.waitForEvent("download"),
          fig.getByText("PNG").click(),
        ]);
        assertEquals(png.suggestedFilename(), "model_vs_model.png");
        const [csv] = await Promise.all([
          page.waitForEvent("download"),
          fig.getByText("CSV").click(),
        ]);
        const rows = (await Deno.readTextFile(await csv.path())).trim().split("\n");
        assert(rows[0].startsWith("id,top_union,logit_"), rows[0]);
        assertEquals(rows.length, 2001);
        const [json] = await Promise.all([
          page.waitForEvent("download"),
          fig.getByText("JSON").click(),
        ]);
        const data = JSON.parse(await Deno.readTextFile(await json.path()));
        assertEquals([data.ids.length, data.union], [2000, 200]);
        // The same model twice: r = 1 up to float64 rounding (sqrt(var)^2 need not be var).
        assert(Math.abs(data.pearsonLogits - 1) <= 1e-12, String(data.pearsonLogits));
        assertEquals(errors, []);
        await page.close();
      });

      await t.step(
        "intervene page: patch from another prompt, then add from the form",
        async () => {
          const patch = "As Gregor Samsa awoke one morning from uneasy dreams, he found himself " +
            "transformed in his bed into a tiny"; // 22 tokens, as the default prompt
          const query = new URLSearchParams({ op: "patch", patch, positions: "-1" });
          const { page, errors } = await open(`intervene.html?${query}`);
          const message = await page.evaluate(
            `document.querySelector(".error")?.textContent ?? ""`,
          );
          assertEquals(await page.evaluate(STATE), "done", String(message));
          const charts = `(globalThis.__laminarCharts ?? []).map((u) => u.series.length - 1)`;
          assertEquals(await page.evaluate(charts), [1, 1]);
          // One point per block in the log-softmax chart.
          assertEquals(await page.evaluate(`globalThis.__laminarCharts[0].data[1].length`), 6);
          assertEquals(await page.evaluate(BLANK_CANVASES), []);
          const summary = await page.locator(".summary").textContent() ?? "";
          assert(summary.includes("patched from") && summary.includes("tiny"), summary);
          // Only the fields patch uses are shown.
          assert(await page.locator("#p-patch").isVisible());
          assert(!(await page.locator("#p-factor").isVisible()));
          assert(!(await page.locator("#p-dimension").isVisible()));
          assert(!(await page.locator("#p-heads").isVisible()));
          assertEquals(errors, []);
          await page.screenshot({ path: `${shots}/intervene_patch.png`, fullPage: true });

          // Switch to add in the form: a one-hot direction, scaled by the factor.
          await page.locator("#p-op").selectOption("add");
          assert(await page.locator("#p-dimension").isVisible());
          assert(!(await page.locator("#p-patch").isVisible()));
          await page.locator("#p-dimension").fill("7");
          await page.locator("#p-factor").fill("20");
          await page.locator("#p-positions").fill("");
          await page.locator("button[type=submit]").click();
          await page.waitForFunction(
            `document.body.dataset.state === "done" &&
            document.querySelector(".summary")?.textContent.includes("20 × e_7")`,
            null,
            { timeout: 60_000 },
          );
          assertEquals(await page.evaluate(charts), [1, 1]);
          assertEquals(errors, []);
          await page.screenshot({ path: `${shots}/intervene_add.png`, fullPage: true });
          await page.close();
        },
      );

      await t.step("a bad parameter shows the server's error and hint", async () => {
        const { page, errors } = await open("softmax.html?k=0");
        assertEquals(await page.evaluate(STATE), "error");
        const text = await page.locator(".error").textContent();
        assert(text?.includes('Parameter "k"'), text ?? "");
        // The 400 response itself is logged by Chromium; nothing else.
        assert(errors.every((e) => e.includes("400")), errors.join("\n"));
        await page.close();
      });
    } finally {
      await browser.close();
      await server.close();
    }
    console.log(`viz_browser_test: screenshots in ${shots}`);
  },
});
