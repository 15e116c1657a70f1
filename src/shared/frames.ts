// Formatting of stacks captured natively ([function, script, line, column]).
import type { RawFrame } from './native';

export function formatFrame([fn, script, line, column]: RawFrame): string {
  const where = `${script || '<anonymous>'}:${line}:${column}`;
  return fn ? `    at ${fn} (${where})` : `    at ${where}`;
}

export function formatFrames(frames: RawFrame[]): string {
  return frames.map(formatFrame).join('\n');
}
