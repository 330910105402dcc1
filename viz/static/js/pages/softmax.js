// Softmax and temperature (seed 002): top-k bars at several temperatures (optionally on a log
// scale), the logit histogram, the numerical-stability cases, and, with a second model, the seed's
// scatter of one model's final-token logits against the other's (a sample of token ids: both
// top-200 lists plus ids spread evenly; probabilities on a log scale with a toggle).
import { el, figure, fmt, initPage } from "../page.js";
import { chartCanvas, lineChart, scatterChart } from "../charts.js";
import { PALETTE } from "../colormap.js";

let logScale = false;
let scatterProbs = false;

// PNG of a chart with the figure's title above it.
const png = (u, title) => chartCanvas(u, title);

function render(r, out) {
  const k = r.top.ids.length;
  out.append(el(
    "p",
    { class: "summary" },
    el("b", {}, JSON.stringify(r.text)),
    ` → most likely next token ${JSON.stringify(r.top.texts[0])} · ` +
      `sum of logits ${fmt(r.logits.sum, 2)} · sum of probabilities ${fmt(r.probSum, 6)}`,
  ));
  const toggle = el("input", { type: "checkbox", id: "log-scale" });
  toggle.checked = logScale;
  toggle.addEventListener("change", () => {
    logScale = toggle.checked;
    out.replaceChildren();
    render(r, out);
  });
  out.append(el("p", {}, el("label", {}, toggle, " log-scale probabilities")));
  const figs = el("div", { class: "figures" });
  out.append(figs);

  // Top-k bars, one chart per temperature, same y range.
  const labels = r.top.texts.map((t) => JSON.stringify(t));
  const maxP = Math.max(...r.temperatures.flatMap((t) => t.probs));
  const minP = Math.min(...r.temperatures.flatMap((t) => t.probs));
  r.temperatures.forEach((row, i) => {
    const f = figure(figs, {
      title: `Top ${k} at T = ${row.temperature}`,
      note: `top-${k} mass ${fmt(row.topMass)} · entropy ${fmt(row.entropy)} nats ` +
        `(${fmt(row.entropyBits)} bits)`,
      name: `topk_T${row.temperature}`,
      getCanvas: () => png(u, `Top ${k} at T = ${row.temperature}`),
      data: { temperature: row.temperature, tokens: r.top.texts, ids: r.top.ids, probs: row.probs },
      csv: () => [
        ["rank", "id", "token", "logit", "prob"],
        ...r.top.ids.map((id, j) => [j + 1, id, r.top.texts[j], r.top.logits[j], row.probs[j]]),
      ],
    });
    const u = lineChart(f.body, {
      xLabels: labels,
      yLabel: "Probability",
      logY: logScale,
      yRange: logScale ? [Math.max(1e-12, minP / 2), 1] : [0, Math.min(1, maxP * 1.08)],
      height: 280,
      series: [{
        label: `T = ${row.temperature}`,
        values: row.probs,
        bars: true,
        color: PALETTE[i % PALETTE.length],
      }],
    });
  });

  // All temperatures together: probability by rank.
  const ft = figure(figs, {
    title: "Probability by rank at each temperature",
    name: "temperatures",
    getCanvas: () => png(ut, "Probability by rank at each temperature"),
    data: r.temperatures,
    csv: () => [
      ["rank", ...r.temperatures.map((t) => `T=${t.temperature}`)],
      ...r.top.ids.map((_, j) => [j + 1, ...r.temperatures.map((t) => t.probs[j])]),
    ],
  });
  const ut = lineChart(ft.body, {
    x: r.top.ids.map((_, j) => j + 1),
    xLabel: "Rank",
    yLabel: "Probability",
    logY: logScale,
    series: r.temperatures.map((t) => ({
      label: `T = ${t.temperature}`,
      values: t.probs,
      points: true,
    })),
  });

  // Logit histogram.
  const h = r.logits.histogram;
  const fh = figure(figs, {
    title: "All final-token logits",
    note: `min ${fmt(r.logits.min)} · max ${fmt(r.logits.max)} · mean ${fmt(r.logits.mean)} · ` +
      `std ${fmt(r.logits.std)}`,
    name: "logit_histogram",
    getCanvas: () => png(uh, "All final-token logits"),
    data: r.logits,
    csv: () => [["lo", "hi", "count"], ...h.counts.map((c, i) => [h.edges[i], h.edges[i + 1], c])],
  });
  const uh = lineChart(fh.body, {
    x: h.counts.map((_, i) => (h.edges[i] + h.edges[i + 1]) / 2),
    xLabel: "Logit",
    yLabel: "Tokens",
    logY: logScale,
    series: [{
      label: "count",
      values: h.counts.map((c) => (logScale && c === 0 ? null : c)),
      bars: true,
      color: "#7f8fb8",
    }],
  });

  // Numerical stability table.
  const fs = figure(figs, {
    title: "Numerical stability (float32)",
    note: "Softmax is shift-invariant; exp without max-subtraction overflows or underflows.",
    name: "stability",
    data: r.stability,
    csv: () => [
      ["case", "offset", "max", "exp=inf", "exp=0", "NaN probs", "prob sum", "max |diff|"],
      ...r.stability.map((
        s,
      ) => [s.name, s.offset, s.max, s.expInf, s.expZero, s.nan, s.probSum, s.maxAbsDiff]),
    ],
  });
  const table = el("table", { class: "plain" });
  table.append(
    el(
      "tr",
      {},
      ["case", "max x", "exp = ∞", "exp = 0", "NaN", "Σp", "max |diff|"].map((h) =>
        el("th", {}, h)
      ),
    ),
  );
  for (const s of r.stability) {
    table.append(
      el(
        "tr",
        {},
        [s.name, fmt(s.max, 2), s.expInf, s.expZero, s.nan, fmt(s.probSum, 6), fmt(s.maxAbsDiff)]
          .map((v) => el("td", {}, v)),
      ),
    );
  }
  fs.body.append(table);

  // Model vs model: the seed's scatter of one model's logits against the other's.
  if (r.compare) {
    modelVsModel(r, figs);
  } else {
    const fc = figure(figs, { title: "Model vs model", name: "model_vs_model" });
    fc.body.append(
      el(
        "p",
        { class: "note" },
        'Give "Compare with model" (e.g. the same model, or a cached gpt2) to draw the scatter.',
      ),
    );
  }
}

const shortName = (source) => source.split("/").filter(Boolean).pop() ?? source;

function modelVsModel(r, figs) {
  const c = r.compare;
  const s = c.scatter;
  const k = r.top.ids.length;
  const V = r.model.vocabSize;
  const self = shortName(r.model.source);
  const other = shortName(c.model.source);
  const stats = `Pearson r over all ${V} token ids: logits ${fmt(c.pearsonLogits)}, ` +
    `probabilities ${fmt(c.pearsonProbs)} · top-${k} overlap ${c.topOverlap}/${k} · ` +
    `same top-1: ${c.sameTop1 ? "yes" : "no"}`;
  if (s) {
    const rest = s.ids.length - s.union;
    let us;
    const fc = figure(figs, {
      title: `Model vs model: ${self} vs ${other}`,
      note: `${s.ids.length} of ${V} token ids: the union of both models' top ${s.top} ` +
        `(${s.union} ids) and ${rest} spread evenly over the others · ${stats}`,
      name: "model_vs_model",
      getCanvas: () =>
        png(
          us,
          `Final-token ${scatterProbs ? "log₁₀ probabilities" : "logits"}: ${self} vs ${other}`,
        ),
      data: {
        models: [r.model.source, c.model.source],
        pearsonLogits: c.pearsonLogits,
        pearsonProbs: c.pearsonProbs,
        ...s,
      },
      csv: () => [
        ["id", "top_union", `logit_${self}`, `logit_${other}`, `p_${self}`, `p_${other}`],
        ...s.ids.map((id, i) => [id, i < s.union ? 1 : 0, s.a[i], s.b[i], s.pa[i], s.pb[i]]),
      ],
    });
    const toggle = el("input", { type: "checkbox", id: "scatter-probs" });
    toggle.checked = scatterProbs;
    const holder = el("div", { class: "scatter" });
    fc.body.append(
      el("p", {}, el("label", {}, toggle, " probabilities (log₁₀ scale) instead of logits")),
      holder,
    );
    const draw = () => {
      const log10 = (p) => (p > 0 ? Math.log10(p) : null);
      const xs = scatterProbs ? s.pa.map(log10) : s.a;
      const ys = scatterProbs ? s.pb.map(log10) : s.b;
      const what = scatterProbs ? "log₁₀ probability" : "logit";
      const part = (from, to) => ({ x: xs.slice(from, to), y: ys.slice(from, to) });
      return scatterChart(holder, {
        xLabel: `${self}: ${what}`,
        yLabel: `${other}: ${what}`,
        diagonal: true,
        height: 420,
        series: [
          { label: `${rest} ids spread evenly`, ...part(s.union), size: 2.5, color: PALETTE[0] },
          {
            label: `top ${s.top} of either model`,
            ...part(0, s.union),
            size: 3,
            color: PALETTE[1],
          },
        ],
      });
    };
    us = draw();
    toggle.addEventListener("change", () => {
      scatterProbs = toggle.checked;
      const charts = globalThis.__laminarCharts ?? [];
      if (charts.includes(us)) charts.splice(charts.indexOf(us), 1);
      us.destroy();
      holder.replaceChildren();
      us = draw();
    });
  } else {
    const fc = figure(figs, { title: "Model vs model", name: "model_vs_model", note: stats });
    fc.body.append(el("p", { class: "note" }, "No scatter sample in this result (scatterSize 0)."));
  }

  // Both top-k lists side by side (the tokens differ from rank to rank, so a table).
  const t1 = r.temperatures.find((t) => t.temperature === 1);
  const p1 = t1 ? t1.probs : null;
  const ft = figure(figs, {
    title: `Top ${k} of each model (T = 1)`,
    name: "model_vs_model_topk",
    data: { [self]: { ...r.top, probs: p1 }, [other]: { ...c.top, probs: c.probs } },
    csv: () => [
      ["rank", `token_${self}`, `p_${self}`, `token_${other}`, `p_${other}`],
      ...r.top.ids.map((_, j) => [j + 1, r.top.texts[j], p1?.[j], c.top.texts[j], c.probs[j]]),
    ],
  });
  const table = el("table", { class: "plain" });
  table.append(el("tr", {}, ["#", self, "p", other, "p"].map((h) => el("th", {}, h))));
  r.top.ids.forEach((_, j) => {
    table.append(el(
      "tr",
      {},
      [
        j + 1,
        JSON.stringify(r.top.texts[j]),
        p1 ? fmt(p1[j]) : "–",
        JSON.stringify(c.top.texts[j]),
        fmt(c.probs[j]),
      ].map((v) => el("td", {}, v)),
    ));
  });
  ft.body.append(table);
}

initPage("softmax", render);
