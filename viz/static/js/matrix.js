// A small canvas heatmap: a matrix drawn cell by cell with axis labels, a colour bar and a hover
// tooltip. Used for cosine matrices, category masks, MI / covariance matrices and the tornado
// (layer x similarity bin) plots.

import { colormap, css } from "./colormap.js";
import { fmt, tooltip } from "./page.js";

const FONT = "12px system-ui, sans-serif";

/**
 * Draw `values` (rows of numbers; null = blank) into a new canvas appended to `parent`.
 * Options: title, xLabel, yLabel, rowLabels, colLabels, vmin, vmax, cmap, cbarLabel,
 * cell (px, default fits `size`), size (px of the plot area, default 360), origin ("upper" |
 * "lower": row 0 at the top or the bottom), aspect ("equal" | "auto"), width/height (auto),
 * tip(i, j, v) -> tooltip text, ticks (category colour bar: [{value, label}]), discrete (bool).
 * Returns the canvas (for PNG export).
 */
export function drawMatrix(parent, values, opts = {}) {
  const rows = values.length;
  const cols = rows ? values[0].length : 0;
  let vmin = opts.vmin, vmax = opts.vmax;
  if (vmin === undefined || vmax === undefined) {
    let lo = Infinity, hi = -Infinity;
    for (const r of values) {
      for (const v of r) {
        if (v === null || !Number.isFinite(v)) continue;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    if (lo === Infinity) lo = hi = 0;
    vmin ??= lo;
    vmax ??= hi;
  }
  if (vmax === vmin) vmax = vmin + 1e-9;
  const cmap = colormap(opts.cmap ?? "viridis");
  const rowLabels = opts.rowLabels, colLabels = opts.colLabels;

  // Layout: margins for labels, the plot area, the colour bar.
  const measure = document.createElement("canvas").getContext("2d");
  measure.font = FONT;
  const labelW = (labels) =>
    labels
      ? Math.min(110, Math.max(...labels.map((l) => measure.measureText(String(l)).width)))
      : 0;
  const size = opts.size ?? 360;
  const auto = opts.aspect === "auto";
  const plotW = opts.width ?? (auto ? size * 1.5 : size);
  const plotH = opts.height ?? (auto ? size * 0.8 : Math.round(size * Math.min(2, rows / cols)));
  const cw = plotW / cols, ch = plotH / rows;
  const showCol = colLabels && cw >= 12 && cols <= 30;
  const showRow = rowLabels && ch >= 12;
  const left = 18 + (opts.yLabel ? 16 : 0) + (showRow ? labelW(rowLabels) + 6 : 28);
  const top = opts.title ? 28 : 10;
  const bottom = 10 + (opts.xLabel ? 18 : 0) + (showCol ? labelW(colLabels) * 0.72 + 10 : 18);
  const cbarX = left + plotW + 14, cbarW = 14;
  const width = cbarX + cbarW + 60 + (opts.cbarLabel ? 18 : 0);
  const height = top + plotH + bottom;

  const dpr = globalThis.devicePixelRatio || 1;
  const canvas = document.createElement("canvas");
  canvas.className = "matrix";
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext("2d");
  ctx.scale(dpr, dpr);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  ctx.font = FONT;
  ctx.fillStyle = "#1d2330";

  if (opts.title) {
    ctx.font = "600 13px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.fillText(opts.title, left + plotW / 2, 18);
    ctx.font = FONT;
  }

  // Cells (row 0 at the top, or at the bottom with origin "lower").
  const rowY = (i) => top + (opts.origin === "lower" ? (rows - 1 - i) : i) * ch;
  const color = (v) => css(cmap((v - vmin) / (vmax - vmin)));
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const v = values[i][j];
      ctx.fillStyle = v === null || !Number.isFinite(v) ? "#eeeeee" : color(v);
      // +0.5 px overlap avoids hairline gaps between cells.
      ctx.fillRect(left + j * cw, rowY(i), cw + 0.5, ch + 0.5);
    }
  }
  ctx.strokeStyle = "#9aa3b2";
  ctx.lineWidth = 1;
  ctx.strokeRect(left - 0.5, top - 0.5, plotW + 1, plotH + 1);

  // Axis labels.
  ctx.fillStyle = "#1d2330";
  ctx.textBaseline = "middle";
  if (showRow) {
    ctx.textAlign = "right";
    for (let i = 0; i < rows; i++) {
      ctx.fillText(clip(ctx, String(rowLabels[i]), 110), left - 5, rowY(i) + ch / 2);
    }
  } else {
    ctx.textAlign = "right";
    for (const i of ticks(rows)) ctx.fillText(String(i), left - 5, rowY(i) + ch / 2);
  }
  if (showCol) {
    for (let j = 0; j < cols; j++) {
      ctx.save();
      ctx.translate(left + j * cw + cw / 2, top + plotH + 6);
      ctx.rotate(-Math.PI / 4);
      ctx.textAlign = "right";
      ctx.fillText(clip(ctx, String(colLabels[j]), 110), 0, 0);
      ctx.restore();
    }
  } else {
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const j of ticks(cols)) {
      const label = colLabels ? String(colLabels[j]) : String(j);
      ctx.fillText(label, left + j * cw + cw / 2, top + plotH + 5);
    }
  }
  ctx.textBaseline = "alphabetic";
  if (opts.xLabel) {
    ctx.textAlign = "center";
    ctx.fillText(opts.xLabel, left + plotW / 2, height - 6);
  }
  if (opts.yLabel) {
    ctx.save();
    ctx.translate(13, top + plotH / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center";
    ctx.fillText(opts.yLabel, 0, 0);
    ctx.restore();
  }

  // Colour bar.
  const steps = 100;
  for (let s = 0; s < steps; s++) {
    const t = s / (steps - 1);
    ctx.fillStyle = css(cmap(opts.discrete ? Math.round(t * 10) / 10 : t));
    ctx.fillRect(cbarX, top + plotH * (1 - (s + 1) / steps), cbarW, plotH / steps + 0.5);
  }
  ctx.strokeStyle = "#9aa3b2";
  ctx.strokeRect(cbarX - 0.5, top - 0.5, cbarW + 1, plotH + 1);
  ctx.fillStyle = "#1d2330";
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  const cbTicks = opts.ticks ??
    [0, 0.25, 0.5, 0.75, 1].map((t) => ({
      value: vmin + t * (vmax - vmin),
      label: fmt(vmin + t * (vmax - vmin), 2),
    }));
  for (const { value, label } of cbTicks) {
    const y = top + plotH * (1 - (value - vmin) / (vmax - vmin));
    ctx.fillRect(cbarX + cbarW, y - 0.5, 3, 1);
    ctx.fillText(label, cbarX + cbarW + 5, y);
  }
  if (opts.cbarLabel) {
    ctx.save();
    ctx.translate(width - 8, top + plotH / 2);
    ctx.rotate(Math.PI / 2);
    ctx.textAlign = "center";
    ctx.fillText(opts.cbarLabel, 0, 0);
    ctx.restore();
  }

  // Hover.
  canvas.addEventListener("mousemove", (ev) => {
    const r = canvas.getBoundingClientRect();
    const x = (ev.clientX - r.left) * (width / r.width) - left;
    const y = (ev.clientY - r.top) * (height / r.height) - top;
    const j = Math.floor(x / cw);
    let i = Math.floor(y / ch);
    if (opts.origin === "lower") i = rows - 1 - i;
    if (j < 0 || j >= cols || i < 0 || i >= rows || x < 0 || y < 0) return tooltip(ev, null);
    const v = values[i][j];
    const text = opts.tip
      ? opts.tip(i, j, v)
      : `${rowLabels ? rowLabels[i] : i} × ${colLabels ? colLabels[j] : j}\n${fmt(v, 4)}`;
    tooltip(ev, text);
  });
  canvas.addEventListener("mouseleave", (ev) => tooltip(ev, null));
  parent.append(canvas);
  return canvas;
}

function clip(ctx, s, max) {
  if (ctx.measureText(s).width <= max) return s;
  while (s.length > 1 && ctx.measureText(s + "…").width > max) s = s.slice(0, -1);
  return s + "…";
}

function ticks(n) {
  const step = n <= 12 ? 1 : n <= 30 ? 5 : n <= 120 ? 10 : n <= 600 ? 50 : 100;
  const out = [];
  for (let i = 0; i < n; i += step) out.push(i);
  return out;
}
