import assert from "node:assert/strict";
import { InvalidArgumentError } from "../src/errors.ts";
import { displayBytes, EOT_ID, Gpt2Tokenizer } from "../src/tokenizer/tokenizer.ts";

const tok = new Gpt2Tokenizer();
const utf8 = new TextEncoder();

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

Deno.test("reference ids", () => {
  assert.deepEqual(
    tok.encode("A wise man once said: Penguins are cute."),
    [32, 10787, 582, 1752, 531, 25, 29755, 389, 13779, 13],
  );
  assert.deepEqual(tok.encode("Hello world"), [15496, 995]);
  assert.deepEqual(tok.encode(""), []);
  assert.equal(EOT_ID, 50256);
});

Deno.test("<|endoftext|> is one token anywhere unless disabled", () => {
  assert.deepEqual(tok.encode("ok<|endoftext|>x<|endoftext|>"), [482, EOT_ID, 87, EOT_ID]);
  assert.deepEqual(tok.encode("<|endoftext|>"), [EOT_ID]);
  assert.ok(!tok.encode("a<|endoftext|>", { allowSpecial: false }).includes(EOT_ID));
  assert.equal(tok.decode([482, EOT_ID, 87]), "ok<|endoftext|>x");
  const pieces = tok.tokenize("a<|endoftext|>b");
  assert.equal(pieces[1].text, "<|endoftext|>");
  assert.equal(pieces[1].end - pieces[1].start, 13);
});

Deno.test("emoji and CJK: bytes concatenate to the UTF-8 text, spans are contiguous", () => {
  const texts = [
    "Hi 🙂 日本語のテキスト, naïve café — 👨‍👩‍👧‍👦 ok",
    "🦀🦀🦀",
    "∑ x² ≠ ∞ <|endoftext|> 中文",
    "\u0000\t\n\r \u00a0 \ufeff\ud83d\ude00",
  ];
  for (const text of texts) {
    const pieces = tok.tokenize(text);
    assert.deepEqual(pieces.map((p) => p.id), tok.encode(text));
    assert.deepEqual(concat(pieces.map((p) => p.bytes)), utf8.encode(text));
    let offset = 0;
    for (const p of pieces) {
      assert.equal(p.start, offset);
      assert.equal(p.end, offset + p.bytes.length);
      assert.ok(p.bytes.length > 0);
      offset = p.end;
    }
    assert.equal(offset, utf8.encode(text).length);
    assert.equal(tok.decode(pieces.map((p) => p.id)), text);
  }
});

Deno.test("tokens splitting a multi-byte character show \\x escapes", () => {
  // "日本語" is split by GPT-2 inside characters.
  const pieces = tok.tokenize(" 日本語");
  assert.ok(pieces.length > 1);
  assert.ok(pieces.some((p) => /\\x[0-9a-f]{2}/.test(p.text)));
  // Whole characters within one token are shown as themselves.
  assert.equal(tok.tokenize(" café").map((p) => p.text).join(""), " café");
  assert.equal(displayBytes(new Uint8Array([0x68, 0xe2, 0x80])), "h\\xe2\\x80");
  assert.equal(displayBytes(utf8.encode("é🙂")), "é🙂");
  assert.equal(
    displayBytes(new Uint8Array([0xc0, 0x80, 0xed, 0xa0, 0x80])),
    "\\xc0\\x80\\xed\\xa0\\x80",
  );
});

Deno.test("every token has distinct non-empty bytes consistent with decode", () => {
  const seen = new Set<string>();
  const latin1 = new TextDecoder("latin1");
  const lossy = new TextDecoder("utf-8", { ignoreBOM: true });
  for (let id = 0; id < tok.vocabSize; id++) {
    const bytes = tok.tokenBytes(id);
    assert.ok(bytes.length > 0, `token ${id}`);
    seen.add(Array.from(bytes).join(","));
    assert.equal(tok.decode([id]), lossy.decode(bytes), `token ${id}`);
    if (id < 256) assert.equal(latin1.decode(bytes).length, 1); // the 256 byte tokens
  }
  assert.equal(seen.size, tok.vocabSize);
});

Deno.test("invalid ids give InvalidArgumentError", () => {
  for (const id of [-1, 50257, 1.5, NaN]) {
    assert.throws(() => tok.decode([id]), InvalidArgumentError);
    assert.throws(() => tok.tokenBytes(id), InvalidArgumentError);
  }
});

Deno.test("decode shows incomplete characters as U+FFFD and keeps no state between calls", () => {
  const [first, ...rest] = tok.encode(" 日");
  assert.ok(rest.length > 0);
  assert.equal(tok.decode([first]), " \ufffd");
  assert.ok(tok.decode(rest).includes("\ufffd"));
  assert.equal(tok.decode([first]), " \ufffd"); // same answer again: no state carried over
  assert.equal(tok.decode([first, ...rest]), " 日");
  assert.equal(tok.decode([]), "");
});
