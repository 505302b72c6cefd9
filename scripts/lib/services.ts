import path from 'node:path';
import { DEFAULT_DATABASE_URL, DEV_ADMIN_PASSWORD } from '@orrange/config';

export const ROOT = path.resolve(__dirname, '../..');

/** The services in start order (the gateway last), with their Postgres schema and default port. */
export const SERVICES = [
  { name: 'user', schema: 'users', port: 3001, urlVar: 'USER_SERVICE_URLS' },
  { name: 'order-book', schema: 'order_book', port: 3002, urlVar: 'ORDER_BOOK_SERVICE_URLS' },
  { name: 'trade-execution', schema: 'trade', port: 3003, urlVar: 'TRADE_SERVICE_URLS' },
  { name: 'dispute', schema: 'dispute', port: 3004, urlVar: 'DISPUTE_SERVICE_URLS' },
] as const;

export const GATEWAY = { name: 'gateway', port: 8080 } as const;

export type ServiceInfo = (typeof SERVICES)[number];

export function serviceDir(name: string): string {
  return path.join(ROOT, 'services', name);
}

export const DEFAULTS = {
  DATABASE_URL: DEFAULT_DATABASE_URL,
  REDIS_URL: 'redis://127.0.0.1:6379',
  ADMIN_EMAIL: 'admin@orrange.local',
  ADMIN_PASSWORD: DEV_ADMIN_PASSWORD,
};

/** Reads `.env` at the repository root if there is one; real environment variables win. */
export function loadDotEnv(): void {
  try {
    process.loadEnvFile(path.join(ROOT, '.env'));
  } catch {
    // no .env: defaults and the real environment apply
  }
}

export function setting(name: keyof typeof DEFAULTS): string {
  return process.env[name] || DEFAULTS[name];
}
