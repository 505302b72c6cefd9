export { createRuntime, serve, type Runtime, type RuntimeOptions } from './runtime';
