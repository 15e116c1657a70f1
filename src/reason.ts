// The reason codec: what stop(), interrupt() and kill() carry to another
// thread, as v8.serialize() bytes. One documented limit for every call, so a
// reason is refused at validation, before anything is sent or set: a kill
// whose reason fits nowhere must not half-happen.
import * as v8 from 'v8';
import { NotCloneableError, OutOfRangeError } from './errors';

/** Serialized size limit of every reason (what a stop token's cell can hold). */
export const MAX_REASON_BYTES = 4080;

/** v8.serialize(reason), checked against MAX_REASON_BYTES; undefined stays undefined. */
export function serializeReason(reason: unknown, name: string, limit = MAX_REASON_BYTES): Uint8Array | undefined {
  if (reason === undefined) return undefined;
  let bytes: Uint8Array;
  try {
    bytes = v8.serialize(reason);
  } catch (err) {
    throw new NotCloneableError(`${name} must be structured-cloneable: ${(err as Error).message}`, { cause: err });
  }
  if (bytes.byteLength > limit) {
    throw new OutOfRangeError(`${name} is too large to send (${bytes.byteLength} bytes serialized, at most ${limit})`);
  }
  return bytes;
}

/** The reason in this thread, from its bytes (undefined for none). */
export function deserializeReason(bytes: Uint8Array | null | undefined): unknown {
  return bytes == null ? undefined : v8.deserialize(bytes);
}
