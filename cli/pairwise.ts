/**
 * `pairwise`: all-pairs cosine similarity, covariance or mutual information (seed 004) of the
 * vectors of one safetensors tensor, computed on the GPU and written as safetensors.
 * @module
 */

import { type CliCommand, getGpu, num, parse, reportError } from "./common.ts";
import { FormatError, InvalidArgumentError } from "../src/errors.ts";
import { readSafetensors, writeSafetensors } from "../src/io/safetensors.ts";
import { Tensor } from "../src/tensor/tensor.ts";
import { computePairwise, MAX_MI_BINS, type PairwiseMetric } from "../src/pairwise/mod.ts";

/** Usage of the pairwise command. */
export const PAIRWISE_HELP =
  `usage: deno task cli pairwise --in <file.safetensors> --tensor <name> --metric cosine|covariance|mi
                               --out <file.safetensors> [--bins 15] [--outlier-z 5]

Reads a [N, D] or [L, N, D] F32/F64 tensor (N vectors of D elements, per layer) and writes
  matrix  F32 [N, N] or [L, N, N]
computed on the GPU, every layer in one submission:
  cosine      cosine similarity of every pair, the full symmetric matrix
  covariance  seed 004's covariance (ddof 1) of the elements kept by the outlier rule;
              upper triangle i < j filled, the rest 0 (--outlier-z 0: plain np.cov values)
  mi          seed 004's mutual information in bits (mutInfo_and_cov): z-score outlier
              removal, bins x bins joint histogram with numpy's edges; upper triangle i < j
The input is checked for NaN/Inf on the CPU before upload.

Options:
  --in <file>       input safetensors file
  --tensor <name>   tensor to read (F32 or F64)
  --metric <m>      cosine, covariance or mi
  --bins <n>        MI histogram bins per axis, 2..${MAX_MI_BINS} (default 15)
  --outlier-z <z>   drop element k of a pair when |z| > z in either vector; 0 keeps all
                    (default 5; mi and covariance)
  --out <file>      output safetensors file (written atomically)
  -h, --help        this help`;

const METRICS: readonly PairwiseMetric[] = ["cosine", "covariance", "mi"];

/** Run `pairwise` with the arguments after the command name; returns the exit code. */
export async function pairwiseCommand(args: string[]): Promise<number> {
  try {
    return await run(args);
  } catch (e) {
    return reportError(e);
  }
}

async function run(args: string[]): Promise<number> {
  const { values } = parse(args, {
    in: { type: "string" },
    tensor: { type: "string" },
    metric: { type: "string" },
    bins: { type: "string" },
    "outlier-z": { type: "string" },
    out: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  });
  if (values.help) {
    console.log(PAIRWISE_HELP);
    return 0;
  }
  for (const name of ["in", "tensor", "metric", "out"] as const) {
    if (values[name] === undefined) {
      throw new InvalidArgumentError(`Option --${name} is required`, "See --help");
    }
  }
  const metric = values.metric as PairwiseMetric;
  if (!METRICS.includes(metric)) {
    throw new InvalidArgumentError(
      `Unknown metric "${values.metric}"`,
      "Use --metric cosine, covariance or mi",
    );
  }
  const bins = num(values.bins, "bins", 15, { integer: true, min: 2, max: MAX_MI_BINS });
  const outlierZ = num(values["outlier-z"], "outlier-z", 5, { min: 0 });

  const file = await readSafetensors(values.in!);
  const info = file.get(values.tensor!);
  if (info.dtype !== "F32" && info.dtype !== "F64") {
    throw new FormatError(
      `Tensor "${values.tensor}" has dtype "${info.dtype}"; pairwise reads F32 or F64`,
      "Convert the tensor to float32 or float64",
    );
  }
  const shape = [...info.shape];
  if (shape.length !== 2 && shape.length !== 3) {
    throw new InvalidArgumentError(
      `Tensor "${values.tensor}" has shape "[${shape.join(", ")}]"; expected [N, D] or [L, N, D]`,
      "Store the vectors as rows, one [N, D] matrix per layer",
    );
  }
  const data = file.getF32(values.tensor!);
  // The data comes from the CPU: check it here, before any upload.
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new InvalidArgumentError(
        `Tensor "${values.tensor}" holds a non-finite value (${data[i]}) at flat index ${i}`,
        "Remove or replace NaN and infinite values first",
      );
    }
  }
  const gpu = await getGpu();
  using h = Tensor.from(gpu, data, shape);
  const { values: matrix, shape: outShape } = await computePairwise(h, {
    metric,
    bins,
    outlierZ,
    triangle: metric === "cosine" ? "full" : "upper",
  });
  await writeSafetensors(values.out!, {
    matrix: { dtype: "F32", shape: outShape, data: matrix },
  }, { metric, bins: String(bins), outlier_z: String(outlierZ), source: values.tensor! });
  console.error(`wrote ${metric} [${outShape.join(", ")}] to ${values.out}`);
  return 0;
}

/** The pairwise command for the CLI dispatcher. */
export const command: CliCommand = {
  name: "pairwise",
  summary: "all-pairs cosine, covariance or MI of a safetensors tensor on the GPU",
  help: PAIRWISE_HELP,
  run: pairwiseCommand,
};
