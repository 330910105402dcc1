// Hidden states layer by layer (seed 003, demos 1–2): one token's activation distribution per
// layer, its variance, cosine similarity across layers (per token) and across tokens (per
// layer), and the laminar profile.
import { el, figure, fmt, initPage, matrixRows } from "../page.js";
import { chartCanvas, lineChart } from "../charts.js";
import { drawMatrix } from "../matrix.js";
import { sampleColors } from "../colormap.js";

initPage("layers", (r, out) => {
  const labels = r.layerLabels;
  const a = r.activations;
  // 5 ":" reads better than 5::
  const toks = r.tokens.map((t, i) => `${i} ${JSON.stringify(t.text)}`);
  out.append(el(
    "p",
    { class: "summary" },
    el("b", {}, `${r.tokens.length} tokens`),
    ` · activations of token ${a.token} ${JSON.stringify(a.text)} · ${labels.length} hidden states`,
  ));
  const figs = el("div", { class: "figures" });
  out.append(figs);

  // 1. Activation distribution per layer: histogram strip (layer x activation value).
  const edges = a.histogramEdges;
  const centers = edges.slice(0, -1).map((e, i) => (e + edges[i + 1]) / 2);
  const f1 = figure(figs, {
    title: `Activations of ${JSON.stringify(a.text)} per hidden state`,
    note: "Histogram of the token's activations in each hidden state (common bins).",
    name: "activation_strips",
    getCanvas: () => c1,
    data: { edges, layers: a.layers.map((l) => ({ label: l.label, histogram: l.histogram })) },
    csv: () => matrixRows(a.layers.map((l) => l.histogram), labels, centers.map((c) => fmt(c, 3))),
  });
  const c1 = drawMatrix(f1.body, a.layers.map((l) => l.histogram), {
    rowLabels: labels,
    colLabels: centers.map((c) => fmt(c, 2)),
    xLabel: "Activation value",
    yLabel: "Hidden state",
    cmap: "viridis",
    aspect: "auto",
    size: 330,
    cbarLabel: "count",
    tip: (i, j, v) => `${labels[i]}, ${fmt(edges[j], 3)} … ${fmt(edges[j + 1], 3)}\ncount ${v}`,
  });

  // 2. Quantiles and variance per layer.
  const q = a.quantiles;
  const f2 = figure(figs, {
    title: "Activation quantiles per hidden state",
    name: "activation_quantiles",
    getCanvas: () => chartCanvas(u2),
    data: a.layers,
    csv: () => [
      ["layer", "mean", "std", "variance", "min", "max", ...q.map((x) => `q${x}`)],
      ...a.layers.map((l) => [l.label, l.mean, l.std, l.variance, l.min, l.max, ...l.quantiles]),
    ],
  });
  const qColors = sampleColors(q.length, "viridis");
  const u2 = lineChart(f2.body, {
    xLabels: labels,
    xLabel: "Hidden state",
    yLabel: "Activation",
    series: [
      { label: "min", values: a.layers.map((l) => l.min), color: "#bbb", points: true, width: 1 },
      ...q.map((level, k) => ({
        label: `q${level}`,
        values: a.layers.map((l) => l.quantiles[k]),
        color: qColors[k],
        points: true,
      })),
      { label: "max", values: a.layers.map((l) => l.max), color: "#bbb", points: true, width: 1 },
    ],
  });

  const f3 = figure(figs, {
    title: "Variance per hidden state",
    name: "variance",
    getCanvas: () => chartCanvas(u3),
    data: a.layers.map((l) => ({ layer: l.label, variance: l.variance })),
    csv: () => [["layer", "variance"], ...a.layers.map((l) => [l.label, l.variance])],
  });
  const u3 = lineChart(f3.body, {
    xLabels: labels,
    xLabel: "Hidden state",
    yLabel: "Variance",
    series: [{
      label: "variance",
      values: a.layers.map((l) => l.variance),
      line: false,
      pointSize: 12,
      pointFill: "#b3e5b3",
    }],
  });

  // 4. Laminar profile: spread of inter-token similarities per layer.
  const p = r.laminarProfile.layers;
  const f4 = figure(figs, {
    title: "Laminar profile: inter-token cosine similarity",
    note: "Pairs of tokens 1..T-1 (the first token excluded): mean, quartiles, min and max.",
    name: "laminar_profile",
    getCanvas: () => chartCanvas(u4),
    data: r.laminarProfile,
    csv: () => [
      ["layer", "pairs", "mean", "std", "min", "q25", "median", "q75", "max"],
      ...p.map((l) => [l.label, l.pairs, l.mean, l.std, l.min, l.q25, l.median, l.q75, l.max]),
    ],
  });
  const u4 = lineChart(f4.body, {
    xLabels: labels,
    xLabel: "Hidden state",
    yLabel: "Cosine similarity",
    series: [
      { label: "max", values: p.map((l) => l.max), color: "#c3c9d4", width: 1 },
      { label: "q75", values: p.map((l) => l.q75), color: "#8fa8e0", dash: [4, 3] },
      { label: "mean", values: p.map((l) => l.mean), color: "#2f5fd0", points: true, width: 3 },
      { label: "median", values: p.map((l) => l.median), color: "#d9822b", points: true },
      { label: "q25", values: p.map((l) => l.q25), color: "#8fa8e0", dash: [4, 3] },
      { label: "min", values: p.map((l) => l.min), color: "#c3c9d4", width: 1 },
    ],
  });

  // 5. Cosine similarity across layers, per chosen token.
  for (const m of r.layerCosine) {
    const f = figure(figs, {
      title: `Layer × layer cosine similarity, token ${m.token} ${JSON.stringify(m.text)}`,
      name: `layer_cosine_token_${m.token}`,
      getCanvas: () => c,
      data: m,
      csv: () => matrixRows(m.matrix, labels, labels),
    });
    const c = drawMatrix(f.body, m.matrix, {
      rowLabels: labels,
      colLabels: labels,
      xLabel: "Hidden state",
      yLabel: "Hidden state",
      cmap: "viridis",
      size: 260,
      cbarLabel: "cosine",
    });
  }
  // 6. Cosine similarity across tokens, per chosen layer.
  for (const m of r.tokenCosine) {
    const f = figure(figs, {
      title: `Token × token cosine similarity, hidden state ${m.label}`,
      name: `token_cosine_${m.label}`,
      getCanvas: () => c,
      data: m,
      csv: () => matrixRows(m.matrix, toks, toks),
    });
    const c = drawMatrix(f.body, m.matrix, {
      rowLabels: toks,
      colLabels: toks,
      cmap: "viridis",
      size: 280,
      cbarLabel: "cosine",
    });
  }
});
