// The reason codec: what stop(), interrupt() and kill() carry to another
// thread. One documented limit for every call, so a reason is refused at
// validation, before anything is sent or set: a kill whose reason fits
// nowhere must not half-happen.
//
// Interrupt latency is what the target pays, so the common reasons skip the
// structured-clone serializer: a number, a boolean, null or a well-formed
// string of up to 1,024 characters is one tag byte and its payload; a small
// plain object or array of such values (see jsonExact) is its JSON text,
// which is then exactly its structured clone; anything else is
// v8.serialize() output, which always starts with 0xFF (its version tag), so
// the first byte tells them apart. An object also carries its one-line
// description (for the error's message), made on the sender's side — a JSON
// text is its own — so the target decodes it only when `reason` is first
// read. A region gets the common encodings from the binding already as JS
// values (see Encoded).
import * as v8 from 'v8';
import { types } from 'util';
import { describe } from './describe';
import { NotCloneableError, OutOfRangeError } from './errors';

/** Serialized size limit of every reason (what a stop token's cell can hold). */
export const MAX_REASON_BYTES = 4080;

const TAG_STRING = 1;
const TAG_NUMBER = 2;
const TRUE = Uint8Array.of(3);
const FALSE = Uint8Array.of(4);
const NULL = Uint8Array.of(5);
const TAG_DESCRIBED = 6; // [6][description length: u16 LE][description utf8][v8.serialize() bytes]
const TAG_JSON = 7; // [7][JSON text utf8]
const SHORT_STRING = 1024;
// A number's bytes go through this (a DataView per call costs more than the rest).
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);

// The JSON fast path's bounds. Its text is at most JSON_TEXT UTF-16 units:
// v8.serialize() never takes more than 4.5 bytes per unit of a value's JSON
// text (its worst: an element of a double array, "1," in 2 units, 9 bytes),
// plus a few of header and framing, and a description is at most 600 bytes,
// so everything the fast path takes would also fit the v8 encoding's limit
// (3 + 600 + 4.5 × 700 + 10 < 4,080): it accepts exactly what the v8 path
// did (at the default limit; under a smaller one it is not used), and its
// own bytes (at most 1 + 3 × 700) fit too.
const JSON_TEXT = 700;
const JSON_DEPTH = 8;
const ObjectPrototype = Object.prototype;
const ArrayPrototype = Array.prototype;
const { getOwnPropertyDescriptor, getPrototypeOf, keys } = Object;
const { isArgumentsObject, isProxy } = types;
const seen: object[] = []; // jsonExact's objects so far (it runs no user code: no reentrance)
let budget = 0; // what is left of JSON_TEXT, counting each value's shortest JSON text

/**
 * True when JSON.parse(JSON.stringify(v)) gives exactly what
 * v8.deserialize(v8.serialize(v)) would, and JSON.stringify(v) runs no user
 * code: `v` is a number (finite, not -0), a string, a boolean, null, or a
 * plain object or dense array (its own realm's prototype, no proxy, no
 * arguments object, no accessor, no `toJSON`, no `__proto__` key, no object reached twice) of
 * such values, nested at most JSON_DEPTH deep, and its text can be at most
 * JSON_TEXT long. Runs no user code itself (no getter, no proxy trap), so
 * falling back to v8.serialize() afterwards is exact.
 */
function jsonExact(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'string': return (budget -= v.length + 2) >= 0;
    case 'number': return --budget >= 0 && Number.isFinite(v) && !(v === 0 && 1 / v < 0);
    case 'boolean': return (budget -= 4) >= 0;
    case 'object': {
      if (v === null) return (budget -= 4) >= 0;
      if (depth >= JSON_DEPTH || isProxy(v) || seen.includes(v)) return false;
      seen.push(v);
      if (Array.isArray(v)) {
        const n = v.length;
        if ((budget -= n + 1) < 0 || getPrototypeOf(v) !== ArrayPrototype || 'toJSON' in v) return false;
        if (keys(v).length !== n) return false; // holes, or properties besides the elements
        for (let i = 0; i < n; i++) {
          const d = getOwnPropertyDescriptor(v, i);
          if (d === undefined || !('value' in d) || !d.enumerable || !jsonExact(d.value, depth + 1)) return false;
        }
        return true;
      }
      // (An arguments object has the plain prototype, but v8 will not clone it.)
      if (getPrototypeOf(v) !== ObjectPrototype || 'toJSON' in v || isArgumentsObject(v)) return false;
      budget -= 2;
      for (const k of keys(v)) {
        if (k === '__proto__' || (budget -= k.length + 4) < 0) return false;
        const d = getOwnPropertyDescriptor(v, k)!;
        if (!('value' in d) || !jsonExact(d.value, depth + 1)) return false;
      }
      return budget >= 0;
    }
    default:
      return false;
  }
}

/** The JSON text of `v` when it is exactly its structured clone (see jsonExact), else undefined. */
function exactJson(v: object): string | undefined {
  budget = JSON_TEXT;
  let exact: boolean;
  try {
    exact = jsonExact(v, 0);
  } finally {
    seen.length = 0;
  }
  if (!exact) return undefined;
  const text = JSON.stringify(v);
  return text.length <= JSON_TEXT ? text : undefined; // (escapes make it longer than the budget counted)
}

/**
 * A common encoding of `reason` as the JS value the binding takes (see
 * encodeReason): a number or a boolean as itself, null, or a string whose
 * first character is its tag; undefined when none applies (v8 path). `json`:
 * whether a plain object may take the JSON encoding.
 */
function commonEncoding(reason: unknown, json: boolean): string | number | boolean | null | undefined {
  switch (typeof reason) {
    case 'number':
    case 'boolean':
      return reason;
    case 'string':
      // A lone surrogate has no UTF-8: such a string takes the v8 path.
      return reason.length <= SHORT_STRING && (reason as unknown as { isWellFormed(): boolean }).isWellFormed()
        ? `\u0001${reason}` // the tag is the first character's one byte
        : undefined;
    case 'object': {
      if (reason === null) return null;
      const text = json ? exactJson(reason) : undefined;
      return text === undefined ? undefined : `\u0007${text}`;
    }
    default:
      return undefined;
  }
}

/** The common encoding of `reason` as bytes, else undefined. */
function commonBytes(reason: unknown, limit: number): Uint8Array | undefined {
  const common = commonEncoding(reason, limit >= MAX_REASON_BYTES);
  switch (typeof common) {
    case 'string':
      return Buffer.from(common, 'utf8');
    case 'number': {
      const out = new Uint8Array(9);
      out[0] = TAG_NUMBER;
      f64[0] = common;
      out.set(f64Bytes, 1);
      return out;
    }
    case 'boolean':
      return common ? TRUE : FALSE;
    case 'object':
      return NULL;
    default:
      return undefined;
  }
}

function serialize(reason: unknown, name: string, limit: number): Uint8Array {
  const bytes = commonBytes(reason, limit);
  if (bytes === undefined) return serializeV8(reason, name, limit);
  // The limit is v8.serialize()'s size: at the default one every common
  // encoding fits both ways; under a smaller one (a small stop token) either
  // can be the longer (a string's UTF-8, or v8's header and length).
  if (limit >= MAX_REASON_BYTES) return bytes;
  const size = v8.serialize(reason).byteLength;
  withinLimit(size, name, limit);
  return bytes.byteLength <= limit ? bytes : serializeV8(reason, name, limit);
}

/** Throws the limit's typed error for a reason of v8.serialize() size `size`. */
function withinLimit(size: number, name: string, limit: number): void {
  if (size > limit) throw new OutOfRangeError(`${name} is too large to send (${size} bytes serialized, at most ${limit})`);
}

// The shortest description worth carrying: with less room the value itself
// crosses without one, and the receiver describes it after decoding.
const MIN_DESCRIPTION = 32;

/**
 * The general encoding: a description, then v8.serialize() bytes. The limit
 * is on v8.serialize()'s size, as documented: a description that does not
 * fit beside it is shortened, or left out (then the bytes are v8's own,
 * whose first byte, 0xFF, tells them apart).
 */
function serializeV8(reason: unknown, name: string, limit: number): Uint8Array {
  let body: Uint8Array;
  try {
    body = v8.serialize(reason);
  } catch (err) {
    throw new NotCloneableError(`${name} must be structured-cloneable without transfer, as v8.serialize() takes it (no function, symbol, ` +
      `SharedArrayBuffer, MessagePort or other handle): ${(err as Error).message}`, { cause: err });
  }
  withinLimit(body.byteLength, name, limit);
  let text: Buffer = Buffer.from(describe(reason), 'utf8');
  const room = limit - 3 - body.byteLength;
  if (text.byteLength > room) {
    if (room < MIN_DESCRIPTION) return body;
    text = shortened(text, room);
  }
  const out = Buffer.allocUnsafe(3 + text.byteLength + body.byteLength);
  out[0] = TAG_DESCRIBED;
  out.writeUInt16LE(text.byteLength, 1);
  text.copy(out, 3);
  out.set(body, 3 + text.byteLength);
  return out;
}

/** `text` (UTF-8) cut to at most `room` bytes at a character boundary, ending in "…". */
function shortened(text: Buffer, room: number): Buffer {
  let end = room - 3; // "…" is 3 bytes
  while (end > 0 && (text[end] & 0xc0) === 0x80) end--; // not inside a character
  return Buffer.concat([text.subarray(0, end), Buffer.from('…', 'utf8')]);
}

/** The UTF-8 text of bytes[start..] (a region's bytes are a Buffer: one call). */
function utf8(bytes: Uint8Array, start: number, length = bytes.byteLength - start): string {
  return bytes instanceof Buffer
    ? bytes.toString('utf8', start, start + length)
    : Buffer.from(bytes.buffer, bytes.byteOffset + start, length).toString('utf8');
}

/**
 * What a region receives: the bytes, or already decoded by the binding: a
 * number or a boolean as itself; for the text encodings (a string, a JSON
 * text) the bytes as one JS string, tag included.
 */
export type Encoded = Uint8Array | string | number | boolean;

/** For an error's message: the reason's description without decoding it (undefined: no reason). */
export function describeEncoded(bytes: Encoded | null | undefined): string | undefined {
  if (typeof bytes === 'string') return bytes.length === 0 ? undefined : describe(bytes.slice(1));
  if (typeof bytes === 'number' || typeof bytes === 'boolean') return describe(bytes);
  if (bytes == null || bytes.byteLength === 0) return undefined;
  if (bytes[0] === TAG_DESCRIBED) {
    const n = bytes[1] | (bytes[2] << 8);
    return utf8(bytes, 3, n);
  }
  // A JSON text is what describe() makes of its value: describe the text.
  if (bytes[0] === TAG_JSON) return describe(utf8(bytes, 1));
  return describe(deserializeReason(bytes));
}

/** The reason's bytes, checked against `limit`; undefined stays undefined. */
export function serializeReason(reason: unknown, name: string, limit = MAX_REASON_BYTES): Uint8Array | undefined {
  return reason === undefined ? undefined : serialize(reason, name, limit);
}

/**
 * What native.interrupt() takes, on the interrupt's latency path: for the
 * common encodings the value the binding turns into exactly the bytes
 * serializeReason() would make (native/addon.cc, BytesArg) — a number or a
 * boolean as itself, null, and a string or JSON text as one JS string whose
 * first character is its tag — else those bytes. All of them fit the limit.
 */
export function encodeReason(reason: unknown, name: string): Uint8Array | string | number | boolean | null | undefined {
  if (reason === undefined) return undefined;
  const common = commonEncoding(reason, true);
  return common !== undefined ? common : serializeV8(reason, name, MAX_REASON_BYTES);
}

/** The reason in this thread, from its bytes (undefined for none). */
export function deserializeReason(bytes: Encoded | null | undefined): unknown {
  if (typeof bytes === 'string') {
    if (bytes.length === 0) return undefined;
    const text = bytes.slice(1);
    return bytes.charCodeAt(0) === TAG_JSON ? JSON.parse(text) : text;
  }
  if (typeof bytes === 'number' || typeof bytes === 'boolean') return bytes;
  if (bytes == null || bytes.byteLength === 0) return undefined;
  switch (bytes[0]) {
    case TAG_STRING:
      return utf8(bytes, 1);
    case TAG_NUMBER:
      for (let i = 0; i < 8; i++) f64Bytes[i] = bytes[1 + i];
      return f64[0];
    case 3: return true;
    case 4: return false;
    case 5: return null;
    case TAG_DESCRIBED: {
      const n = bytes[1] | (bytes[2] << 8);
      return v8.deserialize(bytes.subarray(3 + n));
    }
    case TAG_JSON:
      return JSON.parse(utf8(bytes, 1));
    default:
      return v8.deserialize(bytes);
  }
}
