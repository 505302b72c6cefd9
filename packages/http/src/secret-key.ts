import { createSecretKey, type KeyObject } from 'node:crypto';

const keys = new Map<string, KeyObject>();
const KEYS_MAX = 64;

/**
 * The HMAC key object of a secret, made once. Given a plain string, jsonwebtoken first tries to parse it as
 * a private and then a public key (two thrown exceptions) on every sign and verify: a fifth of a service's
 * CPU at load. Secrets come from config, so the cache stays tiny.
 */
export function secretKey(secret: string | KeyObject): KeyObject {
  if (typeof secret !== 'string') return secret;
  let key = keys.get(secret);
  if (!key) {
    if (keys.size >= KEYS_MAX) keys.clear();
    key = createSecretKey(Buffer.from(secret));
    keys.set(secret, key);
  }
  return key;
}
