import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';

/** Where the API server listens during development. */
const API_ORIGIN = 'http://127.0.0.1:3000';

/**
 * Vite configuration of the web app. The server hosts `dist/` same-origin under a
 * strict Content-Security-Policy, so the build must not need inline scripts or eval.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [vue()],
  // Bundle @coconutpay/core from its TypeScript sources (the "source" export condition in
  // packages/core/package.json), so the web build does not depend on core's dist/.
  resolve: { conditions: ['source', ...defaultClientConditions] },
  define: {
    // vue-i18n feature flags: Composition API only, and JIT compilation of messages
    // (the default in v11), which builds an AST instead of calling `new Function`.
    __VUE_I18N_FULL_INSTALL__: 'true',
    __VUE_I18N_LEGACY_API__: 'false',
    __INTLIFY_PROD_DEVTOOLS__: 'false',
    __INTLIFY_DROP_MESSAGE_COMPILER__: 'false',
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Keep every asset a file: a `data:` script or style would fall foul of the CSP.
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  server: {
    proxy: {
      '/api': { target: API_ORIGIN, changeOrigin: false },
      '/healthz': { target: API_ORIGIN, changeOrigin: false },
    },
  },
  preview: {
    proxy: {
      '/api': { target: API_ORIGIN, changeOrigin: false },
      '/healthz': { target: API_ORIGIN, changeOrigin: false },
    },
  },
});
