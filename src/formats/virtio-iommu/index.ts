export * from './features.js';
export * from './config.js';
export * from './requests.js';
export * from './probe.js';
export * from './fault.js';
