import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Data at rest (payment details, trade chat, dispute evidence, stored answers that carry them): AES-256-GCM under
 * a keyring of key ids, so keys rotate. The active key encrypts, every listed one decrypts.
 */
export interface EncryptionKeyring {
  activeKid: string;
  keys: Map<string, Buffer>;
}

export interface Sealed {
  keyId: string;
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
}

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const ALGORITHM = 'aes-256-gcm';

/** Parses `kid1:base64key1,kid2:base64key2`; each key must decode to exactly 32 bytes. */
export function parseEncryptionKeyring(spec: string, activeKid?: string): EncryptionKeyring {
  const keys = new Map<string, Buffer>();
  for (const entry of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const separator = entry.indexOf(':');
    const kid = entry.slice(0, separator);
    if (separator <= 0 || !/^[A-Za-z0-9_-]{1,32}$/.test(kid))
      throw new Error('ENCRYPTION_KEYS entries look like kid:base64key');
    const key = Buffer.from(entry.slice(separator + 1), 'base64');
    if (key.length !== KEY_BYTES) throw new Error(`encryption key "${kid}" must be ${KEY_BYTES} bytes (base64)`);
    keys.set(kid, key);
  }
  const active = activeKid || keys.keys().next().value;
  if (!active || !keys.has(active)) throw new Error('the active encryption key id is not in the keyring');
  return { activeKid: active, keys };
}

/** Encrypts with the active key; `aad` binds the ciphertext to its row, so rows cannot be swapped. */
export function seal(keyring: EncryptionKeyring, plaintext: string, aad: string): Sealed {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, keyring.keys.get(keyring.activeKid)!, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return { keyId: keyring.activeKid, iv, tag: cipher.getAuthTag(), ciphertext };
}

/** Decrypts and authenticates; throws if the key is unknown, or the data, tag or AAD do not match. */
export function open(keyring: EncryptionKeyring, sealed: Sealed, aad: string): string {
  const key = keyring.keys.get(sealed.keyId);
  if (!key) throw new Error(`unknown encryption key id "${sealed.keyId}"`);
  const decipher = createDecipheriv(ALGORITHM, key, sealed.iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(sealed.tag);
  return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]).toString('utf8');
}

const TEXT_VERSION = 'v1';

/**
 * How a sealed text starts: `v1.` whatever its key, `v1.<kid>.` when sealed under `kid` (the re-encryption finds the
 * values a rotation left under other keys by it).
 */
export function sealedTextPrefix(kid?: string): string {
  return kid === undefined ? `${TEXT_VERSION}.` : `${TEXT_VERSION}.${kid}.`;
}

/** `v1.kid.iv.tag.ciphertext` (base64url parts): a sealed value that fits a text column or a JSON string. */
export function sealToText(keyring: EncryptionKeyring, plaintext: string, aad: string): string {
  const s = seal(keyring, plaintext, aad);
  return [
    TEXT_VERSION,
    s.keyId,
    s.iv.toString('base64url'),
    s.tag.toString('base64url'),
    s.ciphertext.toString('base64url'),
  ].join('.');
}

export function openText(keyring: EncryptionKeyring, text: string, aad: string): string {
  return open(keyring, parseSealedText(text), aad);
}

/** The parts of a `v1.…` sealed text; throws when the text is not one. */
export function parseSealedText(text: string): Sealed {
  const [version, keyId, iv, tag, ciphertext, extra] = text.split('.');
  if (
    version !== TEXT_VERSION ||
    !keyId ||
    iv === undefined ||
    tag === undefined ||
    ciphertext === undefined ||
    extra !== undefined
  )
    throw new Error('not a sealed value');
  return {
    keyId,
    iv: Buffer.from(iv, 'base64url'),
    tag: Buffer.from(tag, 'base64url'),
    ciphertext: Buffer.from(ciphertext, 'base64url'),
  };
}

/**
 * A keyed fingerprint (HMAC-SHA256 under a key derived from the active encryption key): lets equal inputs
 * be recognised without storing a guessable hash of them (a request body with a password or an IBAN).
 */
export function fingerprint(keyring: EncryptionKeyring, material: string): string {
  const macKey = Buffer.from(
    hkdfSync('sha256', keyring.keys.get(keyring.activeKid)!, Buffer.alloc(0), 'orrange:fingerprint:v1', 32),
  );
  return createHmac('sha256', macKey).update(material).digest('hex');
}
