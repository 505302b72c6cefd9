export { createLogger, type Logger } from './logger';
export { runWithContext, currentContext, enrichContext, type RequestContext } from './context';
