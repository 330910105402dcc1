/**
 * The viz server's GPU worker (started by `workerGpuHost()` in viz/gpu_host.ts): a local GPU host
 * with the server's default analyses, answering one request at a time. Progress is forwarded at
 * most every 50 ms (and always at the end of a stage). Nothing here may call `Deno.exit()`: a worker
 * that exits sends no error event, and the server's calls would wait for ever.
 * @module
 */

import { ANALYSES } from "./analyses.ts";
import {
  type GpuHost,
  localGpuHost,
  sendableError,
  type WorkerReply,
  type WorkerRequest,
} from "./gpu_host.ts";

const scope = self as unknown as {
  onmessage: ((ev: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: WorkerReply): void;
};

let host: GpuHost | null = null;
const analyses = new Map(ANALYSES.map((a) => [a.name, a]));

async function answer(req: WorkerRequest): Promise<unknown> {
  if (req.type === "init") {
    host = await localGpuHost(req.options, analyses);
    return host.startInfo;
  }
  if (!host) throw new Error("The GPU worker was not initialised");
  if (req.type === "info") return await host.info(req.spec);
  let last = 0;
  return await host.run(req.name, req.spec, req.params, (stage, done, total) => {
    const now = performance.now();
    if (done >= total || now - last > 50) {
      last = now;
      scope.postMessage({ id: req.id, type: "progress", stage, done, total });
    }
  });
}

// One request at a time, in order (the server's queue already serialises them).
let tail: Promise<void> = Promise.resolve();
scope.onmessage = (ev) => {
  const req = ev.data;
  tail = tail.then(async () => {
    try {
      const value = await answer(req);
      scope.postMessage({ id: req.id, type: "done", value, models: host?.models() ?? [] });
    } catch (e) {
      scope.postMessage({
        id: req.id,
        type: "error",
        error: sendableError(e),
        models: host?.models() ?? [],
      });
    }
  });
};
