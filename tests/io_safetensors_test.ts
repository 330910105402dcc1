import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { FileNotFoundError, FormatError, InvalidArgumentError } from "../src/errors.ts";
import {
  bf16BitsToF32,
  encodeSafetensors,
  f16BitsToF32,
  parseSafetensors,
  readSafetensors,
  writeSafetensors,
} from "../src/io/safetensors.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url);
const fixture = (name: string) => fileURLToPath(new URL(name, FIXTURES));

/** Build a file from a header (object or raw string) and a data section. */
function makeFile(header: unknown, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(
    typeof header === "string" ? header : JSON.stringify(header),
  );
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

Deno.test("fixture model parses with the right shapes", async () => {
  const st = await readSafetensors(fixture("tiny-gpt2/model.safetensors"));
  assert.equal(st.tensors.size, 40);
  assert.deepEqual(st.metadata, { format: "pt" });
  assert.deepEqual(st.get("transformer.wte.weight").shape, [2048, 64]);
  assert.deepEqual(st.get("transformer.h.0.attn.c_attn.weight").shape, [64, 192]);
  const bias = st.getF32("transformer.h.0.attn.c_attn.bias");
  assert.equal(bias.length, 192);
  assert.ok(bias.every(Number.isFinite));
});

Deno.test("golden fixtures parse, F64 converts to float32", async () => {
  const pw = await readSafetensors(fixture("pairwise-golden.safetensors"));
  assert.equal(pw.get("cov").dtype, "F64");
  assert.deepEqual(pw.get("X").shape, [40, 256]);
  const cov = pw.getF32("cov");
  const cov64 = new Float64Array(pw.get("cov").data.slice().buffer);
  assert.equal(cov.length, 1600);
  for (let i = 0; i < cov.length; i++) assert.equal(cov[i], Math.fround(cov64[i]));
  const golden = await readSafetensors(fixture("tiny-gpt2-golden.safetensors"));
  assert.deepEqual(golden.get("t0.hidden").shape, [4, 10, 64]);
  assert.deepEqual(golden.get("t0.attn").shape, [3, 4, 10, 10]);
});

Deno.test("shipped float16 model converts to finite float32", async () => {
  const path = fileURLToPath(
    new URL("../models/sotu-gpt2-mini/model.safetensors", import.meta.url),
  );
  const st = await readSafetensors(path);
  const [name, tensor] = [...st.tensors].find(([, t]) => t.dtype === "F16")!;
  const values = st.getF32(name);
  assert.equal(values.length, tensor.shape.reduce((a, b) => a * b, 1));
  assert.ok(values.every(Number.isFinite));
});

Deno.test("F16 conversion: normals, subnormals, zeros, infinities, NaN", () => {
  const cases: [number, number][] = [
    [0x3c00, 1],
    [0xc000, -2],
    [0x3555, 0.333251953125],
    [0x7bff, 65504],
    [0x0400, 2 ** -14],
    [0x0001, 2 ** -24],
    [0x03ff, 1023 * 2 ** -24],
    [0x8001, -(2 ** -24)],
    [0x0000, 0],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ];
  const out = f16BitsToF32(new Uint16Array(cases.map(([b]) => b)));
  cases.forEach(([, v], i) => assert.equal(out[i], v));
  const special = f16BitsToF32(new Uint16Array([0x8000, 0x7e00, 0xfe01, 0x7c01]));
  assert.ok(Object.is(special[0], -0));
  assert.ok(Number.isNaN(special[1]) && Number.isNaN(special[2]) && Number.isNaN(special[3]));
});

Deno.test("BF16 conversion: upper 16 bits of float32", () => {
  const out = bf16BitsToF32(new Uint16Array([0x3f80, 0xc000, 0x4049, 0x7f80, 0xff80, 0x0001]));
  assert.deepEqual([...out], [1, -2, 3.140625, Infinity, -Infinity, 2 ** -133]);
  const special = bf16BitsToF32(new Uint16Array([0x8000, 0x7fc0]));
  assert.ok(Object.is(special[0], -0));
  assert.ok(Number.isNaN(special[1]));
});

Deno.test("getF32 reads F16 and BF16 tensors from a file", () => {
  const bytes = encodeSafetensors({
    h: { dtype: "F16", shape: [3], data: new Uint16Array([0x3c00, 0x0001, 0xfc00]) },
    b: { dtype: "BF16", shape: [1, 2], data: new Uint16Array([0x3f80, 0xc000]) },
  });
  const st = parseSafetensors(bytes);
  assert.deepEqual([...st.getF32("h")], [1, 2 ** -24, -Infinity]);
  assert.deepEqual([...st.getF32("b")], [1, -2]);
  assert.deepEqual(st.get("b").shape, [1, 2]);
});

Deno.test("round trip: write then read", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "t.safetensors");
    const a = Float32Array.from({ length: 6 }, (_, i) => i * 0.5 - 1);
    const b = Float64Array.from([Math.PI, -1e300]);
    const c = Int32Array.from([-5, 7, 2 ** 31 - 1]);
    const d = BigInt64Array.from([-3n, 50256n]);
    await writeSafetensors(path, {
      z: { dtype: "F32", shape: [2, 3], data: a },
      a: { dtype: "F64", shape: [2], data: b },
      ids: { dtype: "I32", shape: [3], data: c },
      long: { dtype: "I64", shape: [2], data: d },
      scalar: { dtype: "F32", shape: [], data: new Float32Array([7]) },
      empty: { dtype: "F32", shape: [0, 4], data: new Float32Array(0) },
    }, { note: "hello" });
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["t.safetensors"]);
    const raw = await Deno.readFile(path);
    const headerLen = new DataView(raw.buffer).getUint32(0, true);
    assert.equal(headerLen % 8, 0);
    const header = JSON.parse(new TextDecoder().decode(raw.subarray(8, 8 + headerLen)));
    assert.deepEqual(Object.keys(header), [
      "__metadata__",
      "z",
      "a",
      "ids",
      "long",
      "scalar",
      "empty",
    ]);
    assert.deepEqual(header.z.data_offsets, [0, 24]);
    assert.deepEqual(header.a.data_offsets, [24, 40]);

    const st = await readSafetensors(path);
    assert.deepEqual(st.metadata, { note: "hello" });
    assert.deepEqual(st.getF32("z"), a);
    assert.deepEqual([...st.getF32("a")], [Math.fround(Math.PI), -Infinity]);
    assert.deepEqual(st.getI32("ids"), c);
    assert.deepEqual([...st.getI32("long")], [-3, 50256]);
    assert.deepEqual(st.get("scalar").shape, []);
    assert.deepEqual([...st.getF32("scalar")], [7]);
    assert.equal(st.getF32("empty").length, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("getI32 rejects I64 values beyond 32 bits and float tensors", () => {
  const st = parseSafetensors(encodeSafetensors({
    big: { dtype: "I64", shape: [1], data: BigInt64Array.from([2n ** 40n]) },
    f: { dtype: "F32", shape: [1], data: new Float32Array(1) },
  }));
  assert.throws(() => st.getI32("big"), FormatError);
  assert.throws(() => st.getI32("f"), FormatError);
  assert.throws(() => st.getF32("big"), FormatError);
  assert.throws(() => st.get("nope"), FormatError);
});

Deno.test("encodeSafetensors rejects mismatched data", () => {
  assert.throws(
    () => encodeSafetensors({ x: { dtype: "F32", shape: [2], data: new Float64Array(2) } }),
    InvalidArgumentError,
  );
  assert.throws(
    () => encodeSafetensors({ x: { dtype: "F32", shape: [3], data: new Float32Array(2) } }),
    InvalidArgumentError,
  );
});

Deno.test("missing file gives FileNotFoundError", async () => {
  await assert.rejects(readSafetensors("/nonexistent/nope.safetensors"), FileNotFoundError);
});

Deno.test("malformed files give FormatError with a hint", () => {
  const f32x2 = new Uint8Array(8);
  const ok = { x: { dtype: "F32", shape: [2], data_offsets: [0, 8] } };
  const hugeLen = new Uint8Array(16);
  new DataView(hugeLen.buffer).setUint32(4, 1, true); // 2^32 bytes
  const longerThanFile = new Uint8Array(16);
  new DataView(longerThanFile.buffer).setUint32(0, 1000, true);
  const notUtf8 = makeFile("{}  ");
  notUtf8.set([0xff, 0xfe], 9);
  const cases: [string, Uint8Array][] = [
    ["empty", new Uint8Array(0)],
    ["shorter than 8 bytes", new Uint8Array(5)],
    ["header length over 100 MB", hugeLen],
    ["header length past the end", longerThanFile],
    ["header not JSON", makeFile("{not json")],
    ["header not UTF-8", notUtf8],
    ["header an array", makeFile([1, 2])],
    ["entry not an object", makeFile({ x: 5 })],
    ["no dtype", makeFile({ x: { shape: [2], data_offsets: [0, 8] } }, f32x2)],
    ["no shape", makeFile({ x: { dtype: "F32", data_offsets: [0, 8] } }, f32x2)],
    ["no offsets", makeFile({ x: { dtype: "F32", shape: [2] } }, f32x2)],
    [
      "unsupported dtype",
      makeFile({ x: { dtype: "F8_E4M3", shape: [8], data_offsets: [0, 8] } }, f32x2),
    ],
    ["bad shape", makeFile({ x: { dtype: "F32", shape: [-2], data_offsets: [0, 8] } }, f32x2)],
    [
      "offsets too short",
      makeFile({ x: { dtype: "F32", shape: [2], data_offsets: [0, 7] } }, f32x2),
    ],
    [
      "offsets reversed",
      makeFile({ x: { dtype: "F32", shape: [2], data_offsets: [8, 0] } }, f32x2),
    ],
    [
      "offsets not numbers",
      makeFile({ x: { dtype: "F32", shape: [2], data_offsets: ["0", "8"] } }, f32x2),
    ],
    ["truncated data", makeFile(ok, new Uint8Array(4))],
    ["bad metadata", makeFile({ __metadata__: [1], ...ok }, f32x2)],
  ];
  for (const [label, bytes] of cases) {
    assert.throws(
      () => parseSafetensors(bytes, "case.safetensors"),
      (e: unknown) => e instanceof FormatError && e.hint.length > 0 && !e.message.endsWith("."),
      label,
    );
  }
  assert.equal(parseSafetensors(makeFile(ok, f32x2)).getF32("x").length, 2);
});

Deno.test("truncated fixture and every prefix give FormatError, never a crash", async () => {
  const full = await Deno.readFile(fixture("tiny-gpt2/model.safetensors"));
  assert.throws(() => parseSafetensors(full.subarray(0, full.length - 100)), FormatError);
  const small = encodeSafetensors({
    a: { dtype: "F32", shape: [2, 2], data: new Float32Array(4) },
    b: { dtype: "I64", shape: [1], data: new BigInt64Array(1) },
  });
  for (let n = 0; n < small.length; n++) {
    assert.throws(() => parseSafetensors(small.subarray(0, n)), FormatError, `prefix ${n}`);
  }
  // Random single-byte corruptions: either parse or fail with FormatError.
  for (let i = 0; i < 500; i++) {
    const bad = small.slice();
    bad[Math.floor(Math.random() * bad.length)] = Math.floor(Math.random() * 256);
    try {
      parseSafetensors(bad);
    } catch (e) {
      assert.ok(e instanceof FormatError, String(e));
    }
  }
});
