export * from './canonical.js';
export * from './signing.js';
