/**
 * PKI: certificate profiles, path validation, CSRs, encrypted private keys.
 * Isomorphic: WebCrypto only.
 */
export * from './oids.js';
