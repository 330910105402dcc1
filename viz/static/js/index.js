// The index page: one card per analysis, from GET /api/analyses.
import { el, fmt, getJson, header, showError } from "./page.js";

document.body.prepend(header(""));
const cards = document.getElementById("cards");
try {
  const { model, analyses } = await getJson("/api/analyses");
  document.getElementById("model").replaceChildren(
    "Model: ",
    el("b", {}, model.source.split("/").pop()),
    ` — ${model.nLayer} layers, ${model.nHead} heads, width ${model.nEmbd}, ` +
      `context ${model.nPositions}, vocabulary ${fmt(model.vocabSize)}`,
  );
  for (const a of analyses) {
    cards.append(el(
      "div",
      { class: "card" + (a.available ? "" : " unavailable") },
      el("a", { class: "title", href: `/${a.name}.html` }, a.title),
      " ",
      a.seed ? el("span", { class: "seed" }, `seed ${a.seed}`) : null,
      el("p", {}, a.description),
      a.available ? null : el("p", { class: "seed" }, "Not available yet in this build."),
    ));
  }
  document.body.dataset.state = "done";
} catch (e) {
  showError(cards, e);
  document.body.dataset.state = "error";
}
