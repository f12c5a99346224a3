export * from './types.js';
export * from './calendar.js';
export * from './engine.js';
export * from './agreements.js';
