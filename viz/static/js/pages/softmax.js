// Softmax and temperature (seed 002): top-k bars at several temperatures (optionally on a log
// scale), the logit histogram, the numerical-stability cases, and model-vs-model scatter.
import { el, figure, fmt, initPage } from "../page.js";
import { chartCanvas, lineChart, scatterChart } from "../charts.js";
import { PALETTE } from "../colormap.js";

let logScale = false;

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
      getCanvas: () => chartCanvas(u),
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
    getCanvas: () => chartCanvas(ut),
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
    getCanvas: () => chartCanvas(uh),
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

  // Model vs model.
  if (r.compare) {
    const c = r.compare;
    const fc = figure(figs, {
      title: "Top-k logits: this model vs the compared model",
      note: `${c.model.source.split("/").pop()} · Pearson r of logits ${fmt(c.pearsonLogits)} · ` +
        `of probabilities ${fmt(c.pearsonProbs)} · top-${k} overlap ${c.topOverlap} · ` +
        `same top-1: ${c.sameTop1 ? "yes" : "no"}`,
      name: "model_vs_model",
      getCanvas: () => chartCanvas(us),
      data: c,
      csv: () => [
        ["rank", "model token", "model p", "other token", "other p"],
        ...r.top.ids.map((
          _,
          j,
        ) => [
          j + 1,
          r.top.texts[j],
          r.temperatures.find((t) => t.temperature === 1)?.probs[j],
          c.top.texts[j],
          c.probs[j],
        ]),
      ],
    });
    const t1 = r.temperatures.find((t) => t.temperature === 1) ?? r.temperatures[0];
    const us = scatterChart(fc.body, {
      xLabel: "This model: probability of its top-k",
      yLabel: "Other model: probability of its top-k",
      diagonal: true,
      series: [{ label: "top-k by rank", x: t1.probs, y: c.probs, size: 5 }],
    });
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

initPage("softmax", render);
