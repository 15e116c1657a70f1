// How a reason reads in an error message: a string as itself, an Error as
// its message, anything else as JSON (at most 200 characters).
export function describe(v: unknown): string {
  let s: string;
  if (typeof v === 'string') s = v;
  else if (v instanceof Error) s = v.message;
  else {
    try {
      s = JSON.stringify(v) ?? String(v);
    } catch {
      s = String(v);
    }
  }
  return s.length > 200 ? `${s.slice(0, 199)}…` : s;
}
