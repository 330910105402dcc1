// Punctuation clusters (seed 004): MI and covariance matrices of commas and periods in one
// layer, distributions per layer coloured by depth, means per layer, and MI against covariance.
import { el, figure, fmt, initPage, matrixRows } from "../page.js";
import { chartCanvas, lineChart, scatterChart } from "../charts.js";
import { drawMatrix } from "../matrix.js";
import { sampleColors } from "../colormap.js";

const GROUPS = [["internal", "Commas"], ["terminal", "Periods"]];

function upper(m) {
  const out = [];
  for (let i = 0; i < m.length; i++) for (let j = i + 1; j < m.length; j++) out.push(m[i][j]);
  return out;
}

initPage("punctuation", (r, out) => {
  const o = r.options;
  const labels = r.layers.map((l) => (l.layer === 0 ? "Emb" : String(l.layer)));
  const depth = sampleColors(r.layers.length, "plasma");
  out.append(el(
    "p",
    { class: "summary" },
    el("b", {}, `${o.count} commas and ${o.count} periods`),
    ` · windows of ${o.pre} + 1 + ${o.post} tokens · book of ${r.book.tokens} tokens · ` +
      `${r.pairs} pairs per layer and group · ${fmt(r.timings.totalMs / 1000, 2)} s`,
  ));
  const figs = el("div", { class: "figures" });
  out.append(figs);

  const m = r.matrices;
  if (m) {
    for (const [metric, name] of [["mi", "Mutual information (bits)"], ["cov", "Covariance"]]) {
      for (const [g, gname] of GROUPS) {
        const key = metric + (g === "internal" ? "Internal" : "Terminal");
        const f = figure(figs, {
          title: `${name}: ${gname.toLowerCase()}, layer ${m.layer}`,
          name: `${metric}_${g}_layer_${m.layer}`,
          getCanvas: () => c,
          data: m[key],
          csv: () => matrixRows(m[key]),
        });
        const c = drawMatrix(f.body, m[key], {
          xLabel: "Occurrence",
          yLabel: "Occurrence",
          cmap: metric === "mi" ? "viridis" : "plasma",
          size: 260,
          cbarLabel: metric === "mi" ? "bits" : "cov",
        });
      }
    }
  }

  // Distributions per layer, coloured by depth.
  for (const [metric, name] of [["mi", "MI (bits)"], ["cov", "Covariance"]]) {
    const h = r.histograms[metric];
    const x = h.edges.slice(0, -1).map((e, i) => (e + h.edges[i + 1]) / 2);
    for (const [g, gname] of GROUPS) {
      const f = figure(figs, {
        title: `${name} distributions per layer: ${gname.toLowerCase()}`,
        name: `${metric}_distributions_${g}`,
        getCanvas: () => chartCanvas(u),
        data: { edges: h.edges, counts: h[g] },
        csv: () => matrixRows(h[g], labels, x.map((v) => fmt(v, 4))),
      });
      const u = lineChart(f.body, {
        x,
        xLabel: name,
        yLabel: "Pairs",
        height: 260,
        series: h[g].map((counts, l) => ({
          label: labels[l],
          values: counts,
          color: depth[l],
          width: 1.5,
        })),
      });
    }
  }

  // Means per layer.
  for (const [metric, name] of [["mi", "Mean MI (bits)"], ["cov", "Mean covariance"]]) {
    const f = figure(figs, {
      title: `${name} per layer`,
      name: `${metric}_means`,
      getCanvas: () => chartCanvas(u),
      data: r.layers.map((l) => ({
        layer: l.layer,
        internal: l.internal[metric],
        terminal: l.terminal[metric],
      })),
      csv: () => [
        ["layer", "commas", "periods"],
        ...r.layers.map((l) => [l.layer, l.internal[metric].mean, l.terminal[metric].mean]),
      ],
    });
    const u = lineChart(f.body, {
      xLabels: labels,
      xLabel: "Hidden-state layer",
      yLabel: name,
      height: 260,
      series: GROUPS.map(([g, gname], i) => ({
        label: gname,
        values: r.layers.map((l) => l[g][metric].mean),
        points: true,
        pointSize: 10,
        color: i === 0 ? "#2f5fd0" : "#d62728",
      })),
    });
  }

  // MI against covariance in the matrix layer.
  if (m) {
    const f = figure(figs, {
      title: `MI against covariance, layer ${m.layer}`,
      note: GROUPS.map(([g, gname]) => `${gname}: r = ${fmt(r.layers[m.layer][g].r)}`).join(" · "),
      name: `mi_vs_cov_layer_${m.layer}`,
      getCanvas: () => chartCanvas(u),
      csv: () => [
        ["group", "cov", "mi"],
        ...GROUPS.flatMap(([g, gname]) => {
          const cov = upper(m[g === "internal" ? "covInternal" : "covTerminal"]);
          const mi = upper(m[g === "internal" ? "miInternal" : "miTerminal"]);
          return cov.map((c, i) => [gname, c, mi[i]]);
        }),
      ],
    });
    const u = scatterChart(f.body, {
      xLabel: "Covariance",
      yLabel: "MI (bits)",
      series: GROUPS.map(([g, gname], i) => ({
        label: gname,
        x: upper(m[g === "internal" ? "covInternal" : "covTerminal"]),
        y: upper(m[g === "internal" ? "miInternal" : "miTerminal"]),
        color: i === 0 ? "#2f5fd0" : "#d62728",
        size: 2.5,
      })),
    });
  } else {
    figure(figs, { title: "Matrices", name: "matrices" }).body.append(
      el(
        "p",
        { class: "note" },
        "The MI and covariance matrices, and the MI-against-covariance scatter drawn from them, " +
          "are sent for at most 200 occurrences per group: lower the count to see them.",
      ),
    );
  }
});
