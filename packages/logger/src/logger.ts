import winston from 'winston';
import { currentContext } from './context';

export type Logger = winston.Logger;

// Keys whose values must never reach a log line, whatever the caller passes.
const SECRET_KEYS = /pass(word)?|secret|token|authorization|cookie|api[-_]?key|details|privateKey/i;

const redact = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (SECRET_KEYS.test(key)) info[key] = '[redacted]';
  }
  return info;
});

const withContext = winston.format((info) => Object.assign(info, currentContext(), info));

/**
 * One JSON line per event on stdout, carrying the service name and the current request/job context. The level
 * is fixed for the life of the process.
 */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  const logger = winston.createLogger({
    level,
    defaultMeta: { service },
    format: winston.format.combine(
      withContext(),
      redact(),
      winston.format.timestamp(),
      winston.format.errors({ stack: true }),
      winston.format.json(),
    ),
    transports: [new winston.transports.Console({ silent: level === 'silent' })],
  });
  // winston formats every call (context, timestamp, JSON) before its transport drops the ones below the level:
  // on a hot path at LOG_LEVEL=warn that is work for nothing, so the disabled levels do nothing at all.
  for (const name of Object.keys(logger.levels)) {
    if (!logger.isLevelEnabled(name)) (logger as unknown as Record<string, unknown>)[name] = disabled;
  }
  return logger;
}

function disabled(this: Logger): Logger {
  return this;
}
