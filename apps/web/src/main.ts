/**
 * Entry point: wires the i18n, the store, the router and the API client's
 * reaction to a session the server has ended.
 */
import { createApp } from 'vue';
import { createPinia } from 'pinia';
import App from './App.vue';
import { onSessionEnded } from './api/client.js';
import { applyInitialLocale, i18n } from './i18n/index.js';
import { router } from './router.js';
import { useCartStore } from './stores/cart.js';
import { useSessionStore } from './stores/session.js';
import './styles/base.css';

const app = createApp(App);
const pinia = createPinia();
app.use(pinia);
app.use(i18n);
app.use(router);
applyInitialLocale();

onSessionEnded((code) => {
  useSessionStore(pinia).ended();
  useCartStore(pinia).reset();
  const current = router.currentRoute.value;
  if (current.name === 'login') return;
  void router.push({ name: 'login', query: { reason: code, redirect: current.fullPath } });
});

app.mount('#app');
