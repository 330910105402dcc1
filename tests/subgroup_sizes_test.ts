// The subgroup kernels at other subgroup sizes than lavapipe's 8: llvmpipe's subgroup size is its
// vector width / 32 (LP_NATIVE_VECTOR_WIDTH, read when the driver loads), so child test runs at
// 128 and 1024 bits get subgroups of 4 (WebGPU's smallest: 64 per 256-invocation workgroup, the
// reductions' limit; matmul must fall back to its scalar kernel) and a reported size of 32,
// NVIDIA's, of which llvmpipe (SIMD at most 16 wide) fills 16 lanes: 16 partially filled
// subgroups per workgroup where a real GPU has 8 full ones, a harsher case (any assumption that
// there are 256 / subgroup_size subgroups, or that every lane is active, breaks here). Each child
// runs the reduction tests (forced to the subgroup variant), at size 4 also the CPU-adapter matmul
// test (forced through the capabilities), plus a check that the size took. Mesa's shader cache
// is off in the children: its key ignores the vector width, so a cached size-8 build would run.
// Skipped on other adapters.
import { assert } from "./helpers/assert.ts";
import { testGpu } from "./helpers/gpu.ts";

const LAYER_NORM = "layerNorm\\(\\) matches";
const SOFTMAX = "logSoftmax\\(\\) and tokenStats\\(\\) are stable";
const SIZE_CHECK = "the subgroup size the test run asked for";
const MATMUL = "matmul\\(\\) on CPU adapters";

Deno.test(
  "subgroup kernels at subgroup sizes 4 and 32 (llvmpipe vector widths)",
  { sanitizeResources: false, sanitizeOps: false },
  async () => {
    const { caps } = await testGpu();
    if (!caps.description.startsWith("llvmpipe") || !caps.subgroups) {
      console.warn(`${caps.description}: not llvmpipe with subgroups, sweep skipped`);
      return;
    }
    // [vector width, subgroup size, tests]: matmul at size 4 only (the selection must refuse the
    // fast path; at 32 it would spend seconds compiling a kernel no GPU runs)
    const runs: [number, number, string[]][] = [
      [128, 4, [LAYER_NORM, SOFTMAX, SIZE_CHECK, MATMUL]],
      [1024, 32, [LAYER_NORM, SOFTMAX, SIZE_CHECK]],
    ];
    for (const [bits, size, tests] of runs) {
      const p = new Deno.Command(Deno.execPath(), {
        args: ["test", "--allow-all", "--filter", `/${tests.join("|")}/`, "tests/kernels_test.ts"],
        cwd: new URL("..", import.meta.url).pathname,
        env: {
          LP_NATIVE_VECTOR_WIDTH: String(bits),
          MESA_SHADER_CACHE_DISABLE: "true",
          NO_COLOR: "1",
          LAMINAR_TEST_SUBGROUP_SIZE: String(size),
        },
        stdout: "piped",
        stderr: "piped",
      });
      const { code, stdout, stderr } = await p.output();
      const out = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
      assert(code === 0, `subgroup size ${size} (${bits} bits) failed:\n${out.slice(-4000)}`);
      assert(
        out.includes(`| ${tests.length} passed |`),
        `size ${size}: not every test ran\n${out}`,
      );
    }
  },
);
