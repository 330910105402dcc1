/**
 * Typed errors for everything a user can cause. Each carries a `hint` that says what to do,
 * and the CLI prints `message` and `hint` without a stack trace.
 * @module
 */

/** Base class of every error laminar raises on purpose. */
export class LaminarError extends Error {
  /** What the user can do about it. */
  readonly hint: string;
  /** Create an error with a message and a hint that says what to do. */
  constructor(message: string, hint = "", options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.hint = hint;
  }
}

/** No WebGPU adapter or device could be acquired. */
export class GpuUnavailableError extends LaminarError {}

/** A file or folder is missing or cannot be read. */
export class FileNotFoundError extends LaminarError {}

/** A file exists but its content is malformed (safetensors, config, text). */
export class FormatError extends LaminarError {}

/** A model id or folder does not name a usable GPT-2 checkpoint. */
export class ModelNotFoundError extends LaminarError {}

/** A download failed (network, HTTP status, offline mode). */
export class DownloadError extends LaminarError {}

/** An argument or option is out of range or malformed. */
export class InvalidArgumentError extends LaminarError {}

/** Tensor shapes do not agree. */
export class ShapeError extends LaminarError {}

/** A text is longer than the model's context window. */
export class ContextLengthError extends LaminarError {}
