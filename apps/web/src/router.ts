/**
 * Routes of the app. `meta.role` limits a page to one kind of account; the guard
 * sends visitors who are not logged in to the login page and back afterwards.
 */
import { createRouter, createWebHistory, type RouteLocationRaw } from 'vue-router';
import { useSessionStore } from './stores/session.js';
import type { Role } from './api/types.js';

declare module 'vue-router' {
  interface RouteMeta {
    /** i18n key of the document title. */
    titleKey: string;
    /** The page needs a login. */
    requiresAuth?: boolean;
    /** The page is for this kind of account only. */
    role?: Role;
    /** The page is only for visitors who are not logged in. */
    guestOnly?: boolean;
  }
}

/** The router of the app. */
export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/', name: 'home', component: () => import('./views/home-view.vue'), meta: { titleKey: 'titles.home' } },
    { path: '/products/:id', name: 'product', component: () => import('./views/product-view.vue'), props: true, meta: { titleKey: 'titles.product' } },
    { path: '/cart', name: 'cart', component: () => import('./views/cart-view.vue'), meta: { titleKey: 'titles.cart', requiresAuth: true, role: 'buyer' } },
    { path: '/checkout', name: 'checkout', component: () => import('./views/checkout-view.vue'), meta: { titleKey: 'titles.checkout', requiresAuth: true, role: 'buyer' } },
    { path: '/orders', name: 'orders', component: () => import('./views/orders-view.vue'), meta: { titleKey: 'titles.orders', requiresAuth: true, role: 'buyer' } },
    { path: '/orders/:id', name: 'order', component: () => import('./views/order-detail-view.vue'), props: true, meta: { titleKey: 'titles.order', requiresAuth: true } },
    { path: '/orders/:id/pay', name: 'order-pay', component: () => import('./views/order-pay-view.vue'), props: true, meta: { titleKey: 'titles.orderPay', requiresAuth: true, role: 'buyer' } },
    {
      path: '/orders/:id/complete',
      name: 'order-complete',
      component: () => import('./views/order-complete-view.vue'),
      props: true,
      meta: { titleKey: 'titles.orderComplete', requiresAuth: true, role: 'buyer' },
    },
    // The link a QR code holds opens here on the phone; not behind the login guard, so the token survives the login (qr-view.vue).
    { path: '/qr', name: 'qr-pay', component: () => import('./views/qr-view.vue'), meta: { titleKey: 'titles.qrPay' } },
    { path: '/verify', name: 'verify', component: () => import('./views/verify-view.vue'), meta: { titleKey: 'titles.verify' } },
    { path: '/login', name: 'login', component: () => import('./views/login-view.vue'), meta: { titleKey: 'titles.login', guestOnly: true } },
    { path: '/register', name: 'register', component: () => import('./views/register-view.vue'), meta: { titleKey: 'titles.register', guestOnly: true } },
    { path: '/me', name: 'me', component: () => import('./views/me-view.vue'), meta: { titleKey: 'titles.me', requiresAuth: true } },
    { path: '/me/payment-code', name: 'payment-code', component: () => import('./views/payment-code-view.vue'), meta: { titleKey: 'titles.paymentCode', requiresAuth: true, role: 'buyer' } },
    {
      path: '/certificates',
      name: 'certificates',
      component: () => import('./views/certificates-view.vue'),
      meta: { titleKey: 'titles.certificates', requiresAuth: true },
    },
    {
      path: '/seller/products',
      name: 'seller-products',
      component: () => import('./views/seller-products-view.vue'),
      meta: { titleKey: 'titles.sellerProducts', requiresAuth: true, role: 'seller' },
    },
    {
      path: '/seller/orders',
      name: 'seller-orders',
      component: () => import('./views/orders-view.vue'),
      props: { seller: true },
      meta: { titleKey: 'titles.sellerOrders', requiresAuth: true, role: 'seller' },
    },
    // Issue 13: the seller's my page, the printable receipt and the public receipt check.
    { path: '/seller', name: 'seller-home', component: () => import('./views/seller-home-view.vue'), meta: { titleKey: 'sellerHome.title', requiresAuth: true, role: 'seller' } },
    {
      path: '/orders/:id/receipt/print',
      name: 'receipt-print',
      component: () => import('./views/receipt-print-view.vue'),
      props: true,
      meta: { titleKey: 'receipt.printTitle', requiresAuth: true },
    },
    // Issue 15: the operators' console.
    { path: '/admin', name: 'admin', component: () => import('./views/admin-view.vue'), meta: { titleKey: 'admin.title', requiresAuth: true, role: 'admin' } },
    { path: '/verify-receipt', name: 'verify-receipt', component: () => import('./views/verify-receipt-view.vue'), meta: { titleKey: 'verifyReceipt.title' } },
    { path: '/:pathMatch(.*)*', name: 'not-found', component: () => import('./views/not-found-view.vue'), meta: { titleKey: 'titles.notFound' } },
  ],
  scrollBehavior(to, from, saved) {
    if (saved) return saved;
    // Paging and filtering the list keeps the place; a new page starts at the top.
    if (to.path === from.path) return false;
    return { top: 0 };
  },
});

/**
 * Where to go after logging in: the `redirect` query if it is a path of this
 * site (never another origin), else the account's natural start page.
 */
export function afterLoginTarget(redirect: unknown, role: Role): RouteLocationRaw {
  if (typeof redirect === 'string' && redirect.startsWith('/') && !redirect.startsWith('//') && !redirect.startsWith('/\\')) return redirect;
  if (role === 'admin') return { name: 'admin' };
  return role === 'seller' ? { name: 'seller-products' } : { name: 'home' };
}

router.beforeEach(async (to) => {
  const session = useSessionStore();
  await session.restore();
  if (to.meta.requiresAuth && !session.user) return { name: 'login', query: { redirect: to.fullPath } };
  if (to.meta.role && session.user && session.user.role !== to.meta.role) return { name: 'home' };
  if (to.meta.guestOnly && session.user) return { name: 'me' };
  return true;
});
