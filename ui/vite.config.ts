// Builds the UI into ui/dist, which build.rs embeds in the sightline binary.
// `npm run dev` serves it with the API proxied to a local sightline on :7878.
import { defineConfig } from 'vitest/config';

const api = 'http://127.0.0.1:7878';

export default defineConfig({
  // Preact's JSX without a plugin: the automatic runtime from preact/jsx-runtime.
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The whole UI is a few dozen KiB: one chunk, no preload polyfill.
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
  },
  server: {
    proxy: Object.fromEntries(
      ['/api', '/jaeger', '/prometheus', '/loki', '/metrics', '/healthz', '/readyz'].map((path) => [path, api]),
    ),
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
