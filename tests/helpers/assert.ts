// Small assertion helpers over node:assert (deno std is not reachable here).
import nodeAssert from "node:assert";

/** Assert a condition. */
export function assert(cond: unknown, msg?: string): asserts cond {
  nodeAssert.ok(cond, msg);
}

/** Deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, msg);
}

/** |actual - expected| <= tol. */
export function assertClose(actual: number, expected: number, tol: number, msg = ""): void {
  nodeAssert.ok(
    Math.abs(actual - expected) <= tol || (Number.isNaN(actual) && Number.isNaN(expected)),
    `${msg} ${actual} vs ${expected} (tol ${tol})`,
  );
}

/** The promise rejects with an instance of `cls` (message containing `includes`). */
export async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  cls: new (...args: never[]) => E,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (e) {
    nodeAssert.ok(e instanceof cls, `expected ${cls.name}, got ${(e as Error)?.name}: ${e}`);
    if (includes) nodeAssert.ok((e as Error).message.includes(includes), (e as Error).message);
    return e as E;
  }
  throw new Error(`expected ${cls.name} to be thrown`);
}

/** The function throws an instance of `cls`. */
export function assertThrows<E extends Error>(
  fn: () => unknown,
  cls: new (...args: never[]) => E,
  includes?: string,
): E {
  try {
    fn();
  } catch (e) {
    nodeAssert.ok(e instanceof cls, `expected ${cls.name}, got ${(e as Error)?.name}: ${e}`);
    if (includes) nodeAssert.ok((e as Error).message.includes(includes), (e as Error).message);
    return e as E;
  }
  throw new Error(`expected ${cls.name} to be thrown`);
}
