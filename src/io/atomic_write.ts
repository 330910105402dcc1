/**
 * Atomic file writes: write a temporary file next to the target, then rename it over the target,
 * so a reader never sees a half-written file and a crash never leaves a truncated one.
 * @module
 */

import { FileNotFoundError, LaminarError } from "../errors.ts";

/** Random hex suffix for temporary file names. */
function randomSuffix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const WRITE_HINT = "Choose an output file path in a folder you can write to";

/** Why a write failed, in words (the file system's own message for the unexpected). */
function whyNotWritable(error: unknown): string {
  if (error instanceof Deno.errors.IsADirectory) return "it is a folder";
  if (error instanceof Deno.errors.NotADirectory) return "part of its path is a file, not a folder";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.NotCapable) {
    return "this process was not granted write access there (Deno --allow-write)";
  }
  return (error as Error)?.message ?? String(error);
}

/**
 * Write `data` to `path` atomically: the bytes go to `path + ".tmp-<random>"` in the same
 * folder, which is then renamed to `path` (a rename within one file system is atomic). The
 * temporary file is removed when anything fails.
 *
 * @param path File to create or replace. Its folder must exist.
 * @param data Bytes, or a string written as UTF-8.
 * @throws {FileNotFoundError} When the folder of `path` does not exist.
 * @throws {LaminarError} When `path` cannot be written (a folder, under a file, no permission).
 *
 * @example Write a JSON report
 * ```ts ignore
 * await writeFileAtomic("out/report.json", JSON.stringify({ ok: true }));
 * ```
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${randomSuffix()}`;
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  try {
    await Deno.writeFile(tmp, bytes);
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    if (error instanceof Deno.errors.NotFound) {
      throw new FileNotFoundError(
        `Cannot write "${path}": its folder does not exist`,
        "Create the folder first or choose another output path",
        { cause: error },
      );
    }
    throw new LaminarError(`Cannot write "${path}": ${whyNotWritable(error)}`, WRITE_HINT, {
      cause: error,
    });
  }
}
