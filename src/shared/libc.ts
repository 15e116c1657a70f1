// Which C library this process runs on, for picking a prebuild: a glibc
// binary on musl (or the reverse) fails to load. node-gyp-build only looks
// for /etc/alpine-release, which misses musl systems that are not Alpine
// (Void, Chimera, a musl-based distroless image), and takes a glibc Node
// installed on Alpine (its glibc packages) for a musl one. The C library actually mapped into this process says it for
// every case; the file test stays as the fallback when /proc cannot be read
// (the permission model without --allow-fs-read=/proc).
import * as fs from 'fs';

export type Libc = 'glibc' | 'musl';

export interface LibcInputs {
  /** LIBC, node-gyp-build's override ("musl" | "glibc"). */
  override?: string;
  /** /proc/self/maps, or null if it cannot be read. */
  maps: string | null;
  /** Whether /etc/alpine-release exists. */
  alpineRelease: boolean;
}

/** The decision, from its inputs (a pure function: test/libc.test.ts). */
export function detectLibc(inputs: LibcInputs): Libc {
  if (inputs.override === 'musl' || inputs.override === 'glibc') return inputs.override;
  if (inputs.maps !== null) {
    // musl's one shared object is its loader: ld-musl-<arch>.so.1 (Alpine
    // also names it libc.musl-<arch>.so.1). glibc's is libc.so.6.
    if (/\/(ld-musl-[^/\s]+\.so\.1|libc\.musl-[^/\s]+\.so\.1)$/m.test(inputs.maps)) return 'musl';
    if (/\/libc(\.so\.6|-2\.\d+\.so)$/m.test(inputs.maps)) return 'glibc';
  }
  return inputs.alpineRelease ? 'musl' : 'glibc';
}

let cached: Libc | undefined;

/** This process's C library (LIBC set overrides; computed once). */
export function currentLibc(env: NodeJS.ProcessEnv = process.env): Libc {
  if (env.LIBC === 'musl' || env.LIBC === 'glibc') return env.LIBC;
  if (cached) return cached;
  let maps: string | null = null;
  try {
    maps = fs.readFileSync('/proc/self/maps', 'latin1');
  } catch {
    // not readable here: the file test decides
  }
  let alpineRelease = false;
  try {
    alpineRelease = fs.existsSync('/etc/alpine-release');
  } catch {
    // the permission model may refuse even the check
  }
  cached = detectLibc({ maps, alpineRelease });
  return cached;
}
