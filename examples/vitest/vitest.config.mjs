// vitest.config.mjs: Vitest's timeouts also stop synchronous code
import { defineConfig } from 'vitest/config';
export default defineConfig({ test: { runner: 'thread-kill/vitest' } });
