// Page scaffolding shared by every analysis page: the API client (JSON + Server-Sent Events over
// fetch), the parameter form built from the server's specs, the status line, and figure cards
// with PNG / JSON / CSV export.

/** GET a JSON endpoint; throws {error, hint} objects as Errors with .hint. */
export async function getJson(path) {
  const res = await fetch(path);
  const body = await res.json();
  if (!res.ok) throw apiError(body, res.status);
  return body;
}

function apiError(body, status) {
  const e = new Error(body?.error ?? `HTTP ${status}`);
  e.hint = body?.hint ?? "";
  e.status = status;
  return e;
}

/**
 * Run an analysis through POST /api/stream/<name>, reading the SSE events as they arrive.
 * onEvent(type, data) sees "queued", "start", "progress", "cached"; resolves with the result.
 */
export async function runAnalysis(name, params, onEvent = () => {}) {
  const res = await fetch(`/api/stream/${encodeURIComponent(name)}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(params),
  });
  if (!res.ok) throw apiError(await res.json().catch(() => null), res.status);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += value;
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let type = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) type = line.slice(7);
        else if (line.startsWith("data: ")) data.push(line.slice(6));
      }
      const parsed = data.length ? JSON.parse(data.join("\n")) : null;
      if (type === "result") return parsed;
      if (type === "error") throw apiError(parsed, parsed?.status ?? 500);
      onEvent(type, parsed);
    }
  }
  throw new Error("The server closed the stream without a result");
}

/** Create an element: el("div", {class: "x"}, child, "text"). */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/** Format a number compactly. */
export function fmt(v, digits = 3) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(digits - 1);
  return v.toFixed(digits);
}

/** Download a Blob or data URL under a file name. */
export function download(name, data, type = "application/octet-stream") {
  const url = typeof data === "string" && data.startsWith("data:")
    ? data
    : URL.createObjectURL(data instanceof Blob ? data : new Blob([data], { type }));
  const a = el("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  if (!url.startsWith("data:")) setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Rows (arrays) to CSV text. */
export function toCsv(rows) {
  const cell = (v) => {
    if (v === null || v === undefined) return "";
    const s = String(v);
    return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  return rows.map((r) => r.map(cell).join(",")).join("\n") + "\n";
}

/** A matrix (array of rows) with labels to CSV rows. */
export function matrixRows(matrix, rowLabels, colLabels) {
  const head = ["", ...(colLabels ?? matrix[0].map((_, j) => j))];
  return [head, ...matrix.map((r, i) => [rowLabels ? rowLabels[i] : i, ...r])];
}

const NAV = [
  ["heatmap", "Token heatmap"],
  ["softmax", "Softmax"],
  ["layers", "Layers"],
  ["intervene", "Intervention"],
  ["categories", "Categories"],
  ["contexts", "Contexts"],
  ["punctuation", "Punctuation"],
  ["profile", "Profile"],
];

/** The header bar with links to every page. */
export function header(current) {
  return el(
    "header",
    { class: "top" },
    el("a", { class: "brand", href: "/" }, "laminar"),
    el(
      "nav",
      {},
      NAV.map(([n, t]) =>
        el("a", { href: `/${n}.html`, class: n === current ? "current" : null }, t)
      ),
    ),
  );
}

// One tooltip element for the whole page.
let tip = null;
/** Show a tooltip near the mouse (text, or null to hide). */
export function tooltip(ev, text) {
  tip ??= document.body.appendChild(el("div", { class: "tooltip" }));
  if (text === null) {
    tip.style.display = "none";
    return;
  }
  tip.textContent = text;
  tip.style.display = "block";
  const x = Math.min(ev.clientX + 14, innerWidth - tip.offsetWidth - 8);
  const y = Math.min(ev.clientY + 14, innerHeight - tip.offsetHeight - 8);
  tip.style.left = `${x}px`;
  tip.style.top = `${y}px`;
}

/**
 * A figure card. `getCanvas()` returns the canvas to export as PNG; `data` is exported as JSON;
 * `csv()` returns rows for CSV. Returns {card, body}.
 */
export function figure(container, { title, note, wide, name, getCanvas, data, csv }) {
  const file = (name ?? title).toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_|_$/g, "");
  const tools = el("div", { class: "tools" });
  if (getCanvas) {
    tools.append(el("button", {
      class: "small",
      type: "button",
      title: "Download the figure as PNG",
      onclick: () => download(`${file}.png`, getCanvas().toDataURL("image/png")),
    }, "PNG"));
  }
  if (data !== undefined) {
    tools.append(el("button", {
      class: "small",
      type: "button",
      title: "Download the figure's data as JSON",
      onclick: () => download(`${file}.json`, JSON.stringify(data, null, 1), "application/json"),
    }, "JSON"));
  }
  if (csv) {
    tools.append(el("button", {
      class: "small",
      type: "button",
      title: "Download the figure's data as CSV",
      onclick: () => download(`${file}.csv`, toCsv(csv()), "text/csv"),
    }, "CSV"));
  }
  const body = el("div", { class: "body" });
  const card = el(
    "section",
    { class: "figure" + (wide ? " wide" : ""), "data-figure": file },
    el("header", {}, el("h2", {}, title), tools),
    note ? el("p", { class: "note" }, note) : null,
    body,
  );
  container.append(card);
  return { card, body };
}

function inputFor(spec, value) {
  const v = value ?? spec.default ?? "";
  const common = { name: spec.name, id: `p-${spec.name}`, title: spec.help ?? null };
  switch (spec.type) {
    case "text":
      return el(
        "textarea",
        { ...common, rows: 4, maxlength: spec.maxLength, placeholder: spec.placeholder ?? null },
        String(v),
      );
    case "bool": {
      const i = el("input", { ...common, type: "checkbox" });
      i.checked = v === true || v === "true";
      return i;
    }
    case "enum":
      return el(
        "select",
        common,
        spec.choices.map((c) => el("option", { value: c, selected: c === v }, c)),
      );
    case "int":
    case "number":
      return el("input", {
        ...common,
        type: "number",
        value: v,
        min: spec.min,
        max: spec.max,
        // Decimals: "any", or the browser refuses values off min + k * step (e.g. 1 with min 0.01
        // and step 0.1) and the form does not submit.
        step: spec.type === "int" ? (spec.step ?? 1) : "any",
      });
    case "ints":
    case "strings":
      return el("input", {
        ...common,
        type: "text",
        value: Array.isArray(v) ? v.join(",") : v,
        placeholder: "auto",
      });
    default:
      return el("input", {
        ...common,
        type: "text",
        value: v,
        maxlength: spec.maxLength,
        placeholder: spec.placeholder ?? null,
      });
  }
}

function readForm(form, specs) {
  const out = {};
  for (const s of specs) {
    const input = form.elements.namedItem(s.name);
    if (!input) continue;
    if (s.type === "bool") out[s.name] = input.checked;
    else if (input.value.trim() !== "" || s.type === "text" || s.type === "string") {
      out[s.name] = s.type === "int" || s.type === "number" ? Number(input.value) : input.value;
    }
  }
  return out;
}

/**
 * Set up an analysis page: header, form from GET /api/analyses, run on load and on submit,
 * progress and errors; `render(result, container, params)` draws the figures.
 * `overrides` replace the server's defaults (smaller inputs for slow pages); `onForm(form)` is
 * called once the form is built (e.g. to add live warnings).
 */
export async function initPage(name, render, overrides = {}, { onForm } = {}) {
  document.body.prepend(header(name));
  const main = document.querySelector("main");
  const intro = el("div");
  const form = el("form", { class: "params" });
  const status = el("div", { class: "status", role: "status" });
  const errors = el("div");
  const out = el("div", { id: "figures" });
  main.append(intro, form, errors, out);
  document.body.dataset.state = "loading";

  let def;
  try {
    const list = await getJson("/api/analyses");
    def = list.analyses.find((a) => a.name === name);
    intro.append(
      el("h1", {}, def?.title ?? name),
      el(
        "p",
        { class: "lead" },
        def?.description ?? "",
        " ",
        el("span", { class: "seed" }, def?.seed ? `(seed ${def.seed})` : ""),
      ),
    );
  } catch (e) {
    showError(errors, e);
    document.body.dataset.state = "error";
    return;
  }
  if (!def || !def.available) {
    form.remove();
    errors.append(el(
      "div",
      { class: "error", id: "not-available" },
      `This analysis is not available in this build: its library module ` +
        `(src/analysis/${name}.ts) is missing or not wired to the server yet.`,
    ));
    document.body.dataset.state = "unavailable";
    return;
  }

  const fromUrl = Object.fromEntries(new URLSearchParams(location.search));
  const ignored = [];
  for (const s of def.params) {
    const value = fromUrl[s.name] ?? overrides[s.name];
    const input = inputFor(s, value);
    // A URL value the input cannot hold (a number field drops "abc", a select keeps its first
    // choice): say so instead of silently running with the default.
    const raw = fromUrl[s.name];
    if (
      raw !== undefined && raw.trim() !== "" &&
      (((s.type === "int" || s.type === "number") && input.value === "") ||
        (s.type === "enum" && input.value !== raw))
    ) ignored.push(`${s.name}=${JSON.stringify(raw)}`);
    const wide = s.type === "text";
    const label = s.type === "bool"
      ? el("label", { class: "check", title: s.help ?? null }, input, s.label)
      : el("label", { class: wide ? "wide" : null, title: s.help ?? null }, s.label, input);
    form.append(label);
  }
  const button = el("button", { type: "submit" }, "Run");
  form.append(el("div", { class: "actions" }, button, status));
  onForm?.(form);
  const warnings = el("div");
  if (ignored.length > 0) {
    warnings.append(el(
      "div",
      { class: "warning" },
      `Ignored from the address: ${ignored.join(", ")} (not a valid value; the default is used).`,
    ));
  }
  form.after(warnings);

  async function run() {
    const params = readForm(form, def.params);
    button.disabled = true;
    errors.replaceChildren();
    document.body.dataset.state = "running";
    const t0 = performance.now();
    const bar = el("progress", { max: 1, value: 0 });
    status.replaceChildren("Running…", bar);
    try {
      const result = await runAnalysis(name, params, (type, data) => {
        if (type === "queued" && data.ahead > 0) {
          status.replaceChildren(`Waiting for the GPU (${data.ahead} ahead)…`, bar);
        } else if (type === "progress") {
          bar.max = data.total || 1;
          bar.value = data.done;
          status.replaceChildren(`${data.stage} ${data.done}/${data.total}`, bar);
        }
      });
      out.replaceChildren();
      out.classList.remove("stale");
      globalThis.__laminarCharts = [];
      render(result, out, params);
      const s = ((performance.now() - t0) / 1000).toFixed(2);
      status.replaceChildren(`Done in ${s} s.`);
      document.body.dataset.state = "done";
    } catch (e) {
      status.replaceChildren("");
      showError(errors, e);
      // Figures of an earlier run stay for reference, marked as such.
      if (out.childElementCount > 0) {
        out.classList.add("stale");
        errors.firstElementChild?.append(
          el("div", { class: "hint" }, "The figures below are from the previous run."),
        );
      }
      document.body.dataset.state = "error";
    } finally {
      button.disabled = false;
    }
  }
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    run();
  });
  await run();
}

/** Show an API error with its hint. */
export function showError(container, e) {
  container.replaceChildren(el(
    "div",
    { class: "error" },
    el("div", {}, e.message),
    e.hint ? el("div", { class: "hint" }, e.hint) : null,
  ));
}
