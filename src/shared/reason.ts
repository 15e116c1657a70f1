// The reason codec: what stop(), interrupt() and kill() carry to another
// thread. One documented limit for every call, so a reason is refused at
// validation, before anything is sent or set: a kill whose reason fits
// nowhere must not half-happen.
//
// Interrupt latency is what the target pays, so the common reasons skip the
// structured-clone serializer: a number, a boolean, null or a string of up
// to 1,024 characters is one tag byte and its payload; anything else is
// v8.serialize() output, which always starts with 0xFF (its version tag), so
// the first byte tells the two apart. An object also carries its one-line
// description (for the error's message), made on the sender's side, so the
// target deserializes it only when `reason` is first read.
import * as v8 from 'v8';
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
const SHORT_STRING = 1024;

function serialize(reason: unknown, name: string): Uint8Array {
  switch (typeof reason) {
    case 'string':
      if (reason.length <= SHORT_STRING) {
        const out = Buffer.allocUnsafe(1 + 3 * reason.length);
        out[0] = TAG_STRING;
        return out.subarray(0, 1 + out.write(reason, 1, 'utf8'));
      }
      break;
    case 'number': {
      const out = new Uint8Array(9);
      out[0] = TAG_NUMBER;
      new DataView(out.buffer).setFloat64(1, reason, true);
      return out;
    }
    case 'boolean':
      return reason ? TRUE : FALSE;
    case 'object':
      if (reason === null) return NULL;
      break;
    default:
  }
  let body: Uint8Array;
  try {
    body = v8.serialize(reason);
  } catch (err) {
    throw new NotCloneableError(`${name} must be structured-cloneable: ${(err as Error).message}`, { cause: err });
  }
  const text = Buffer.from(describe(reason), 'utf8');
  const out = Buffer.allocUnsafe(3 + text.byteLength + body.byteLength);
  out[0] = TAG_DESCRIBED;
  out.writeUInt16LE(text.byteLength, 1);
  text.copy(out, 3);
  out.set(body, 3 + text.byteLength);
  return out;
}

/** For an error's message: the reason's description without decoding it (undefined: no reason). */
export function describeEncoded(bytes: Uint8Array | null | undefined): string | undefined {
  if (bytes == null || bytes.byteLength === 0) return undefined;
  if (bytes[0] === TAG_DESCRIBED) {
    const n = bytes[1] | (bytes[2] << 8);
    return Buffer.from(bytes.buffer, bytes.byteOffset + 3, n).toString('utf8');
  }
  return describe(deserializeReason(bytes));
}

/** The reason's bytes, checked against `limit`; undefined stays undefined. */
export function serializeReason(reason: unknown, name: string, limit = MAX_REASON_BYTES): Uint8Array | undefined {
  if (reason === undefined) return undefined;
  const bytes = serialize(reason, name);
  if (bytes.byteLength > limit) {
    throw new OutOfRangeError(`${name} is too large to send (${bytes.byteLength} bytes serialized, at most ${limit})`);
  }
  return bytes;
}

/** The reason in this thread, from its bytes (undefined for none). */
export function deserializeReason(bytes: Uint8Array | null | undefined): unknown {
  if (bytes == null || bytes.byteLength === 0) return undefined;
  switch (bytes[0]) {
    case TAG_STRING:
      return Buffer.from(bytes.buffer, bytes.byteOffset + 1, bytes.byteLength - 1).toString('utf8');
    case TAG_NUMBER:
      return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getFloat64(1, true);
    case 3: return true;
    case 4: return false;
    case 5: return null;
    case TAG_DESCRIBED: {
      const n = bytes[1] | (bytes[2] << 8);
      return v8.deserialize(bytes.subarray(3 + n));
    }
    default:
      return v8.deserialize(bytes);
  }
}
