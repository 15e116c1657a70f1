// Formatting of stacks captured natively ([function, script, line, column]).
import type { RawFrame } from './native';

// (Parenthesized so that V8 compiles them with the module: a kill's report
// formats the stack while the killed thread is still being torn down.)
export const formatFrame = (function formatFrame([fn, script, line, column]: RawFrame): string {
  // (Line 0: not known, or not taken — see CaptureStack in native/stack.cc.)
  const where = line > 0 ? `${script || '<anonymous>'}:${line}:${column}` : script || '<anonymous>';
  return fn ? `    at ${fn} (${where})` : `    at ${where}`;
});

export const formatFrames = (function formatFrames(frames: RawFrame[]): string {
  let out = '';
  for (let i = 0; i < frames.length; i++) out += (i === 0 ? '' : '\n') + formatFrame(frames[i]);
  return out;
});
