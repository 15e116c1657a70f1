// How a reason reads in an error message: a string as itself, an Error as
// its message, anything else as JSON, or as util.inspect() shows it when it
// has no JSON (a BigInt, a cycle) — at most 200 characters. Never throws:
// any cloneable value is a valid reason, and describing it must not turn a
// valid call into an error (a getter, toJSON or toString may throw, and an
// object without a prototype has no toString at all).
import { inspect } from 'util';

export function describe(v: unknown): string {
  let s: string;
  try {
    s = text(v);
  } catch {
    try {
      s = inspect(v, { depth: 2, breakLength: Infinity, customInspect: false, getters: false });
    } catch {
      s = `[${typeof v}]`;
    }
  }
  return s.length > 200 ? `${s.slice(0, 199)}…` : s;
}

function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof Error) return String(v.message);
  const json = JSON.stringify(v);
  return json ?? String(v);
}
