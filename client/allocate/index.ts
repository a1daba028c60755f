export type { AllocateStrategy } from './strategy.js';
export { averageStrategy } from './average.js';
export { averageByCircleStrategy } from './average-by-circle.js';
export { consistentHashStrategy } from './consistent-hash.js';
export { configStrategy } from './config.js';
