// Colour maps (matplotlib's viridis, plasma, rainbow-like categorical, and a diverging blue-red),
// as interpolated stops. colormap(name)(t) -> [r, g, b] for t in [0, 1].

const STOPS = {
  viridis: [
    [68, 1, 84],
    [72, 40, 120],
    [62, 74, 137],
    [49, 104, 142],
    [38, 130, 142],
    [31, 158, 137],
    [53, 183, 121],
    [109, 205, 89],
    [180, 222, 44],
    [253, 231, 37],
  ],
  plasma: [
    [13, 8, 135],
    [75, 3, 161],
    [125, 3, 168],
    [168, 34, 150],
    [203, 70, 121],
    [229, 107, 93],
    [248, 148, 65],
    [253, 195, 40],
    [240, 249, 33],
  ],
  // Diverging: blue (low) - white - red (high).
  rdbu: [
    [5, 48, 97],
    [33, 102, 172],
    [67, 147, 195],
    [146, 197, 222],
    [209, 229, 240],
    [247, 247, 247],
    [253, 219, 199],
    [244, 165, 130],
    [214, 96, 77],
    [178, 24, 43],
    [103, 0, 31],
  ],
  // Token heatmap: light red (badly predicted) to light green (well predicted).
  redgreen: [
    [230, 97, 90],
    [245, 170, 120],
    [250, 230, 150],
    [190, 225, 140],
    [110, 195, 120],
  ],
};

/** A colour map function t in [0, 1] -> [r, g, b]. */
export function colormap(name = "viridis") {
  const stops = STOPS[name] ?? STOPS.viridis;
  const n = stops.length - 1;
  return (t) => {
    if (!Number.isFinite(t)) return [200, 200, 200];
    const x = Math.min(1, Math.max(0, t)) * n;
    const i = Math.min(n - 1, Math.floor(x));
    const f = x - i;
    const a = stops[i], b = stops[i + 1];
    return [
      Math.round(a[0] + (b[0] - a[0]) * f),
      Math.round(a[1] + (b[1] - a[1]) * f),
      Math.round(a[2] + (b[2] - a[2]) * f),
    ];
  };
}

/** CSS colour of an [r, g, b] triple (optionally with alpha). */
export function css([r, g, b], a = 1) {
  return a === 1 ? `rgb(${r},${g},${b})` : `rgba(${r},${g},${b},${a})`;
}

/** n colours sampled evenly from a map (e.g. one per layer, coloured by depth). */
export function sampleColors(n, name = "plasma") {
  const f = colormap(name);
  return Array.from({ length: n }, (_, i) => css(f(n === 1 ? 0.5 : i / (n - 1) * 0.9)));
}

/** A categorical palette (tab10). */
export const PALETTE = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
];
