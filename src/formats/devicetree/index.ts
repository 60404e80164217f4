export * from './tree.js';
export * from './specifiers.js';
