// @ts-check
// The console's build: `npm run build:console` (vite build apps/console) writes dist/, which
// the API serves at `/` (src/index.ts). Plain JS like scripts/run-tests.mjs: a build tool's
// config, outside the type-checked and linted sources; defineConfig still types it in editors.
// `npx vite apps/console` serves the sources with hot reload, /v1 proxied to a local API.
import { defineConfig } from 'vite';

export default defineConfig({
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Every asset a file of its own, never a data: URL (the CSP allows 'self' only).
    assetsInlineLimit: 0,
    rollupOptions: {
      onwarn(warning, warn) {
        // React libraries mark modules "use client" (for React Server Components); a browser bundle ignores it.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE' && warning.message.includes('"use client"')) return;
        warn(warning);
      },
    },
  },
  server: { proxy: { '/v1': `http://127.0.0.1:${process.env.PORT ?? 8080}` } },
});
