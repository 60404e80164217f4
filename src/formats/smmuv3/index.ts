export * from './registers.js';
export * from './structures.js';
export * from './commands.js';
export * from './records.js';
