// Builds the console page (index.html, src/) into dist/console, which
// `kskup console` serves (cli/console/console-server.ts). Relative asset
// paths, so the page works behind any path a port-forward or proxy gives it.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    // Cytoscape alone is about 400 kB minified: one chunk is fine for a page served from loopback.
    chunkSizeWarningLimit: 1_000,
  },
});
