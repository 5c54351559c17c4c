import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// `vite build web` (npm install's prepare script) writes web/dist, which onair serves under /ui/.
// `vite web` serves the app with live reload, passing every API path to an onair on its default port.
export default defineConfig({
  root: import.meta.dirname,
  base: '/ui/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, manifest: true, target: 'es2022' },
  server: { proxy: { '^/(?!ui/).*': 'http://127.0.0.1:10800' } },
});
