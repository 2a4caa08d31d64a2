/**
 * @coconutpay/core: isomorphic domain code shared by the server, the web app and
 * tools. WebCrypto only; no clock, randomness, environment or logger of its own.
 */
export * as errors from './errors/index.js';
export * as money from './money/index.js';
export * as protocol from './protocol/index.js';
export * as catalogue from './catalogue/index.js';
export * as orders from './orders/index.js';
export * as encoding from './encoding/index.js';
