// Intervention (seed 003, demo 3): the target token's log-softmax when each block's output is
// scaled (or zeroed), one pass per block, against the clean run.
import { el, figure, fmt, initPage } from "../page.js";
import { chartCanvas, lineChart } from "../charts.js";

initPage("intervene", (r, out) => {
  const o = r.options;
  const what = o.op === "scale" ? `scaled by ${o.factor}` : o.op;
  out.append(el(
    "p",
    { class: "summary" },
    "Target ",
    el("b", {}, JSON.stringify(r.target.text)),
    ` · clean log p ${fmt(r.clean.logProb)} (p ${fmt(r.clean.prob)}, rank ${r.clean.rank}) · ` +
      `${o.hook} ${what} · ${r.submissions} GPU submission(s)`,
  ));
  const figs = el("div", { class: "figures" });
  out.append(figs);
  const rows = () => [
    ["layer", "hook", "logprob", "prob", "rank", "delta", "top token"],
    ["clean", "", r.clean.logProb, r.clean.prob, r.clean.rank, 0, r.clean.top.text],
    ...r.layers.map((l) => [l.layer, l.hook, l.logProb, l.prob, l.rank, l.delta, l.top.text]),
  ];
  const f = figure(figs, {
    title: `log-softmax of ${JSON.stringify(r.target.text)} with each block ${what}`,
    note: "Dashed line: the clean run.",
    name: "intervention",
    getCanvas: () => chartCanvas(u),
    data: r,
    csv: rows,
  });
  const u = lineChart(f.body, {
    xLabels: r.layers.map((l) => String(l.layer)),
    xLabel: "Block whose output was changed",
    yLabel: "log-softmax of the target",
    hline: { value: r.clean.logProb, label: `Clean: ${fmt(r.clean.logProb, 2)}` },
    yRange: (() => {
      const v = [r.clean.logProb, ...r.layers.map((l) => l.logProb)];
      const lo = Math.min(...v), hi = Math.max(...v), pad = Math.max(0.05, (hi - lo) * 0.15);
      return [lo - pad, hi + pad];
    })(),
    series: [{
      label: "intervened",
      values: r.layers.map((l) => l.logProb),
      line: false,
      pointSize: 14,
      pointFill: "#e6b3b3",
    }],
  });

  const f2 = figure(figs, {
    title: "Rank of the target per intervened block",
    name: "intervention_rank",
    getCanvas: () => chartCanvas(u2),
    data: r.layers.map((l) => ({ layer: l.layer, rank: l.rank })),
    csv: rows,
  });
  const u2 = lineChart(f2.body, {
    xLabels: r.layers.map((l) => String(l.layer)),
    xLabel: "Block",
    yLabel: "Rank (1 = most likely)",
    hline: { value: r.clean.rank, label: `Clean: ${r.clean.rank}` },
    series: [{
      label: "rank",
      values: r.layers.map((l) => l.rank),
      points: true,
      color: "#9467bd",
    }],
  });

  const f3 = figure(figs, {
    title: "Clean run: most likely next tokens",
    name: "clean_top",
    data: r.clean.topK,
  });
  const table = el("table", { class: "plain" });
  table.append(el("tr", {}, ["token", "id", "log p"].map((h) => el("th", {}, h))));
  for (const t of r.clean.topK) {
    table.append(
      el("tr", {}, [JSON.stringify(t.text), t.id, fmt(t.logProb)].map((v) => el("td", {}, v))),
    );
  }
  f3.body.append(table);
});
