// Words in context (seed 001, parts 4–6): the same words in different contexts of a book —
// the cosine matrix of one layer, within- vs across-word distributions in that layer, and the
// "tornado" heatmaps (layer × similarity bin) of each distribution.
import { el, figure, fmt, initPage, matrixRows } from "../page.js";
import { chartCanvas, lineChart } from "../charts.js";
import { drawMatrix } from "../matrix.js";

const DISTS = ["within", "acrossFirst", "acrossOthers"];

initPage("contexts", (r, out) => {
  const labels = r.layers.map((l) => (l.layer === 0 ? "Emb" : String(l.layer)));
  out.append(el(
    "p",
    { class: "summary" },
    el("b", {}, `${r.n} occurrences`),
    " of " + r.targets.map((t) =>
      `${JSON.stringify(t.word)} (${t.used} of ${t.found})`
    ).join(", ") +
      ` · ${r.options.window} tokens of context · book of ${r.book.tokens} tokens · ` +
      `${fmt(r.timings.totalMs / 1000, 2)} s`,
  ));
  const figs = el("div", { class: "figures" });
  out.append(figs);

  // The occurrence x occurrence cosine matrix of the view layer.
  if (r.matrix) {
    const rowLabels = r.targets.flatMap((t) => Array.from({ length: t.used }, () => t.word.trim()));
    // The seed's colour scale starts at 0.5; below that, say how low the values go.
    const low = Math.min(...r.matrix.values.flat().filter(Number.isFinite));
    const f = figure(figs, {
      title: `Cosine similarity matrix, layer ${r.matrix.layer}`,
      note: "Rows and columns: occurrences, grouped by word. Colours from 0.5 to 1, as the seed" +
        (low < 0.5 ? `; values down to ${fmt(low, 2)} show as the lowest colour.` : "."),
      name: `cosine_matrix_layer_${r.matrix.layer}`,
      getCanvas: () => c,
      data: r.matrix,
      csv: () => matrixRows(r.matrix.values, rowLabels, rowLabels),
    });
    const c = drawMatrix(f.body, r.matrix.values, {
      cmap: "viridis",
      size: 330,
      vmin: 0.5,
      vmax: 1,
      xLabel: "Occurrence",
      yLabel: "Occurrence",
      cbarLabel: "cosine",
      tip: (i, j, v) => `${rowLabels[i]} #${i} × ${rowLabels[j]} #${j}\n${fmt(v, 4)}`,
    });
  }

  // Single-layer view: density of each distribution.
  const v = r.layerView;
  const fv = figure(figs, {
    title: `Layer ${v.layer} distributions`,
    name: `distributions_layer_${v.layer}`,
    getCanvas: () => chartCanvas(uv),
    data: v,
    csv: () => [
      ["distribution", "lo", "hi", "density"],
      ...DISTS.flatMap((d) =>
        v[d].density.map((p, i) => [r.labels[d], v[d].edges[i], v[d].edges[i + 1], p])
      ),
    ],
  });
  // Each distribution has its own edges: put them on one x grid (union of bin centres).
  const xs = [...new Set(DISTS.flatMap((d) => v[d].edges.slice(0, -1)))].sort((a, b) => a - b);
  const uv = lineChart(fv.body, {
    x: xs,
    xLabel: "Cosine similarity",
    yLabel: "Density",
    series: DISTS.map((d) => {
      const at = new Map(v[d].edges.slice(0, -1).map((e, i) => [e, v[d].density[i]]));
      return {
        label: r.labels[d],
        values: xs.map((x) => at.get(x) ?? null),
        width: 2,
        spanGaps: true,
      };
    }),
  });

  // Mean similarity per layer.
  const fm = figure(figs, {
    title: "Mean similarity per layer",
    name: "means_per_layer",
    getCanvas: () => chartCanvas(um),
    data: r.layers,
    csv: () => [
      ["layer", ...DISTS.map((d) => r.labels[d]), "delta"],
      ...r.layers.map((l) => [l.layer, ...DISTS.map((d) => l[d].mean), l.delta]),
    ],
  });
  const um = lineChart(fm.body, {
    xLabels: labels,
    xLabel: "Hidden-state layer",
    yLabel: "Cosine similarity",
    series: DISTS.map((d) => ({
      label: r.labels[d],
      values: r.layers.map((l) => l[d].mean),
      points: true,
    })),
  });

  // Tornado plots: layer x similarity bin, one per distribution.
  const centers = r.edges.slice(0, -1).map((e, i) => (e + r.edges[i + 1]) / 2);
  const vmax = 0.25; // as the seed (vmax=.25); larger shares saturate
  for (const d of DISTS) {
    // Pairs outside the binned range are counted but not drawn: name them per layer.
    const outside = r.layers
      .filter((l) => l[d].outside > 0)
      .map((l) => `${l.layer === 0 ? "Emb" : l.layer} ${l[d].outside}/${l[d].pairs}`);
    const f = figure(figs, {
      title: `Tornado: ${r.labels[d]}`,
      note: "Share of pairs per similarity bin in every hidden-state layer (bottom: embeddings); " +
        "colours saturate at 0.25, as the seed." +
        (outside.length > 0
          ? ` Pairs outside [${fmt(r.edges[0], 2)}, ${fmt(r.edges.at(-1), 2)}], not drawn: ` +
            `${outside.join(", ")}.`
          : ""),
      name: `tornado_${d}`,
      getCanvas: () => c,
      data: { edges: r.edges, distribution: r.distributions[d], counts: r.counts[d] },
      csv: () => matrixRows(r.distributions[d], labels, centers.map((x) => fmt(x, 3))),
    });
    const c = drawMatrix(f.body, r.distributions[d], {
      rowLabels: labels,
      colLabels: centers.map((x) => fmt(x, 2)),
      origin: "lower",
      aspect: "auto",
      size: 300,
      vmin: 0,
      vmax,
      cmap: "viridis",
      xLabel: "Cosine similarity",
      yLabel: "Hidden layer",
      cbarLabel: "share of pairs",
      tip: (i, j, p) =>
        `${labels[i]}, ${fmt(r.edges[j], 3)} … ${fmt(r.edges[j + 1], 3)}\n${fmt(p, 4)} (${
          r.counts[d][i][j]
        } pairs)`,
    });
  }
});
