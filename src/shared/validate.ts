// Argument validation shared by every public function. All checks happen
// before anything is sent to another thread, so bad input never leaves a
// half-applied state. Each function is a parenthesized function expression,
// which V8 compiles with the module instead of at its first call: kill() with
// options validates them before its stop goes out, and in a process that
// never validated anything that cost ≈0.2 ms (measured), mostly compiling.
import { InvalidArgTypeError, OutOfRangeError, UnknownOptionError } from './errors';

export const MAX_TIMEOUT_MS = 2 ** 31 - 1; // what setTimeout can represent

const typeName = (function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number' && Number.isNaN(v)) return 'NaN';
  if (typeof v === 'object' || typeof v === 'function') return `${typeof v} ${(v as object).constructor?.name ?? ''}`.trim();
  return `${typeof v} ${String(v)}`;
});

/** An options bag: undefined -> {}, otherwise a plain object with known keys only. */
export const optionsBag = (function optionsBag<K extends string>(value: unknown, name: string, keys: readonly K[]): Partial<Record<K, unknown>> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidArgTypeError(`${name} must be an object, got ${typeName(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!(keys as readonly string[]).includes(key)) {
      throw new UnknownOptionError(`${name}.${key} is not a known option (known: ${keys.join(', ')})`);
    }
  }
  return value as Partial<Record<K, unknown>>;
});

/** A duration in ms: finite, >= min, <= MAX_TIMEOUT_MS. */
export const durationMs = (function durationMs(value: unknown, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw new InvalidArgTypeError(`${name} must be a number of milliseconds, got ${typeName(value)}`);
  if (!Number.isFinite(value) || value < min || value > MAX_TIMEOUT_MS) {
    throw new OutOfRangeError(`${name} must be a finite number of milliseconds between ${min} and ${MAX_TIMEOUT_MS}, got ${value}`);
  }
  return value;
});

/** A positive finite number (a size, a limit), or `fallback` when undefined. */
export const positiveNumber = (function positiveNumber(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw new InvalidArgTypeError(`${name} must be a number, got ${typeName(value)}`);
  if (!Number.isFinite(value) || value <= 0) throw new OutOfRangeError(`${name} must be a finite number greater than 0, got ${value}`);
  return value;
});

export const boolean = (function boolean(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new InvalidArgTypeError(`${name} must be a boolean, got ${typeName(value)}`);
  return value;
});

export const oneOf = (function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new InvalidArgTypeError(`${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${typeName(value)}`);
  }
  return value as T;
});

export const func = (function func<T extends Function>(value: unknown, name: string): T {
  if (typeof value !== 'function') throw new InvalidArgTypeError(`${name} must be a function, got ${typeName(value)}`);
  return value as T;
});

/** An exit code: an integer from 0 to 255. */
export const exitCodeValue = (function exitCodeValue(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw new InvalidArgTypeError(`${name} must be an integer from 0 to 255, got ${typeName(value)}`);
  if (!Number.isInteger(value) || value < 0 || value > 255) {
    throw new OutOfRangeError(`${name} must be an integer from 0 to 255, got ${value}`);
  }
  return value;
});

/** A Node threadId: a non-negative safe integer. */
export const threadIdValue = (function threadIdValue(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new OutOfRangeError(`${name} must be a non-negative integer threadId, got ${typeName(value)}`);
  }
  return value;
});
