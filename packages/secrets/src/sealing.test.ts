import { randomBytes } from 'node:crypto';
import { open, openText, parseEncryptionKeyring, seal, sealedTextPrefix, sealToText } from './sealing';

const paymentMethodAad = (userId: string, methodId: string) => `payment-method:v1:${userId}:${methodId}`;

const key = () => randomBytes(32).toString('base64');

describe('sealing with AES-256-GCM', () => {
  it('when sealed and opened with the same AAD, then the plaintext comes back', () => {
    const keyring = parseEncryptionKeyring(`k1:${key()}`);
    const sealed = seal(keyring, '{"iban":"DE89"}', paymentMethodAad('u1', 'm1'));
    expect(sealed.keyId).toBe('k1');
    expect(open(keyring, sealed, paymentMethodAad('u1', 'm1'))).toBe('{"iban":"DE89"}');
  });

  it('when the AAD, ciphertext or tag differ, then opening throws', () => {
    const keyring = parseEncryptionKeyring(`k1:${key()}`);
    const sealed = seal(keyring, 'secret', paymentMethodAad('u1', 'm1'));
    expect(() => open(keyring, sealed, paymentMethodAad('u2', 'm1'))).toThrow();
    expect(() =>
      open(
        keyring,
        { ...sealed, ciphertext: Buffer.from(sealed.ciphertext.map((b) => b ^ 1)) },
        paymentMethodAad('u1', 'm1'),
      ),
    ).toThrow();
    expect(() => open(keyring, { ...sealed, tag: Buffer.alloc(16) }, paymentMethodAad('u1', 'm1'))).toThrow();
  });

  it('when the active key rotates, then old ciphertexts still open by their stored key id', () => {
    const oldKey = key();
    const before = parseEncryptionKeyring(`k1:${oldKey}`);
    const sealed = seal(before, 'secret', 'aad');
    const after = parseEncryptionKeyring(`k2:${key()},k1:${oldKey}`);
    expect(seal(after, 'x', 'aad').keyId).toBe('k2');
    expect(open(after, sealed, 'aad')).toBe('secret');
    expect(() => open(parseEncryptionKeyring(`k2:${key()}`), sealed, 'aad')).toThrow(/unknown encryption key id/);
  });

  it.each(['', 'k1', `k1:${randomBytes(16).toString('base64')}`, `bad kid:${key()}`])(
    'when the keyring is %p, then it is refused',
    (spec) => {
      expect(() => parseEncryptionKeyring(spec)).toThrow();
    },
  );

  it('when the active kid is not in the keyring, then it is refused', () => {
    expect(() => parseEncryptionKeyring(`k1:${key()}`, 'k9')).toThrow();
  });
});

describe('sealed text', () => {
  it('when sealed to text and opened, then the plaintext comes back and the text names its key', () => {
    const keyring = parseEncryptionKeyring(`k1:${key()}`);
    const text = sealToText(keyring, 'IBAN DE89 3704 0044 0532 0130 00', 'chat:t1:m1');
    expect(text.startsWith('v1.k1.')).toBe(true);
    expect([sealedTextPrefix(), sealedTextPrefix('k1')]).toEqual(['v1.', 'v1.k1.']);
    expect(text).not.toContain('DE89');
    expect(openText(keyring, text, 'chat:t1:m1')).toBe('IBAN DE89 3704 0044 0532 0130 00');
    expect(() => openText(keyring, text, 'chat:t1:m2')).toThrow();
  });

  it.each(['plain words', 'v1.k1.a.b', 'v2.k1.a.b.c', 'v1.k1.a.b.c.d'])(
    'when %p is opened, then it is refused as not sealed',
    (text) => {
      expect(() => openText(parseEncryptionKeyring(`k1:${key()}`), text, 'aad')).toThrow(/not a sealed value/);
    },
  );
});
