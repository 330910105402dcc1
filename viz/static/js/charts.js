// uPlot wrappers: line / point charts over a shared x, bar charts with category labels, and
// scatter plots (uPlot's mode 2 with a small point renderer). Each returns the uPlot instance;
// chartCanvas(u) composes a PNG-ready canvas (white background, title, plot).

import uPlot from "/vendor/uPlot.esm.js";
import { PALETTE } from "./colormap.js";

const AXIS = {
  stroke: "#1d2330",
  grid: { stroke: "#eceff4", width: 1 },
  ticks: { stroke: "#c9cfd9" },
};

function size(parent, opts) {
  const w = opts.width ?? Math.max(320, Math.min(1160, (parent.clientWidth || 560) - 8));
  return { width: w, height: opts.height ?? Math.min(360, Math.round(w * 0.55)) };
}

function categoryAxis(labels, rotate) {
  return {
    ...AXIS,
    splits: () => labels.map((_, i) => i),
    values: (_u, splits) => splits.map((s) => labels[s] ?? ""),
    rotate: rotate ? -45 : 0,
    // slanted: room for the longest label at 45 degrees (about 5.5 px of height a character)
    size: rotate ? Math.min(130, 30 + 5.5 * Math.max(...labels.map((l) => String(l).length))) : 40,
    gap: 4,
  };
}

/**
 * Lines and/or points over one x array.
 * opts: title, x (array; default 0..n-1), series [{label, values, color, points, line, dash,
 * width, bars}], xLabel, yLabel, xLabels (category labels for integer x), logY, yRange [lo, hi],
 * hline {value, label} (a dashed reference line), xIntegers (ticks on whole x values only),
 * width, height.
 */
export function lineChart(parent, opts) {
  const n = opts.series[0].values.length;
  const x = opts.x ?? Array.from({ length: n }, (_, i) => i);
  const series = [{ label: opts.xLabel ?? "x" }];
  opts.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    series.push({
      label: s.label,
      stroke: color,
      width: s.line === false ? 0 : (s.width ?? 2),
      dash: s.dash,
      spanGaps: s.spanGaps ?? false,
      fill: s.bars ? color + "cc" : undefined,
      paths: s.bars
        ? uPlot.paths.bars({ size: [0.7, 60] })
        : s.line === false
        ? () => null
        : undefined,
      points: {
        show: s.points ?? s.line === false,
        size: s.pointSize ?? 8,
        fill: s.pointFill ?? color,
        stroke: s.pointStroke ?? "#1d2330",
        width: 1,
      },
    });
  });
  // Slanted category labels when side by side they would not fit (about 8 px a character with
  // a 2-character gap, 75% of the width for the plot).
  const chars = opts.xLabels ? opts.xLabels.reduce((a, l) => a + String(l).length + 2, 0) : 0;
  const rotate = !!opts.xLabels && chars * 8 > size(parent, opts).width * 0.75;
  const hooks = {};
  if (opts.hline) {
    hooks.draw = [(u) => {
      const y = u.valToPos(opts.hline.value, "y", true);
      const ctx = u.ctx;
      ctx.save();
      ctx.strokeStyle = "#8a93a3";
      ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
      ctx.lineWidth = 1.5 * devicePixelRatio;
      ctx.beginPath();
      ctx.moveTo(u.bbox.left, y);
      ctx.lineTo(u.bbox.left + u.bbox.width, y);
      ctx.stroke();
      if (opts.hline.label) {
        ctx.setLineDash([]);
        ctx.fillStyle = "#5b6475";
        ctx.font = `${12 * devicePixelRatio}px system-ui, sans-serif`;
        ctx.textAlign = "right";
        ctx.fillText(
          opts.hline.label,
          u.bbox.left + u.bbox.width - 6 * devicePixelRatio,
          y - 5 * devicePixelRatio,
        );
      }
      ctx.restore();
    }];
  }
  const xPad = opts.xLabels || opts.series.some((s) => s.bars) ? 0.6 : 0;
  const u = new uPlot(
    {
      ...size(parent, opts),
      title: opts.title,
      scales: {
        x: {
          time: false,
          range: xPad ? (_u, lo, hi) => [lo - xPad, hi + xPad] : undefined,
        },
        y: {
          distr: opts.logY ? 3 : 1,
          range: opts.yRange ? () => opts.yRange : undefined,
        },
      },
      axes: [
        opts.xLabels
          ? categoryAxis(opts.xLabels, rotate)
          : opts.xIntegers
          ? { ...AXIS, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000] }
          : { ...AXIS },
        { ...AXIS, size: 56 },
      ],
      series,
      legend: { show: opts.series.length > 1 || !!opts.legend },
      cursor: { drag: { x: true, y: false } },
      hooks,
    },
    [x, ...opts.series.map((s) => s.values)],
    parent,
  );
  labelAxes(u, opts);
  return track(u);
}

/** Every chart of the page, for tests and the console (`__laminarCharts`). */
function track(u) {
  (globalThis.__laminarCharts ??= []).push(u);
  return u;
}

/** Axis titles are drawn into the canvas too (so the PNG keeps them). */
function labelAxes(u, opts) {
  if (opts.xLabel) u.axes[0].label = opts.xLabel;
  if (opts.yLabel) u.axes[1].label = opts.yLabel;
  if (opts.xLabel || opts.yLabel) u.redraw(false, true);
}

/**
 * Scatter plot: opts.series [{label, x, y, color, size}], xLabel, yLabel, title, diagonal (draw
 * y = x), width, height.
 */
export function scatterChart(parent, opts) {
  const draw = (color, r) => (u, si) => {
    const [xs, ys] = u.data[si];
    const ctx = u.ctx;
    const dpr = devicePixelRatio;
    ctx.save();
    ctx.beginPath();
    ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
    ctx.clip();
    ctx.fillStyle = color;
    ctx.globalAlpha = 0.7;
    const p = new Path2D();
    for (let i = 0; i < xs.length; i++) {
      if (xs[i] === null || ys[i] === null) continue;
      const cx = u.valToPos(xs[i], "x", true);
      const cy = u.valToPos(ys[i], "y", true);
      p.moveTo(cx + r * dpr, cy);
      p.arc(cx, cy, r * dpr, 0, 2 * Math.PI);
    }
    ctx.fill(p);
    ctx.restore();
    return null;
  };
  const series = [{}];
  opts.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    series.push({
      label: s.label,
      stroke: color,
      fill: color,
      paths: draw(color, s.size ?? 3),
      points: { show: false },
      facets: [{ scale: "x", auto: true }, { scale: "y", auto: true }],
    });
  });
  const hooks = {};
  if (opts.diagonal) {
    hooks.drawClear = [];
    hooks.draw = [(u) => {
      const lo = Math.max(u.scales.x.min, u.scales.y.min);
      const hi = Math.min(u.scales.x.max, u.scales.y.max);
      if (!(hi > lo)) return;
      const ctx = u.ctx;
      ctx.save();
      ctx.strokeStyle = "#9aa3b2";
      ctx.setLineDash([5 * devicePixelRatio, 4 * devicePixelRatio]);
      ctx.beginPath();
      ctx.moveTo(u.valToPos(lo, "x", true), u.valToPos(lo, "y", true));
      ctx.lineTo(u.valToPos(hi, "x", true), u.valToPos(hi, "y", true));
      ctx.stroke();
      ctx.restore();
    }];
  }
  const u = new uPlot(
    {
      ...size(parent, opts),
      mode: 2,
      title: opts.title,
      scales: { x: { time: false, range: padded }, y: { range: padded } },
      axes: [{ ...AXIS }, { ...AXIS, size: 56 }],
      series,
      legend: { show: opts.series.length > 1, live: false },
      cursor: { drag: { x: false, y: false }, points: { show: false } },
      hooks,
    },
    [null, ...opts.series.map((s) => [s.x, s.y])],
    parent,
  );
  labelAxes(u, opts);
  return track(u);
}

/** A scale range with 6% padding on both sides (points at the edges stay whole). */
function padded(_u, lo, hi) {
  if (lo === null || hi === null) return [0, 1];
  const d = hi > lo ? (hi - lo) * 0.06 : Math.abs(lo) * 0.1 || 1;
  return [lo - d, hi + d];
}

/**
 * A canvas with the chart on white, its title above and its legend entries below. The title is
 * `title`, else the one uPlot drew (uPlot instances keep no `opts`).
 */
export function chartCanvas(u, title) {
  const src = u.ctx.canvas;
  const dpr = devicePixelRatio;
  title ??= u.opts?.title ?? u.root?.querySelector(".u-title")?.textContent ?? "";
  const titleH = title ? 26 * dpr : 0;
  const names = u.series.slice(1).filter((s) => s.show !== false && s.label);
  const legendH = names.length > 1 ? 22 * dpr : 0;
  const out = document.createElement("canvas");
  out.width = src.width;
  out.height = src.height + titleH + legendH;
  const ctx = out.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.fillStyle = "#1d2330";
  ctx.font = `600 ${13 * dpr}px system-ui, sans-serif`;
  ctx.textAlign = "center";
  if (titleH) ctx.fillText(title, out.width / 2, 18 * dpr);
  ctx.drawImage(src, 0, titleH);
  if (legendH) {
    ctx.font = `${12 * dpr}px system-ui, sans-serif`;
    ctx.textAlign = "left";
    let x = 10 * dpr;
    const y = titleH + src.height + 15 * dpr;
    for (const s of names) {
      const color = typeof s.stroke === "function" ? s.stroke(u, 1) : s.stroke;
      ctx.fillStyle = color ?? "#1d2330";
      ctx.fillRect(x, y - 8 * dpr, 12 * dpr, 8 * dpr);
      ctx.fillStyle = "#1d2330";
      ctx.fillText(String(s.label), x + 16 * dpr, y);
      x += ctx.measureText(String(s.label)).width + 32 * dpr;
    }
  }
  return out;
}
