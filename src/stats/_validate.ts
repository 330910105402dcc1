// Copyright the laminar authors. Internal argument checks shared by the stats modules.
import { InvalidArgumentError, ShapeError } from "../errors.ts";

/** Throw unless `value` is a finite number greater than zero. */
export function assertPositiveFinite(name: string, value: number): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new InvalidArgumentError(
      `${name} must be a positive finite number, got "${value}"`,
      `Pass a ${name.toLowerCase()} greater than 0`,
    );
  }
}

/** Throw unless `value` is an integer in `[min, max]`. */
export function assertIntegerInRange(
  name: string,
  value: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    const upper = max === Number.MAX_SAFE_INTEGER ? "" : ` and at most ${max}`;
    throw new InvalidArgumentError(
      `${name} must be an integer of at least ${min}${upper}, got "${value}"`,
      `Pass an integer ${name.toLowerCase()} in range`,
    );
  }
}

/** Throw unless `value` is a finite number (zero and negatives allowed). */
export function assertFinite(name: string, value: number): void {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new InvalidArgumentError(
      `${name} must be a finite number, got "${value}"`,
      `Pass a finite ${name.toLowerCase()}`,
    );
  }
}

/** Throw a {@linkcode ShapeError} unless both sequences have the same length. */
export function assertSameLength(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) {
    throw new ShapeError(
      `Inputs must have the same length, got "${a.length}" and "${b.length}"`,
      "Pass two vectors with one value per observation each",
    );
  }
}

/** Throw unless the sequence has at least `min` elements. */
export function assertMinLength(name: string, a: ArrayLike<number>, min: number): void {
  if (a.length < min) {
    throw new InvalidArgumentError(
      `${name} must have at least ${min} element${min === 1 ? "" : "s"}, got "${a.length}"`,
      `Pass a longer ${name.toLowerCase()}`,
    );
  }
}
