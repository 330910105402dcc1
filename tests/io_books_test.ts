// Books: local files, binary rejection, Gutenberg stripping, URL download + cache (a local
// Deno.serve), the SOTU corpus, and chunked tokenization equal to one encode.
import { assert, assertEquals, assertRejects, assertThrows } from "./helpers/assert.ts";
import {
  bookCachePath,
  decodeBookBytes,
  loadBook,
  parseSotuSpec,
  stripGutenberg,
  tokenizeBook,
} from "../src/io/books.ts";
import { Gpt2Tokenizer } from "../src/tokenizer/tokenizer.ts";
import {
  DownloadError,
  FileNotFoundError,
  FormatError,
  InvalidArgumentError,
} from "../src/errors.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

const GUTENBERG = "\ufeffThe Project Gutenberg eBook of Test\r\nLicence text.\r\n" +
  "*** START OF THE PROJECT GUTENBERG EBOOK TEST ***\r\n\r\n\r\nChapter 1\r\n\r\n" +
  "It was a dark night, and cold.\r\n\r\n" +
  "*** END OF THE PROJECT GUTENBERG EBOOK TEST ***\r\nMore licence.\r\n";

Deno.test("loadBook() reads a local UTF-8 file; missing, binary, invalid UTF-8, empty are errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a.txt`, "Héllo, world.\nSecond line.");
    const b = await loadBook(`${dir}/a.txt`);
    assertEquals(b.kind, "file");
    assertEquals(b.text, "Héllo, world.\nSecond line.");
    assertEquals(b.title, "a.txt");
    assertEquals((await loadBook(`file:${dir}/a.txt`)).text, b.text);
    await assertRejects(() => loadBook(`${dir}/nope.txt`), FileNotFoundError, "nope.txt");
    await Deno.writeFile(`${dir}/bin`, new Uint8Array([0x50, 0x4b, 3, 4, 0, 0]));
    const e = await assertRejects(() => loadBook(`${dir}/bin`), FormatError, "NUL");
    assert(e.hint.length > 0);
    await Deno.writeFile(`${dir}/latin1.txt`, new Uint8Array([0x63, 0x61, 0x66, 0xe9]));
    await assertRejects(() => loadBook(`${dir}/latin1.txt`), FormatError, "UTF-8");
    await Deno.writeTextFile(`${dir}/empty.txt`, " \n ");
    await assertRejects(() => loadBook(`${dir}/empty.txt`), FormatError, "empty");
    await assertRejects(() => loadBook(dir), FileNotFoundError);
    await assertRejects(() => loadBook(""), InvalidArgumentError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stripGutenberg() removes the header and footer, keeps other texts", () => {
  const s = stripGutenberg(GUTENBERG);
  assert(s.stripped);
  assertEquals(s.text, "Chapter 1\r\n\r\nIt was a dark night, and cold.");
  assertEquals(stripGutenberg("Plain text.\n"), { text: "Plain text.\n", stripped: false });
  const old = "x\n*** START OF THIS PROJECT GUTENBERG EBOOK FOO ***\nBody.\n*** END OF THIS " +
    "PROJECT GUTENBERG EBOOK FOO ***\n";
  assertEquals(stripGutenberg(old).text, "Body.");
  // The BOM survives decoding only when the header is kept (as Python's requests keeps it).
  const bytes = new TextEncoder().encode(GUTENBERG);
  assert(decodeBookBytes(bytes, "x", true).startsWith("\ufeff"));
  assert(!decodeBookBytes(bytes, "x").startsWith("\ufeff"));
});

Deno.test(
  "loadBook() downloads a URL once into the cache; 404 and offline are DownloadErrors",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    let requests = 0;
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
      requests++;
      const path = new URL(req.url).pathname;
      if (path === "/pg1.txt") return new Response(GUTENBERG);
      if (path === "/bin") return new Response(new Uint8Array([1, 0, 2]));
      return new Response("not here", { status: 404, statusText: "Not Found" });
    });
    try {
      const base = `http://127.0.0.1:${server.addr.port}`;
      const url = `${base}/pg1.txt`;
      const first = await loadBook(url, { cacheDir: dir });
      assertEquals(first.kind, "url");
      assertEquals(first.cached, false);
      assert(first.gutenbergStripped);
      assertEquals(first.text, "Chapter 1\r\n\r\nIt was a dark night, and cold.");
      assertEquals(requests, 1);
      assertEquals(first.cachePath, await bookCachePath(url, dir));
      const cachedFile = await Deno.readTextFile(first.cachePath!);
      assert(cachedFile.includes("START OF THE PROJECT")); // the raw download is cached
      const second = await loadBook(url, { cacheDir: dir, offline: true });
      assertEquals(second.cached, true);
      assertEquals(second.text, first.text);
      assertEquals(requests, 1); // no request the second time
      const raw = await loadBook(url, { cacheDir: dir, stripGutenberg: false });
      assert(raw.text.startsWith("\ufeffThe Project Gutenberg eBook"));
      const e = await assertRejects(
        () => loadBook(`${base}/missing.txt`, { cacheDir: dir }),
        DownloadError,
        "404",
      );
      assert(e.hint.length > 0);
      await assertRejects(() => loadBook(`${base}/bin`, { cacheDir: dir }), FormatError);
      assertEquals([...Deno.readDirSync(dir)].filter((f) => f.name.includes(".tmp-")).length, 0);
      assertEquals([...Deno.readDirSync(dir)].length, 1); // neither the 404 nor the binary cached
      await assertRejects(
        () => loadBook(`${base}/other.txt`, { cacheDir: dir, offline: true }),
        DownloadError,
        "offline",
      );
      await assertRejects(
        () => loadBook("http://127.0.0.1:1/x.txt", { cacheDir: dir }),
        DownloadError,
      );
    } finally {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("loadBook('sotu') loads the State of the Union corpus; selections", async () => {
  const b = await loadBook();
  assertEquals(b.kind, "sotu");
  assertEquals(b.addresses!.length, 8);
  assertEquals(b.addresses![0].year, 2014);
  assertEquals(b.addresses!.at(-1)!.year, 2021);
  const ids = tokenizeBook(b.text);
  assert(ids.length > 50_000, `${ids.length} tokens`);
  const lincoln = await loadBook("sotu:lincoln");
  assertEquals(lincoln.addresses!.map((a) => a.year), [1861, 1862, 1863, 1864]);
  const range = await loadBook("sotu:1990-1992");
  assert(range.addresses!.every((a) => a.year >= 1990 && a.year <= 1992));
  const all = await loadBook("sotu:all");
  assert(all.addresses!.length > 200);
  const years = all.addresses!.map((a) => a.year);
  assertEquals(years, [...years].sort((x, y) => x - y)); // chronological
  assertEquals((await loadBook("sotu:last=3")).addresses!.length, 3);
  assertEquals(parseSotuSpec("sotu:1930-1960,roosevelt"), {
    from: 1930,
    to: 1960,
    president: "roosevelt",
  });
  assertThrows(() => parseSotuSpec("sotu:2000-1990"), InvalidArgumentError);
  assertThrows(() => parseSotuSpec("sotu:#$"), InvalidArgumentError);
  await assertRejects(() => loadBook("sotu:1700"), InvalidArgumentError, "No State");
});

Deno.test("tokenizeBook() equals one encode of the whole text and reports progress", async () => {
  const b = await loadBook("sotu:2019-2021");
  const whole = new Gpt2Tokenizer().encode(b.text);
  const seen: number[] = [];
  const chunked = tokenizeBook(b.text, {
    chunkChars: 5000,
    onProgress: (_s, done) => seen.push(done),
  });
  assertEquals(Array.from(chunked), whole);
  assert(seen.length > 10 && seen.at(-1) === b.text.length);
  const tricky = "a\n\n\nB  c\n d\n\n's 12\n.5<|endoftext|>\nx é ü, a  b\t c don't ok .";
  for (const step of [1, 2, 3, 5, 8]) {
    assertEquals(
      Array.from(tokenizeBook(tricky, { chunkChars: step })),
      new Gpt2Tokenizer().encode(tricky),
    );
  }
});
