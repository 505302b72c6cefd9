import { editPostgresUrl } from './postgres-url';
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';

/** The development password of compose's Redis (`requirepass`, `.env.example`); production refuses it. */
export const DEV_REDIS_PASSWORD = 'orrange-redis-dev-password';

/**
 * The TLS part of a Redis connection's options, from its URL and an optional CA file (REDIS_TLS_CA_FILE).
 * User, password and database come from the URL itself (`rediss://user:password@host:6380/2`), which ioredis
 * reads; this adds what a URL cannot say: the certificate authority to trust beyond the system's. The server's
 * certificate is always verified, host name included: there is no switch to turn that off.
 *
 * A CA file beside a plain `redis://` URL is refused rather than ignored: it says the operator meant TLS, and a
 * silent fallback to plaintext would send the password in the clear.
 */
export function redisTlsOptions(redisUrl: string, caFile?: string): { tls?: ConnectionOptions } {
  const protocol = new URL(redisUrl).protocol;
  if (protocol === 'redis:') {
    if (caFile)
      throw new Error('REDIS_TLS_CA_FILE is set but REDIS_URL is not rediss://: use rediss:// to connect with TLS');
    return {};
  }
  if (protocol !== 'rediss:') throw new Error(`REDIS_URL must be redis:// or rediss://, not ${protocol}//`);
  return { tls: caFile ? { ca: readPemFile(caFile, 'REDIS_TLS_CA_FILE') } : {} };
}

/** A PEM file (CA bundle, certificate, key) read at connection set-up, failing with the setting's name when it cannot be read. */
export function readPemFile(file: string, variable: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new Error(
      `${variable}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
}

/** The password in a Redis URL, if any (URL-decoded). */
export function redisPassword(redisUrl: string): string | undefined {
  try {
    const password = new URL(redisUrl).password;
    return password ? decodeURIComponent(password) : undefined;
  } catch {
    return undefined;
  }
}

/** A URL with its password replaced by `***`, for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    return editPostgresUrl(url, (parsed) => {
      if (parsed.password) parsed.password = '***';
    });
  } catch {
    return '(unparsable URL)';
  }
}
