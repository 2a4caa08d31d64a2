export * from './dual-token.js';
