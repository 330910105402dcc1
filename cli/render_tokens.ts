/**
 * Terminal rendering shared by the CLI commands: matplotlib's "Reds" colour map, 24-bit ANSI
 * colours, text drawn as coloured tokens with line wrapping, a colour bar, and aligned tables.
 * @module
 */

/** An RGB colour, each channel in 0..255. */
export type Rgb = [number, number, number];

// matplotlib's "Reds" (ColorBrewer Reds-9): the seed's `mpl.cm.Reds`, light to dark.
const REDS: Rgb[] = [
  [0xff, 0xf5, 0xf0],
  [0xfe, 0xe0, 0xd2],
  [0xfc, 0xbb, 0xa1],
  [0xfc, 0x92, 0x72],
  [0xfb, 0x6a, 0x4a],
  [0xef, 0x3b, 0x2c],
  [0xcb, 0x18, 0x1d],
  [0xa5, 0x0f, 0x15],
  [0x67, 0x00, 0x0d],
];

/**
 * matplotlib's `cm.Reds(v)` for v in [0, 1] (clipped; NaN gives light grey): the 9 ColorBrewer
 * stops interpolated linearly on matplotlib's 256-entry lookup table.
 */
export function reds(v: number): Rgb {
  if (Number.isNaN(v)) return [0xd0, 0xd0, 0xd0];
  // matplotlib: index = floor(v * N) clipped to [0, N - 1]; entry i is the map at i / (N - 1).
  const i = Math.min(255, Math.max(0, Math.floor(v * 256)));
  const x = (i / 255) * (REDS.length - 1);
  const k = Math.min(REDS.length - 2, Math.floor(x));
  const f = x - k;
  return [0, 1, 2].map((c) => Math.round(REDS[k][c] + f * (REDS[k + 1][c] - REDS[k][c]))) as Rgb;
}

/** Black or white, whichever contrasts more with `bg` (WCAG relative luminance). */
export function contrastText(bg: Rgb): Rgb {
  const lin = (c: number) => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  const l = 0.2126 * lin(bg[0]) + 0.7152 * lin(bg[1]) + 0.0722 * lin(bg[2]);
  return l > 0.179 ? [0, 0, 0] : [255, 255, 255];
}

const RESET = "\x1b[0m";

/** `text` on background `bg` in 24-bit ANSI, foreground chosen for contrast. */
export function paint(text: string, bg: Rgb): string {
  const fg = contrastText(bg);
  return `\x1b[48;2;${bg.join(";")}m\x1b[38;2;${fg.join(";")}m${text}${RESET}`;
}

/** Bold text (ANSI), or plain when `color` is false. */
export function bold(text: string, color: boolean): string {
  return color ? `\x1b[1m${text}${RESET}` : text;
}

/** Dim text (ANSI), or plain when `color` is false. */
export function dim(text: string, color: boolean): string {
  return color ? `\x1b[2m${text}${RESET}` : text;
}

/** A token's text for the terminal: tabs as spaces, other control characters escaped. */
export function visibleToken(text: string): string {
  return text.replace(/\t/g, "  ").replace(/\r/g, "").replace(
    // deno-lint-ignore no-control-regex
    /[\x00-\x08\x0b-\x1f\x7f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

/** Terminal columns (80 when not a terminal). */
export function terminalWidth(): number {
  try {
    return Deno.stdout.isTerminal() ? Math.max(20, Deno.consoleSize().columns) : 80;
  } catch {
    return 80;
  }
}

/**
 * Draw tokens as a wrapped text with coloured backgrounds: token i gets `colorOf(i)`. Lines
 * wrap between words (a word is a token starting with a space plus the tokens glued to it, so
 * "other" and "," stay together); newlines inside tokens break the line.
 */
export function renderColouredText(
  tokens: readonly string[],
  colorOf: (i: number) => Rgb,
  width: number,
): string {
  const vis = tokens.map(visibleToken);
  const startsWord = (i: number) => i === 0 || /^\s/.test(vis[i]) || vis[i - 1].endsWith("\n");
  // Width of the word that starts at token i (up to the next word start or newline).
  const wordWidth = (i: number) => {
    let w = 0;
    for (let j = i; j < vis.length && (j === i || !startsWord(j)); j++) {
      const first = vis[j].split("\n")[0];
      w += [...first].length;
      if (vis[j].includes("\n")) break;
    }
    return w;
  };
  let out = "";
  let col = 0;
  vis.forEach((tok, i) => {
    tok.split("\n").forEach((part, j) => {
      if (j > 0) {
        out += "\n";
        col = 0;
      }
      const len = [...part].length;
      if (len === 0) return;
      let shown = part;
      const need = j === 0 && startsWord(i) ? wordWidth(i) : len;
      if (col > 0 && (j === 0 && startsWord(i) || len > width - col) && col + need > width) {
        out += "\n";
        col = 0;
        // A word moved to a new line does not need its leading space.
        if (shown.length > 1 && shown.startsWith(" ")) shown = shown.slice(1);
      }
      out += paint(shown, colorOf(i));
      col += [...shown].length;
    });
  });
  return out;
}

/** A colour bar: `low ███…███ high` with `cells` cells from 0 to 1 of `map`. */
export function colourBar(
  map: (v: number) => Rgb,
  low: string,
  high: string,
  cells = 32,
): string {
  let bar = "";
  for (let c = 0; c < cells; c++) bar += paint(" ", map(cells === 1 ? 0 : c / (cells - 1)));
  return `${low} ${bar} ${high}`;
}

/** Column alignment of {@linkcode table}. */
export type Align = "left" | "right";

/**
 * An aligned text table: a header row, a rule, and rows. Cells are strings; `align` gives each
 * column's alignment (default: right).
 */
export function table(header: string[], rows: string[][], align: Align[] = []): string {
  const width = header.map((h, c) =>
    Math.max([...h].length, ...rows.map((r) => [...(r[c] ?? "")].length))
  );
  const pad = (s: string, c: number) => {
    const n = width[c] - [...s].length;
    return align[c] === "left" ? s + " ".repeat(n) : " ".repeat(n) + s;
  };
  const line = (r: string[]) => r.map((s, c) => pad(s ?? "", c)).join("  ").trimEnd();
  return [line(header), width.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** A number with `digits` significant figures, or "-" for null/undefined, "NaN"/"inf" as such. */
export function fmt(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined) return "-";
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e6)) return v.toExponential(digits - 1);
  return Number(v.toPrecision(digits)).toString();
}

/** A number with a fixed number of decimals, or "-" for null. */
export function fixed(v: number | null | undefined, decimals = 3): string {
  if (v === null || v === undefined) return "-";
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  return v.toFixed(decimals);
}

/** A token's text quoted for tables (JSON-style escapes, so spaces and newlines show). */
export function quoteToken(text: string): string {
  return JSON.stringify(text);
}
