import path from 'node:path';
import { DEFAULT_DATABASE_URL, DEV_ADMIN_PASSWORD } from '@orrange/config';

// The services in start order (the gateway last), with their Postgres schema and default port: the registry
// in @orrange/config, which the services' own configs read too.
export { GATEWAY, SERVICES, type ServiceInfo } from '@orrange/config';

export const ROOT = path.resolve(__dirname, '../..');

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
