// Profile: GPU time per kernel of one forward pass (timestamp queries around every launch) on the
// loaded model or random weights of a GPT-2 size: total time by kernel (bars), the per-kernel
// table (count, total, mean, share, GFLOP/s, GB/s) and every launch in order (bars per launch).
import { el, figure, fmt, initPage } from "../page.js";
import { chartCanvas, lineChart } from "../charts.js";
import { PALETTE } from "../colormap.js";

let logScale = false;

/** Milliseconds with 3 significant-ish digits. */
function ms(v) {
  if (v === null || v === undefined) return "–";
  return v >= 100 ? v.toFixed(1) : v >= 1 ? v.toFixed(3) : v.toFixed(4);
}

/** One bar series per kernel (colour by kernel order); `values(kernel, j, n)` gives its n values. */
function kernelSeries(r, n, values) {
  return r.kernels.map((k, j) => ({
    label: k.name,
    values: values(k, j, n),
    bars: true,
    color: PALETTE[j % PALETTE.length],
  }));
}

function render(r, out) {
  const label = r.config && r.config !== "loaded"
    ? `${r.config} (random weights)`
    : r.model.source.split("/").pop();
  const launches = r.launches.length;
  out.append(el(
    "p",
    { class: "summary" },
    el("b", {}, label),
    ` · ${r.model.nLayer} layers, width ${r.model.nEmbd} · batch ${r.input.batch} × ` +
      `${r.input.tokens} tokens · logits ${r.input.logits}` +
      `${r.input.hiddenStates ? " · hidden states" : ""} · ${launches} launches · kernel time ` +
      `${ms(r.totalMs)} ms (profiled pass ${ms(r.wallMs)} ms wall) · ${r.adapter}`,
  ));
  if (r.kernelRules) {
    out.append(el(
      "p",
      { class: "summary" },
      `Kernel rules: ${r.kernelRules.summary} `,
      ...(r.kernelRules.source === "measured"
        ? ["(measured on this adapter)."]
        : ["(defaults; ", el("code", {}, "deno task cli tune"), " measures this GPU's)."]),
    ));
  }
  const toggle = el("input", { type: "checkbox", id: "log-scale" });
  toggle.checked = logScale;
  toggle.addEventListener("change", () => {
    logScale = toggle.checked;
    out.replaceChildren();
    globalThis.__laminarCharts = [];
    render(r, out);
  });
  out.append(el("p", {}, el("label", {}, toggle, " log-scale times")));
  const figs = el("div", { class: "figures" });
  out.append(figs);

  const tableRows = () => [
    ["kernel", "count", "total_ms", "mean_ms", "share", "gflops", "gbps"],
    ...r.kernels.map((k) => [k.name, k.count, k.totalMs, k.meanMs, k.share, k.gflops, k.gbps]),
  ];

  // 1. Total time by kernel.
  const names = r.kernels.map((k) => k.name);
  const f1 = figure(figs, {
    title: "GPU time by kernel",
    note: "Sum of the launches' GPU time (timestamp queries; each launch in its own compute " +
      "pass, after an untimed warm-up pass).",
    name: "kernel_time",
    getCanvas: () => chartCanvas(u1),
    data: r.kernels,
    csv: tableRows,
  });
  const u1 = lineChart(f1.body, {
    xLabels: names,
    xLabel: "Kernel",
    yLabel: "Total ms",
    height: 280,
    logY: logScale,
    series: kernelSeries(r, names.length, (k, j, n) => {
      const v = new Array(n).fill(null);
      v[j] = k.totalMs;
      return v;
    }),
  });

  // 2. The table.
  const f2 = figure(figs, {
    title: "Per-kernel table",
    note: "GFLOP/s and GB/s from the FLOPs and bytes each launch declares, over its GPU time.",
    name: "kernel_table",
    data: { totalMs: r.totalMs, kernels: r.kernels },
    csv: tableRows,
  });
  const table = el("table", { class: "plain profile" });
  table.append(el(
    "tr",
    {},
    ["kernel", "count", "total ms", "mean ms", "share", "GFLOP/s", "GB/s"].map((h) =>
      el("th", {}, h)
    ),
  ));
  r.kernels.forEach((k, j) => {
    const pct = 100 * k.share;
    table.append(el(
      "tr",
      {},
      el(
        "td",
        {},
        el("span", { class: "swatch", style: `background:${PALETTE[j % PALETTE.length]}` }),
        k.name,
      ),
      el("td", {}, k.count),
      el("td", {}, ms(k.totalMs)),
      el("td", {}, ms(k.meanMs)),
      el(
        "td",
        { class: "share" },
        `${pct.toFixed(1)}%`,
        el(
          "span",
          { class: "sharetrack" },
          el("span", { class: "sharebar", style: `width:${pct.toFixed(1)}%` }),
        ),
      ),
      el("td", {}, fmt(k.gflops, 2)),
      el("td", {}, fmt(k.gbps, 2)),
    ));
  });
  table.append(el(
    "tr",
    { class: "total" },
    el("td", {}, "total"),
    el("td", {}, launches),
    el("td", {}, ms(r.totalMs)),
    el("td", {}, ""),
    el("td", {}, "100%"),
    el("td", {}, ""),
    el("td", {}, ""),
  ));
  f2.body.append(table);

  // 3. Every launch in order.
  const index = new Map(names.map((n, j) => [n, j]));
  const f3 = figure(figs, {
    title: "Launch timeline",
    note: "One bar per kernel launch, in submission order, coloured by kernel; hover for times.",
    wide: true,
    name: "launch_timeline",
    getCanvas: () => chartCanvas(u3),
    data: r.launches,
    csv: () => [
      ["i", "kernel", "ms", "start_ms", "flops", "bytes"],
      ...r.launches.map((l) => [l.i, l.name, l.ms, l.startMs, l.flops, l.bytes]),
    ],
  });
  const u3 = lineChart(f3.body, {
    xLabel: "Launch",
    xIntegers: true,
    yLabel: "ms",
    height: 300,
    logY: logScale,
    series: kernelSeries(r, launches, (_k, j, n) => {
      const v = new Array(n).fill(null);
      for (const l of r.launches) if (index.get(l.name) === j) v[l.i] = l.ms;
      return v;
    }),
  });
}

const WARN = {
  "gpt2": "Random gpt2 weights (124M parameters) are made on the CPU for every run; " +
    "expect about 10 s on lavapipe at 64 tokens.",
  "gpt2-medium":
    "Random gpt2-medium weights (355M parameters) are made on the CPU for every run; " +
    "expect half a minute or more on lavapipe at 64 tokens.",
  "gpt2-large": "Random gpt2-large weights (774M parameters, 3 GB) are made on the CPU for every " +
    "run; expect over a minute on lavapipe at 64 tokens, during which other analyses wait.",
};

initPage("profile", render, {}, {
  onForm(form) {
    const select = form.elements.namedItem("config");
    const warn = el("p", { class: "warn", id: "profile-warning" });
    const update = () => {
      const text = WARN[select?.value] ?? "";
      warn.textContent = text;
      warn.hidden = text === "";
    };
    select?.addEventListener("change", update);
    form.querySelector(".actions").before(warn);
    update();
  },
});
