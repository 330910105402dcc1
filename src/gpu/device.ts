/**
 * WebGPU adapter and device acquisition: request the adapter's real limits and the useful
 * features (shader-f16, timestamp-query, subgroups), with a clear error when there is no GPU.
 * @module
 */

import { GpuUnavailableError } from "../errors.ts";

/** Options for {@linkcode requestGpuDevice}. */
export interface GpuDeviceOptions {
  /** Ask for a high-performance adapter (default) or a low-power one. */
  powerPreference?: GPUPowerPreference;
  /** Request the `subgroups` feature when available (default true). */
  subgroups?: boolean;
  /** Request `timestamp-query` when available (default true). */
  timestamps?: boolean;
  /**
   * Kernel-variant rules of `Gpu.create()`: "cached" (default) uses the table `autotune()`
   * measured on this adapter when one is cached (src/gpu/tuning.ts), else the rules; "rules"
   * always uses the rules.
   */
  tuning?: "cached" | "rules";
}

/** What the acquired device can do, in the terms the kernels care about. */
export interface GpuCapabilities {
  /** Adapter description, e.g. "NVIDIA H100 80GB HBM3" or "llvmpipe (LLVM 15, 256 bits)". */
  description: string;
  /** Adapter vendor string. */
  vendor: string;
  /** True for software adapters such as lavapipe. */
  isFallbackAdapter: boolean;
  /** Largest storage-buffer binding in bytes. */
  maxStorageBindingBytes: number;
  /** Largest buffer in bytes. */
  maxBufferBytes: number;
  /** Workgroup shared memory in bytes. */
  maxWorkgroupStorageBytes: number;
  /** Invocations per workgroup. */
  maxInvocationsPerWorkgroup: number;
  /** Storage buffers a shader stage may bind. */
  maxStorageBuffersPerStage: number;
  /** Largest dispatch per dimension. */
  maxWorkgroupsPerDimension: number;
  /** Storage binding offsets must be multiples of this. */
  storageOffsetAlignment: number;
  /** Subgroup operations usable in shaders. */
  subgroups: boolean;
  /** Subgroup size range reported by the adapter (0 when unknown). */
  subgroupMinSize: number;
  /** Subgroup size range reported by the adapter (0 when unknown). */
  subgroupMaxSize: number;
  /** Timestamp queries usable for GPU timing. */
  timestamps: boolean;
  /** f16 arithmetic and storage usable in shaders. */
  shaderF16: boolean;
}

const NO_ADAPTER_HINT =
  "Install a GPU driver with Vulkan support; on a machine without a GPU run " +
  "`apt-get install -y mesa-vulkan-drivers` (software Vulkan, lavapipe) and set " +
  "DENO_WEBGPU_BACKEND=vulkan";

/**
 * Acquire a WebGPU device with the adapter's full limits.
 *
 * @example
 * ```ts
 * const { device, caps } = await requestGpuDevice();
 * console.log(caps.description, caps.maxStorageBindingBytes);
 * device.destroy();
 * ```
 */
export async function requestGpuDevice(
  options: GpuDeviceOptions = {},
): Promise<{ device: GPUDevice; caps: GpuCapabilities }> {
  if (typeof navigator === "undefined" || !("gpu" in navigator) || !navigator.gpu) {
    throw new GpuUnavailableError(
      "WebGPU is not available in this runtime",
      'Run with Deno and the "webgpu" unstable flag (deno.json sets it; use the deno tasks)',
    );
  }
  ensureRuntimeDir();
  preferVulkan();
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await navigator.gpu.requestAdapter({
      powerPreference: options.powerPreference ?? "high-performance",
    });
  } catch (cause) {
    throw new GpuUnavailableError("Requesting a WebGPU adapter failed", NO_ADAPTER_HINT, {
      cause,
    });
  }
  if (!adapter) throw new GpuUnavailableError("No WebGPU adapter was found", NO_ADAPTER_HINT);

  const L = adapter.limits;
  const requiredLimits: Record<string, number> = {
    maxStorageBufferBindingSize: L.maxStorageBufferBindingSize,
    maxBufferSize: L.maxBufferSize,
    maxComputeWorkgroupStorageSize: L.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: L.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: L.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupSizeY: L.maxComputeWorkgroupSizeY,
    maxComputeWorkgroupsPerDimension: L.maxComputeWorkgroupsPerDimension,
    maxStorageBuffersPerShaderStage: L.maxStorageBuffersPerShaderStage,
  };
  const features: GPUFeatureName[] = [];
  const has = (f: string) => adapter!.features.has(f as GPUFeatureName);
  if (has("shader-f16")) features.push("shader-f16");
  if ((options.timestamps ?? true) && has("timestamp-query")) features.push("timestamp-query");

  // Deno 2.9.6 hides "subgroups" from adapter.features although requesting it works
  // (PERFORMANCE.md): try with it first, then without.
  const wantSubgroups = options.subgroups ?? true;
  let device: GPUDevice | null = null;
  let subgroups = false;
  if (wantSubgroups) {
    try {
      device = await adapter.requestDevice({
        requiredFeatures: [...features, "subgroups" as GPUFeatureName],
        requiredLimits,
      });
      subgroups = device.features.has("subgroups") && await subgroupShadersWork(device);
    } catch {
      device = null;
    }
  }
  if (!device) {
    try {
      device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits });
    } catch (cause) {
      throw new GpuUnavailableError("Requesting a WebGPU device failed", NO_ADAPTER_HINT, {
        cause,
      });
    }
  }
  const info = adapter.info as GPUAdapterInfo & {
    subgroupMinSize?: number;
    subgroupMaxSize?: number;
    isFallbackAdapter?: boolean;
  };
  const caps: GpuCapabilities = {
    description: info.description || info.vendor || "unknown adapter",
    vendor: info.vendor ?? "",
    isFallbackAdapter: info.isFallbackAdapter ?? false,
    maxStorageBindingBytes: device.limits.maxStorageBufferBindingSize,
    maxBufferBytes: device.limits.maxBufferSize,
    maxWorkgroupStorageBytes: device.limits.maxComputeWorkgroupStorageSize,
    maxInvocationsPerWorkgroup: device.limits.maxComputeInvocationsPerWorkgroup,
    maxStorageBuffersPerStage: device.limits.maxStorageBuffersPerShaderStage,
    maxWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
    storageOffsetAlignment: device.limits.minStorageBufferOffsetAlignment,
    subgroups,
    subgroupMinSize: info.subgroupMinSize ?? 0,
    subgroupMaxSize: info.subgroupMaxSize ?? 0,
    timestamps: device.features.has("timestamp-query"),
    shaderF16: device.features.has("shader-f16"),
  };
  return { device, caps };
}

/**
 * Mesa's Vulkan drivers complain ("XDG_RUNTIME_DIR is invalid or not set") unless the variable
 * names a private (0700) folder; point it at one when it does not.
 */
function ensureRuntimeDir(): void {
  try {
    const cur = Deno.env.get("XDG_RUNTIME_DIR");
    if (cur) {
      const st = Deno.statSync(cur);
      if (st.isDirectory && st.mode !== null && (st.mode & 0o777) === 0o700) return;
    }
    const dir = `${Deno.env.get("TMPDIR") ?? "/tmp"}/laminar-runtime-${Deno.uid() ?? "user"}`;
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    Deno.chmodSync(dir, 0o700);
    Deno.env.set("XDG_RUNTIME_DIR", dir);
  } catch {
    // no permission to read or set the environment: harmless, Mesa only prints a warning
  }
}

/**
 * On Linux, prefer Vulkan (NVIDIA's driver, or Mesa's lavapipe without a GPU) over the slower,
 * more limited OpenGL path, unless DENO_WEBGPU_BACKEND says otherwise.
 */
function preferVulkan(): void {
  try {
    if (Deno.build.os !== "linux" || Deno.env.get("DENO_WEBGPU_BACKEND")) return;
    const dirs = [
      "/usr/share/vulkan/icd.d",
      "/etc/vulkan/icd.d",
      "/usr/local/nvidia/share/vulkan/icd.d",
    ];
    const icd = Deno.env.get("VK_DRIVER_FILES") || Deno.env.get("VK_ICD_FILENAMES") ||
      dirs.some((d) => {
        try {
          return [...Deno.readDirSync(d)].some((e) => e.name.endsWith(".json"));
        } catch {
          return false;
        }
      });
    if (icd) Deno.env.set("DENO_WEBGPU_BACKEND", "vulkan");
  } catch {
    // no permission to read the environment or the folders: keep Deno's default
  }
}

/**
 * Compile a probe shader with the subgroup operations and builtins the kernels use (reductions:
 * subgroupAdd/Max and the subgroup builtins; matmul_subgroup.wgsl: subgroupBroadcast of a vec4
 * from a constant lane): a driver that offers the feature but rejects them falls back to the
 * kernels without subgroups.
 */
async function subgroupShadersWork(device: GPUDevice): Promise<boolean> {
  const code = `
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) i: u32, @builtin(subgroup_id) sg: u32,
        @builtin(num_subgroups) n: u32, @builtin(subgroup_size) size: u32,
        @builtin(subgroup_invocation_id) lane: u32) {
  let v = subgroupAdd(f32(i)) + subgroupMax(f32(lane));
  let w = subgroupBroadcast(vec4<f32>(v, f32(i), 0.0, 1.0), 1u);  // matmul_subgroup.wgsl
  if (lane == 0u) { out[sg] = w.x + w.y + f32(n + size); }
}`;
  // A driver that rejects the shader reports an internal error (a pipeline the backend compiler
  // failed on), not a validation error: catch both. The scopes are popped on every path.
  device.pushErrorScope("internal");
  device.pushErrorScope("validation");
  let ok = true;
  try {
    const module = device.createShaderModule({ code });
    device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
  } catch {
    ok = false;
  }
  try {
    if (await device.popErrorScope()) ok = false;
    if (await device.popErrorScope()) ok = false;
  } catch {
    ok = false;
  }
  return ok;
}
