export * from './registry.js';
export * from './app-error.js';
