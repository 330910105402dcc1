// Intervention (seed 003, demo 3): the target token's log-softmax when one activation of each
// block is changed (scaled, zeroed, patched from another prompt, or shifted along one
// dimension), one pass per block, against the clean run.
import { el, figure, fmt, initPage } from "../page.js";
import { chartCanvas, lineChart } from "../charts.js";

const ATTENTION_HOOK = /^attn\.hook_([qkvz]|pattern)$/;

const list = (name, v) => `${name}${v.length > 1 ? "s" : ""} ${v.join(",")}`;

/** What was done, in words ("hook_resid_post scaled by 0.8"). */
function describe(o, params) {
  const where = [
    o.positions ? list("position", o.positions) : "",
    o.heads ? list("head", o.heads) : "",
  ].filter(Boolean).join(", ");
  const at = where ? ` (${where})` : "";
  switch (o.op) {
    case "scale":
      return `${o.hook}${at} scaled by ${o.factor}`;
    case "zero":
      return `${o.hook}${at} zeroed`;
    case "patch":
      return `${o.hook}${at} patched from the patch prompt`;
    case "add":
      return `${o.hook}${at} + ${o.factor} × e_${params?.dimension ?? "?"}`;
    default:
      return `${o.hook}${at} ${o.op}`;
  }
}

/** Where the patch prompt's tokens differ from the prompt's (at most 4 listed). */
function patchDiff(r) {
  const p = r.options.patchTokens ?? [];
  const diff = r.tokens.flatMap((t, i) =>
    p[i] && p[i].id !== t.id
      ? [`${i}: ${JSON.stringify(t.text)} → ${JSON.stringify(p[i].text)}`]
      : []
  );
  if (diff.length === 0) return "the patch prompt has the same tokens as the prompt";
  const more = diff.length > 4 ? `, … (${diff.length} positions in all)` : "";
  return `the patch prompt differs at ${diff.slice(0, 4).join(", ")}${more}`;
}

function render(r, out, params) {
  const o = r.options;
  const what = describe(o, params);
  out.append(el(
    "p",
    { class: "summary" },
    "Target ",
    el("b", {}, JSON.stringify(r.target.text)),
    ` · clean log p ${fmt(r.clean.logProb)} (p ${fmt(r.clean.prob)}, rank ${r.clean.rank}) · ` +
      `${what}${o.op === "patch" ? ` (${patchDiff(r)})` : ""} · ` +
      `${r.submissions} GPU submission(s)`,
  ));
  const figs = el("div", { class: "figures" });
  out.append(figs);
  const rows = () => [
    ["layer", "hook", "logprob", "prob", "rank", "delta", "top token"],
    ["clean", "", r.clean.logProb, r.clean.prob, r.clean.rank, 0, r.clean.top.text],
    ...r.layers.map((l) => [l.layer, l.hook, l.logProb, l.prob, l.rank, l.delta, l.top.text]),
  ];
  const f = figure(figs, {
    title: `log-softmax of ${JSON.stringify(r.target.text)}, one block at a time: ${what}`,
    note: "Dashed line: the clean run.",
    name: "intervention",
    getCanvas: () => chartCanvas(u),
    data: r,
    csv: rows,
  });
  const u = lineChart(f.body, {
    xLabels: r.layers.map((l) => String(l.layer)),
    xLabel: `Block L whose blocks.L.${o.hook} was changed`,
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
    yRange: (() => {
      const v = [r.clean.rank, ...r.layers.map((l) => l.rank)];
      const lo = Math.min(...v), hi = Math.max(...v), pad = Math.max(1, (hi - lo) * 0.15);
      return [Math.max(0, lo - pad), hi + pad];
    })(),
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
}

// The form shows only the fields the chosen operation and hook use: the factor for scale and
// add, the patch prompt for patch, the dimension for add, the heads for attention hooks. (The
// server ignores the patch prompt, dimension and factor of other operations; heads on a hook
// without heads are an error, so that field is cleared when the hook changes to such a hook.)
initPage("intervene", render, { factor: 0.8 }, {
  onForm(form) {
    const op = form.elements.namedItem("op");
    const hook = form.elements.namedItem("hook");
    const field = (name) => form.elements.namedItem(name)?.closest("label");
    const show = (name, visible) => {
      const label = field(name);
      if (label) label.style.display = visible ? "" : "none";
    };
    const patch = form.elements.namedItem("patch");
    if (patch) patch.rows = 2;
    const heads = form.elements.namedItem("heads");
    const update = (hookChanged) => {
      show("factor", op.value === "scale" || op.value === "add");
      show("patch", op.value === "patch");
      show("dimension", op.value === "add");
      const attention = ATTENTION_HOOK.test(hook.value);
      if (!attention && hookChanged && heads) heads.value = "";
      // Heads from the URL stay visible with a non-attention hook, next to the server's error.
      show("heads", attention || (heads?.value ?? "") !== "");
    };
    op?.addEventListener("change", () => update(false));
    hook?.addEventListener("change", () => update(true));
    update(false);
  },
});
