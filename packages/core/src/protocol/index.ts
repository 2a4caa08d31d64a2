export * from './dual-token.js';
export * from './server-assertion.js';
