/**
 * GPU runtime: device acquisition, pipeline cache, buffer pool, deferred launches.
 * @module
 */
export * from "./device.ts";
export * from "./context.ts";
export * from "./pool.ts";
export * from "./tuning.ts";
