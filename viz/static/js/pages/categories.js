// Category selectivity (seed 001, parts 1–3): per-dimension variance per layer, the category
// mask, one layer's cosine matrix, within vs across distributions, and Δ and t per layer.
import { el, figure, fmt, initPage, matrixRows } from "../page.js";
import { chartCanvas, lineChart, scatterChart } from "../charts.js";
import { drawMatrix } from "../matrix.js";
import { sampleColors } from "../colormap.js";

initPage("categories", (r, out) => {
  const words = r.words.map((w) => w.word);
  const cats = r.categories.map((c) => c.name);
  const L = r.layers;
  const ml = L[r.matrix.layer];
  out.append(el(
    "p",
    { class: "summary" },
    el("b", {}, `${words.length} words`),
    ` in ${cats.length} categories (${cats.join(", ")}) · ${r.pairs.within} within- and ` +
      `${r.pairs.across} across-category pairs`,
  ));
  const figs = el("div", { class: "figures" });
  out.append(figs);
  const depth = sampleColors(L.length, "plasma");

  // Part 1: variance of each dimension across words, per layer (jittered strip).
  const f1 = figure(figs, {
    title: "Variance across words of each dimension",
    name: "variance_per_layer",
    getCanvas: () => chartCanvas(u1),
    data: r.variance,
    csv: () => matrixRows(r.variance, L.map((l) => l.label)),
  });
  let seed = 7;
  const jitter = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 0.3;
  const u1 = scatterChart(f1.body, {
    xLabel: "Hidden-state layer",
    yLabel: "Variance",
    series: r.variance.map((v, i) => ({
      label: L[i].label,
      x: v.map(() => i + jitter()),
      y: v,
      color: depth[i],
      size: 2.5,
    })),
  });

  // Part 2a: category mask.
  const mask = r.words.map((a) =>
    r.words.map((b) => a.category === b.category ? cats.indexOf(a.category) + 1 : 0)
  );
  const f2 = figure(figs, {
    title: "Category mask",
    note: "0: across categories; k: both words in category k.",
    name: "category_mask",
    getCanvas: () => c2,
    data: { words, categories: cats, mask },
    csv: () => matrixRows(mask, words, words),
  });
  const c2 = drawMatrix(f2.body, mask, {
    rowLabels: words,
    colLabels: words,
    cmap: "viridis",
    vmin: 0,
    vmax: cats.length,
    size: Math.min(560, Math.max(330, words.length * 13)),
    discrete: true,
    ticks: [{ value: 0, label: "across" }, ...cats.map((c, k) => ({ value: k + 1, label: c }))],
    tip: (i, j, v) => `${words[i]} × ${words[j]}\n${v ? cats[v - 1] : "across"}`,
  });

  // Part 2b: cosine matrix of one layer.
  const f3 = figure(figs, {
    title: `Cosine similarity matrix, layer ${ml.label}`,
    name: `cosine_matrix_layer_${r.matrix.layer}`,
    getCanvas: () => c3,
    data: r.matrix,
    csv: () => matrixRows(r.matrix.values, words, words),
  });
  const c3 = drawMatrix(f3.body, r.matrix.values, {
    rowLabels: words,
    colLabels: words,
    cmap: "viridis",
    size: Math.min(560, Math.max(330, words.length * 13)),
    cbarLabel: "cosine",
  });

  // Part 2c: within vs across distributions of that layer.
  const h = ml.histogram;
  const f4 = figure(figs, {
    title: `Layer ${ml.label} distributions (Δ = ${fmt(ml.delta, 2)}, t = ${fmt(ml.t, 2)})`,
    name: `distributions_layer_${r.matrix.layer}`,
    getCanvas: () => chartCanvas(u4),
    data: h,
    csv: () => [
      ["lo", "hi", "within", "across"],
      ...h.within.map((w, i) => [h.edges[i], h.edges[i + 1], w, h.across[i]]),
    ],
  });
  const u4 = lineChart(f4.body, {
    x: h.edges.slice(0, -1),
    xLabel: "Cosine similarity",
    yLabel: "Density",
    series: [
      { label: "Within-category", values: h.within, width: 2.5 },
      { label: "Across-category", values: h.across, width: 2.5 },
    ],
  });

  // Part 3: means, Δ, t per layer, Δ vs t.
  const layerLabels = L.map((l) => l.label);
  const stats = () => [
    ["layer", "within mean", "across mean", "delta", "t", "df", "p"],
    ...L.map((l) => [l.label, l.within.mean, l.across.mean, l.delta, l.t, l.df, l.p]),
  ];
  const f5 = figure(figs, {
    title: "Mean similarity within and across categories",
    name: "means_per_layer",
    getCanvas: () => chartCanvas(u5),
    data: L.map(({ histogram: _h, blockMeans: _b, ...rest }) => rest),
    csv: stats,
  });
  const u5 = lineChart(f5.body, {
    xLabels: layerLabels,
    xLabel: "Hidden-state layer",
    yLabel: "Cosine similarity",
    series: [
      {
        label: "Within",
        values: L.map((l) => l.within.mean),
        points: true,
        pointSize: 12,
        pointFill: "#b3e5b3",
        width: 1,
      },
      {
        label: "Across",
        values: L.map((l) => l.across.mean),
        points: true,
        pointSize: 12,
        pointFill: "#e5b3b3",
        width: 1,
      },
    ],
  });
  const f6 = figure(figs, {
    title: "Similarity mean differences Δ",
    name: "delta_per_layer",
    getCanvas: () => chartCanvas(u6),
    csv: stats,
  });
  const u6 = scatterChart(f6.body, {
    xLabel: "Hidden-state layer",
    yLabel: "Δ",
    series: L.map((l, i) => ({ label: l.label, x: [i], y: [l.delta], color: depth[i], size: 8 })),
  });
  const f7 = figure(figs, {
    title: "T-values",
    name: "t_per_layer",
    getCanvas: () => chartCanvas(u7),
    csv: stats,
  });
  const u7 = scatterChart(f7.body, {
    xLabel: "Hidden-state layer",
    yLabel: "t",
    series: L.map((l, i) => ({ label: l.label, x: [i], y: [l.t], color: depth[i], size: 8 })),
  });
  const f8 = figure(figs, {
    title: "Δ against t",
    name: "delta_vs_t",
    getCanvas: () => chartCanvas(u8),
    csv: stats,
  });
  const u8 = scatterChart(f8.body, {
    xLabel: "Δ",
    yLabel: "t",
    series: L.map((l, i) => ({ label: l.label, x: [l.delta], y: [l.t], color: depth[i], size: 8 })),
  });
});
