/// <reference types="vite/client" />

// Single-file components are compiled by @vitejs/plugin-vue; vue-tsc checks them
// itself, and this shim only serves tools that see `.vue` imports as plain modules.
declare module '*.vue' {
  import type { DefineComponent } from 'vue';
  const component: DefineComponent<object, object, unknown>;
  export default component;
}
