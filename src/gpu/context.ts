/**
 * The GPU context: device, pipeline cache, buffer pool, and a deferred launch queue that records
 * every dispatch of a forward pass or an analysis into one command encoder and one submission,
 * with one readback at the end.
 * @module
 */

import { InvalidArgumentError, LaminarError } from "../errors.ts";
import { type GpuCapabilities, type GpuDeviceOptions, requestGpuDevice } from "./device.ts";
import { BufferPool } from "./pool.ts";
import { defaultTuning, loadTuning, type Tuning } from "./tuning.ts";

/** A compute kernel: WGSL source with one entry point and optional override constants. */
export interface Kernel {
  /** Stable name, used as the pipeline-cache key and in profiles. */
  name: string;
  /** WGSL source. Binding 0 of group 0 is the uniform parameter struct when `params` are given. */
  code: string;
  /** Entry point (default "main"). */
  entryPoint?: string;
  /** Pipeline-overridable constants. */
  constants?: Record<string, number>;
}

/** A range of a buffer bound to a kernel. */
export interface BufferRange {
  /** The buffer. */
  buffer: GPUBuffer;
  /** Offset in bytes (a multiple of the device's storage offset alignment). */
  offset: number;
  /** Size in bytes. */
  size: number;
}

/** One recorded kernel launch. */
export interface Dispatch {
  /** The kernel to run. */
  kernel: Kernel;
  /** Uniform parameters, 4-byte scalars in struct order; see {@linkcode params}. */
  params?: ArrayBuffer;
  /** Storage bindings 1..n (binding 0 is the uniform when `params` is set, else 0..n-1). */
  buffers: BufferRange[];
  /** Workgroup counts (ignored when `indirect` is set). */
  workgroups: [number, number?, number?];
  /**
   * Read the workgroup counts from this range at launch time (three u32 written by an earlier
   * launch of the same submission): the buffer must come from the pool (`Tensor.empty`), whose
   * buffers allow indirect use.
   */
  indirect?: BufferRange;
  /** Work done, for profiles: floating-point operations. */
  flops?: number;
  /** Work done, for profiles: bytes moved (approximate). */
  bytes?: number;
}

type Op =
  | { kind: "dispatch"; d: Dispatch }
  | { kind: "copy"; src: BufferRange; dst: BufferRange };

/** GPU time of one kernel launch, from timestamp queries. */
export interface KernelTiming {
  /** Kernel name. */
  name: string;
  /** GPU time in milliseconds. */
  ms: number;
  /** Floating-point operations of the launch, when known. */
  flops?: number;
  /** Bytes moved by the launch, when known. */
  bytes?: number;
}

/**
 * Pack 4-byte uniform parameters: numbers for `u32` fields unless given as `{ f: x }` (f32) or
 * `{ i: x }` (i32).
 *
 * @example
 * ```ts
 * const p = params(64, 128, { f: 0.125 }); // struct { m: u32, n: u32, scale: f32 }
 * ```
 */
export function params(...values: (number | { f: number } | { i: number })[]): ArrayBuffer {
  const buf = new ArrayBuffer(Math.max(16, Math.ceil(values.length / 4) * 16));
  const view = new DataView(buf);
  values.forEach((v, i) => {
    if (typeof v === "number") {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
        throw new InvalidArgumentError(`Kernel parameter ${i} is not a u32: "${v}"`);
      }
      view.setUint32(i * 4, v, true);
    } else if ("f" in v) view.setFloat32(i * 4, v.f, true);
    else view.setInt32(i * 4, v.i, true);
  });
  return buf;
}

const UNIFORM_ALIGN = 256;

/**
 * A WebGPU device with a pipeline cache, a buffer pool and a queue of recorded launches.
 * Launches are deferred: they are encoded and submitted together by {@linkcode Gpu.flush} or by
 * a readback, so a whole forward pass is one submission.
 *
 * @example
 * ```ts
 * using gpu = await Gpu.create();
 * console.log(gpu.caps.description);
 * ```
 */
export class Gpu {
  /** The WebGPU device. */
  readonly device: GPUDevice;
  /** What the device can do. */
  readonly caps: GpuCapabilities;
  /** Reusable storage buffers. */
  readonly pool: BufferPool;
  /**
   * Force a matmul kernel variant for every launch on this context ("auto" picks per adapter and
   * shape; see `matmul()`): for tests and benchmarks of a variant.
   */
  matmulVariant: "simple" | "ksplit" | "tiled" | "tiled_pf" | "auto" = "auto";
  /**
   * Force an attention kernel variant for every launch on this context ("auto" picks per adapter
   * and shape; see `attention()`): for tests and benchmarks of a variant.
   */
  attentionVariant: "row" | "flash" | "auto" = "auto";
  /**
   * The rules "auto" variants follow on this device: {@linkcode defaultTuning} for the adapter,
   * or a table measured by `autotune()` (loaded from the cache by {@linkcode Gpu.create}).
   */
  tuning: Tuning;
  #pipelines = new Map<string, GPUComputePipeline>();
  #ops: Op[] = [];
  #retired: GPUBuffer[] = [];
  #lost = false;
  #profile: KernelTiming[] | null = null;
  #owned: boolean;

  /** Wrap an existing device (embedding laminar's kernels in another app). */
  constructor(device: GPUDevice, caps?: GpuCapabilities, owned = false) {
    this.device = device;
    this.caps = caps ?? capsFromDevice(device);
    this.pool = new BufferPool(device, 1 << 30, (b) => this.retire(b));
    this.tuning = defaultTuning(this.caps);
    this.#owned = owned;
    device.lost?.then(() => this.#lost = true);
  }

  /**
   * Acquire an adapter and device with the adapter's full limits; kernel variants follow this
   * adapter's measured table when `autotune()` cached one (see `options.tuning`). Looking for it
   * reads LAMINAR_TUNING, LAMINAR_CACHE, XDG_CACHE_HOME, HOME and one file, only where those
   * permissions are already granted (it never prompts).
   */
  static async create(options: GpuDeviceOptions = {}): Promise<Gpu> {
    const { device, caps } = await requestGpuDevice(options);
    const gpu = new Gpu(device, caps, true);
    if (options.tuning !== "rules") {
      const measured = await loadTuning(caps);
      if (measured) gpu.tuning = measured;
    }
    return gpu;
  }

  /** Compile (or fetch from the cache) the pipeline of a kernel. */
  pipeline(kernel: Kernel): GPUComputePipeline {
    const key = `${kernel.name}:${kernel.entryPoint ?? "main"}:${
      JSON.stringify(kernel.constants ?? {})
    }`;
    let p = this.#pipelines.get(key);
    if (!p) {
      const module = this.device.createShaderModule({ label: kernel.name, code: kernel.code });
      p = this.device.createComputePipeline({
        label: kernel.name,
        layout: "auto",
        compute: { module, entryPoint: kernel.entryPoint ?? "main", constants: kernel.constants },
      });
      this.#pipelines.set(key, p);
    }
    return p;
  }

  /** Record a kernel launch; it runs at the next flush or readback. */
  dispatch(d: Dispatch): void {
    const max = this.caps.maxWorkgroupsPerDimension;
    for (const w of d.workgroups) {
      if (w !== undefined && (w < 0 || w > max || !Number.isInteger(w))) {
        throw new LaminarError(
          `Kernel "${d.kernel.name}" needs "${w}" workgroups in one dimension (limit ${max})`,
          "This input is too large for one launch; split it into smaller batches",
        );
      }
    }
    const align = this.caps.storageOffsetAlignment;
    for (const b of d.buffers) {
      if (b.size > this.caps.maxStorageBindingBytes) {
        throw new LaminarError(
          `Kernel "${d.kernel.name}" binds "${b.size}" bytes, over the device's storage binding ` +
            `limit of ${this.caps.maxStorageBindingBytes}`,
          "Use a smaller batch or sequence length",
        );
      }
      // Checked here, not at submission: an invalid launch would otherwise fail the whole next
      // flush (someone else's work included) with an unhelpful validation message.
      if (b.offset % align !== 0 || b.offset + b.size > b.buffer.size) {
        throw new InvalidArgumentError(
          `Kernel "${d.kernel.name}" binds bytes "${b.offset}..${b.offset + b.size}" of a ` +
            `${b.buffer.size}-byte buffer; offsets must be multiples of ${align}`,
          "Bind tensor views that start at an aligned row (see alignedRowStep)",
        );
      }
    }
    if (
      d.indirect && (d.indirect.offset % 4 !== 0 || d.indirect.offset + 12 > d.indirect.buffer.size)
    ) {
      throw new InvalidArgumentError(
        `Kernel "${d.kernel.name}" reads its workgroup counts at byte "${d.indirect.offset}" of a ` +
          `${d.indirect.buffer.size}-byte buffer`,
        "Pass a 4-byte-aligned range holding three u32",
      );
    }
    this.#ops.push({ kind: "dispatch", d });
  }

  /** Record a buffer-to-buffer copy (offsets and size multiples of 4 bytes). */
  copy(src: BufferRange, dst: BufferRange): void {
    for (const r of [src, dst]) {
      if (
        r.offset % 4 !== 0 || src.size % 4 !== 0 || r.offset + src.size > r.buffer.size
      ) {
        throw new InvalidArgumentError(
          `Cannot copy ${src.size} bytes at byte "${r.offset}" of a ${r.buffer.size}-byte buffer`,
          "Copies need 4-byte aligned offsets and sizes inside both buffers",
        );
      }
    }
    this.#ops.push({ kind: "copy", src, dst });
  }

  /**
   * Destroy a buffer once the launches recorded so far are submitted (a buffer destroyed before
   * the submission that uses it would invalidate it).
   */
  retire(buffer: GPUBuffer): void {
    if (this.#ops.length === 0) buffer.destroy();
    else this.#retired.push(buffer);
  }

  /** Number of launches recorded and not yet submitted. */
  get pending(): number {
    return this.#ops.length;
  }

  /**
   * Record kernel timings of every launch from now until {@linkcode Gpu.stopProfile}: each launch
   * gets its own compute pass with timestamp queries (slower; for profiling only).
   */
  startProfile(): void {
    if (!this.caps.timestamps) {
      throw new LaminarError(
        "This GPU adapter does not offer timestamp queries",
        "Profiling needs the timestamp-query feature; try another adapter or driver",
      );
    }
    this.#profile = [];
  }

  /** Stop profiling and return the timings recorded since {@linkcode Gpu.startProfile}. */
  async stopProfile(): Promise<KernelTiming[]> {
    await this.flush();
    const out = this.#profile ?? [];
    this.#profile = null;
    return out;
  }

  /** Submit every recorded launch as one command buffer. */
  async flush(): Promise<void> {
    await this.#submit([]);
  }

  /**
   * Submit every recorded launch, then read back the given ranges with one map.
   * Returns one ArrayBuffer per range.
   */
  async read(ranges: BufferRange[]): Promise<ArrayBuffer[]> {
    return await this.#submit(ranges);
  }

  /**
   * Measure the GPU time of everything recorded so far (launches and copies): timestamps written
   * by empty passes before and after them. Returns milliseconds; without timestamp queries, the
   * wall time from submission to completion.
   */
  async timeRecorded(): Promise<number> {
    if (!this.caps.timestamps) {
      const t0 = performance.now();
      await this.flush();
      await this.device.queue.onSubmittedWorkDone();
      return performance.now() - t0;
    }
    const timings = await this.#submit([], "pass");
    return timings.passMs;
  }

  async #submit(
    reads: BufferRange[],
    timing: "none" | "pass" = "none",
  ): Promise<ArrayBuffer[] & { passMs: number }> {
    if (this.#lost) {
      throw new LaminarError("The GPU device was lost", "Restart the process; check the driver");
    }
    const ops = this.#ops;
    this.#ops = [];
    const retired = this.#retired;
    this.#retired = [];
    const device = this.device;
    const dispatches = ops.filter((o) => o.kind === "dispatch").map((o) => o.d);
    const uniform = this.#uniforms(dispatches);

    // Timestamps: per launch when profiling, around the single pass when timing.
    const perLaunch = this.#profile !== null && dispatches.length > 0;
    const queryCount = perLaunch ? 2 * dispatches.length : timing === "pass" ? 2 : 0;
    const querySet = queryCount > 0
      ? device.createQuerySet({ type: "timestamp", count: queryCount })
      : null;

    device.pushErrorScope("validation");
    device.pushErrorScope("out-of-memory");
    const enc = device.createCommandEncoder();
    const timeAll = querySet !== null && !perLaunch;
    if (timeAll) {
      enc.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 0 } }).end();
    }
    let pass: GPUComputePassEncoder | null = null;
    let di = 0;
    for (const op of ops) {
      if (op.kind === "copy") {
        pass?.end();
        pass = null;
        enc.copyBufferToBuffer(
          op.src.buffer,
          op.src.offset,
          op.dst.buffer,
          op.dst.offset,
          op.src.size,
        );
        continue;
      }
      const d = op.d;
      const pipeline = this.pipeline(d.kernel);
      const entries: GPUBindGroupEntry[] = [];
      let binding = 0;
      if (d.params) {
        entries.push({
          binding: binding++,
          resource: {
            buffer: uniform.buffer!,
            offset: uniform.offsets[di],
            size: d.params.byteLength,
          },
        });
      }
      for (const b of d.buffers) {
        entries.push({
          binding: binding++,
          resource: { buffer: b.buffer, offset: b.offset, size: b.size },
        });
      }
      const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
      if (perLaunch) {
        pass = enc.beginComputePass({
          timestampWrites: {
            querySet: querySet!,
            beginningOfPassWriteIndex: 2 * di,
            endOfPassWriteIndex: 2 * di + 1,
          },
        });
      } else if (!pass) {
        pass = enc.beginComputePass();
      }
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      if (d.indirect) pass.dispatchWorkgroupsIndirect(d.indirect.buffer, d.indirect.offset);
      else pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1] ?? 1, d.workgroups[2] ?? 1);
      if (perLaunch) {
        pass.end();
        pass = null;
      }
      di++;
    }
    pass?.end();
    if (timeAll) {
      enc.beginComputePass({ timestampWrites: { querySet: querySet!, endOfPassWriteIndex: 1 } })
        .end();
    }

    // Readback: everything into one staging buffer, one map.
    const readOffsets: number[] = [];
    let stagingBytes = 0;
    for (const r of reads) {
      readOffsets.push(stagingBytes);
      stagingBytes += Math.ceil(r.size / 4) * 4;
    }
    let queryResolve: GPUBuffer | null = null;
    let queryOffset = -1;
    if (querySet) {
      queryResolve = device.createBuffer({
        size: 8 * queryCount,
        usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      });
      enc.resolveQuerySet(querySet, 0, queryCount, queryResolve, 0);
      stagingBytes = alignUp(stagingBytes, 8);
      queryOffset = stagingBytes;
      stagingBytes += 8 * queryCount;
    }
    const results = [] as unknown as ArrayBuffer[] & { passMs: number };
    results.passMs = NaN;
    let staging: GPUBuffer | null = null;
    if (stagingBytes > 0) {
      staging = device.createBuffer({
        size: stagingBytes,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      reads.forEach((r, i) => {
        const size = Math.ceil(r.size / 4) * 4;
        if (size > 0) enc.copyBufferToBuffer(r.buffer, r.offset, staging!, readOffsets[i], size);
      });
      if (queryResolve) {
        enc.copyBufferToBuffer(queryResolve, 0, staging, queryOffset, 8 * queryCount);
      }
    }
    device.queue.submit([enc.finish()]);
    for (const b of retired) b.destroy();
    const oom = await device.popErrorScope();
    const invalid = await device.popErrorScope();
    if (oom || invalid) {
      staging?.destroy();
      queryResolve?.destroy();
      querySet?.destroy();
      uniform.buffer?.destroy();
      throw new LaminarError(
        oom
          ? `The GPU ran out of memory: ${oom.message}`
          : `A GPU command was invalid: ${invalid!.message}`,
        oom
          ? "Use a smaller batch, a shorter text or a smaller model"
          : "This is a laminar bug; please report it",
      );
    }
    try {
      if (staging) {
        try {
          await staging.mapAsync(GPUMapMode.READ);
        } catch (cause) {
          throw new LaminarError("Reading results back from the GPU failed", "", { cause });
        }
        const mapped = staging.getMappedRange();
        for (let i = 0; i < reads.length; i++) {
          results.push(mapped.slice(readOffsets[i], readOffsets[i] + reads[i].size));
        }
        if (querySet) {
          const ts = new BigUint64Array(mapped.slice(queryOffset, queryOffset + 8 * queryCount));
          if (perLaunch) {
            dispatches.forEach((d, i) => {
              const ns = Number(ts[2 * i + 1] - ts[2 * i]);
              this.#profile!.push({
                name: d.kernel.name,
                ms: Math.max(0, ns) / 1e6,
                flops: d.flops,
                bytes: d.bytes,
              });
            });
          } else results.passMs = Math.max(0, Number(ts[1] - ts[0])) / 1e6;
        }
        staging.unmap();
      }
    } finally {
      staging?.destroy();
      queryResolve?.destroy();
      querySet?.destroy();
      uniform.buffer?.destroy();
    }
    return results;
  }

  /** Pack every launch's parameters into one uniform buffer; offsets per dispatch. */
  #uniforms(dispatches: Dispatch[]): { buffer: GPUBuffer | null; offsets: number[] } {
    let bytes = 0;
    for (const d of dispatches) if (d.params) bytes += alignUp(d.params.byteLength);
    const offsets: number[] = [];
    if (bytes === 0) return { buffer: null, offsets };
    const buffer = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.UNIFORM,
      mappedAtCreation: true,
    });
    const dst = new Uint8Array(buffer.getMappedRange());
    let off = 0;
    for (const d of dispatches) {
      offsets.push(off);
      if (d.params) {
        dst.set(new Uint8Array(d.params), off);
        off += alignUp(d.params.byteLength);
      }
    }
    buffer.unmap();
    return { buffer, offsets };
  }

  /** Free pooled buffers and, when this context created the device, destroy it. */
  dispose(): void {
    this.#ops = [];
    for (const b of this.#retired) b.destroy();
    this.#retired = [];
    this.pool.clear();
    this.#pipelines.clear();
    if (this.#owned) this.device.destroy();
  }

  /** `using gpu = await Gpu.create()` disposes at the end of the scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

function alignUp(n: number, a = UNIFORM_ALIGN): number {
  return Math.ceil(n / a) * a;
}

function capsFromDevice(device: GPUDevice): GpuCapabilities {
  const l = device.limits;
  return {
    description: "external device",
    vendor: "",
    isFallbackAdapter: false,
    maxStorageBindingBytes: l.maxStorageBufferBindingSize,
    maxBufferBytes: l.maxBufferSize,
    maxWorkgroupStorageBytes: l.maxComputeWorkgroupStorageSize,
    maxInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    maxStorageBuffersPerStage: l.maxStorageBuffersPerShaderStage,
    maxWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    storageOffsetAlignment: l.minStorageBufferOffsetAlignment,
    subgroups: device.features.has("subgroups"),
    subgroupMinSize: 0,
    subgroupMaxSize: 0,
    timestamps: device.features.has("timestamp-query"),
    shaderF16: device.features.has("shader-f16"),
  };
}
