// Token heatmap (seed 000): tokens drawn on a canvas, coloured by the scaled metric, with hover
// details and a colour-scale legend; the per-token metric as a line chart.
import { el, figure, fmt, initPage, tooltip } from "../page.js";
import { colormap, css } from "../colormap.js";
import { chartCanvas, lineChart } from "../charts.js";

const LABELS = {
  logprob: "log-probability (nats)",
  prob: "probability",
  rank: "log10 rank",
  entropy: "entropy (nats)",
};

function drawTokens(parent, r) {
  const cmap = colormap("redgreen");
  // Higher log-prob / prob = better predicted = green; for rank and entropy lower is better.
  const good = (t) => (r.scale.metric === "rank" || r.scale.metric === "entropy" ? 1 - t : t);
  const width = Math.max(480, Math.min(1160, parent.clientWidth || 900));
  const font = "16px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace";
  const lineH = 28, pad = 12, legendH = 72;
  const m = document.createElement("canvas").getContext("2d");
  m.font = font;
  // Lay out tokens left to right, wrapping at the width and at newlines.
  const boxes = [];
  let x = pad, y = pad;
  r.tokens.forEach((t, i) => {
    const parts = t.text.split("\n");
    parts.forEach((part, k) => {
      if (k > 0) {
        x = pad;
        y += lineH;
      }
      const shown = part.replaceAll("\t", "  ");
      if (shown === "") return;
      const w = m.measureText(shown).width;
      if (x + w > width - pad && x > pad) {
        x = pad;
        y += lineH;
      }
      boxes.push({ i, text: shown, x, y, w });
      x += w;
    });
  });
  const height = y + lineH + pad + legendH;
  const dpr = devicePixelRatio || 1;
  const canvas = el("canvas", { class: "tokens" });
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext("2d");
  ctx.scale(dpr, dpr);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  ctx.font = font;
  ctx.textBaseline = "middle";
  for (const b of boxes) {
    ctx.fillStyle = b.i === 0 ? "#e4e7ec" : css(cmap(good(r.scaled[b.i])));
    ctx.fillRect(b.x, b.y, b.w, lineH - 4);
    ctx.fillStyle = "#1d2330";
    ctx.fillText(b.text, b.x, b.y + (lineH - 4) / 2);
  }
  // Legend: the colour scale with the metric's range.
  const ly = y + lineH + pad + 8, lw = Math.min(360, width - 2 * pad);
  for (let s = 0; s < lw; s++) {
    ctx.fillStyle = css(cmap(good(s / (lw - 1))));
    ctx.fillRect(pad + s, ly, 1.5, 14);
  }
  ctx.strokeStyle = "#9aa3b2";
  ctx.strokeRect(pad - 0.5, ly - 0.5, lw + 1, 15);
  ctx.fillStyle = "#1d2330";
  ctx.font = "12px system-ui, sans-serif";
  ctx.textBaseline = "top";
  ctx.textAlign = "left";
  ctx.fillText(fmt(r.scale.min, 3), pad, ly + 18);
  ctx.textAlign = "right";
  ctx.fillText(fmt(r.scale.max, 3), pad + lw, ly + 18);
  ctx.textAlign = "left";
  ctx.fillText(
    `${LABELS[r.scale.metric]}, min-max scaled (grey: the first token, which nothing predicts)`,
    pad,
    ly + 34,
  );

  canvas.addEventListener("mousemove", (ev) => {
    const rect = canvas.getBoundingClientRect();
    const px = (ev.clientX - rect.left) * (width / rect.width);
    const py = (ev.clientY - rect.top) * (height / rect.height);
    const b = boxes.find((b) => px >= b.x && px < b.x + b.w && py >= b.y && py < b.y + lineH);
    if (!b) return tooltip(ev, null);
    const i = b.i, t = r.tokens[i];
    tooltip(
      ev,
      i === 0
        ? `#0 ${JSON.stringify(t.text)} (id ${t.id})\nfirst token: nothing predicts it`
        : `#${i} ${JSON.stringify(t.text)} (id ${t.id})\nlog p  ${fmt(r.logprob[i], 4)}\n` +
          `p      ${fmt(r.prob[i], 4)}\nrank   ${r.rank[i]}\nentropy ${fmt(r.entropy[i], 3)}`,
    );
  });
  canvas.addEventListener("mouseleave", (ev) => tooltip(ev, null));
  parent.append(canvas);
  return canvas;
}

initPage("heatmap", (r, out) => {
  const s = r.summary;
  out.append(el(
    "p",
    { class: "summary" },
    el("b", {}, `${r.tokens.length} tokens`),
    ` · mean log p ${fmt(s.meanLogprob)} · perplexity ${fmt(s.perplexity, 2)} · ` +
      `top-1 ${(100 * s.top1).toFixed(1)}% · mean entropy ${fmt(s.meanEntropy)} nats · ` +
      `T = ${r.options.temperature}`,
  ));
  const figs = el("div", { class: "figures" });
  out.append(figs);
  const rows = () => [
    ["index", "id", "token", "logprob", "prob", "rank", "entropy", "scaled"],
    ...r.tokens.map((t, i) => [
      i,
      t.id,
      t.text,
      r.logprob[i],
      r.prob[i],
      r.rank[i],
      r.entropy[i],
      r.scaled[i],
    ]),
  ];
  const f1 = figure(figs, {
    title: `Text heatmap: ${LABELS[r.scale.metric]}`,
    note: "Hover a token for its log-probability, probability, rank and entropy.",
    wide: true,
    name: "token_heatmap",
    getCanvas: () => canvas,
    data: r,
    csv: rows,
  });
  const canvas = drawTokens(f1.body, r);

  const f2 = figure(figs, {
    title: "Log-probability of each token",
    wide: true,
    name: "logprob_per_token",
    getCanvas: () => chartCanvas(u),
    data: { tokens: r.tokens.map((t) => t.text), logprob: r.logprob },
    csv: rows,
  });
  const u = lineChart(f2.body, {
    xLabel: "Token index",
    yLabel: "log p (nats)",
    height: 260,
    series: [{ label: "log p", values: r.logprob, points: true, color: "#2f5fd0" }],
  });
});
