import jwt from 'jsonwebtoken';
import { generateKeyPairSync } from 'node:crypto';
import { parseKeyring, signAccessToken, verifyAccessToken } from '../src';

const keyring = parseKeyring('k1:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,k0:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb');
const settings = { keyring, issuer: 'orrange', audience: 'orrange-api', ttlSeconds: 900 };
const SESSION = '7f0c9d1e-3a52-4c1b-9f0e-2d6b8a4c5e01';

describe('access tokens', () => {
  it('when signed by the active key, then it verifies with roles and jti', () => {
    const { token, jti } = signAccessToken(
      { userId: 'u1', roles: ['user'], sessionId: SESSION, generation: 0 },
      settings,
    );
    expect(verifyAccessToken(token, settings)).toMatchObject({ userId: 'u1', roles: ['user'], jti });
  });

  it("when signed, then it carries its session and the user's token generation", () => {
    const { token } = signAccessToken({ userId: 'u1', roles: ['user'], sessionId: SESSION, generation: 3 }, settings);
    expect(verifyAccessToken(token, settings)).toMatchObject({ sessionId: SESSION, generation: 3 });
  });

  it.each([
    ['no session', { gen: 0 }],
    ['no generation', { sid: SESSION }],
    ['a negative generation', { sid: SESSION, gen: -1 }],
    ['a fractional generation', { sid: SESSION, gen: 1.5 }],
    ['a generation as text', { sid: SESSION, gen: '2' }],
    ['a session that is not an id', { sid: 'a b', gen: 0 }],
  ])('when a well-signed token has %s, then it is refused (it could not be revoked)', (_name, claims) => {
    reject(
      jwt.sign({ roles: ['user'], ...claims }, 'a'.repeat(40), {
        keyid: 'k1',
        subject: 'u1',
        jwtid: 'x',
        expiresIn: 60,
        issuer: 'orrange',
        audience: 'orrange-api',
      }),
    );
  });

  it('when signed by an older key still in the ring, then it verifies (rotation without logout)', () => {
    const old = signAccessToken(
      { userId: 'u1', roles: ['user'], sessionId: SESSION, generation: 0 },
      { ...settings, keyring: { ...keyring, activeKid: 'k0' } },
    );
    expect(verifyAccessToken(old.token, settings).userId).toBe('u1');
  });

  const reject = (token: string) =>
    expect(() => verifyAccessToken(token, settings)).toThrow(
      expect.objectContaining({ status: 401, code: 'AUTH.INVALID_TOKEN' }),
    );

  it('rejects alg none', () =>
    reject(
      jwt.sign({ sub: 'u1', roles: ['admin'], jti: 'x' }, '', {
        algorithm: 'none',
        keyid: 'k1',
        expiresIn: 60,
        issuer: 'orrange',
        audience: 'orrange-api',
      } as jwt.SignOptions),
    ));
  it('rejects an RS256 token (algorithm confusion)', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    reject(
      jwt.sign({ roles: ['admin'] }, privateKey, {
        algorithm: 'RS256',
        keyid: 'k1',
        subject: 'u1',
        jwtid: 'x',
        expiresIn: 60,
        issuer: 'orrange',
        audience: 'orrange-api',
      }),
    );
  });
  it('rejects a wrong signature', () =>
    reject(
      jwt.sign({ roles: ['admin'] }, 'c'.repeat(40), {
        keyid: 'k1',
        subject: 'u1',
        jwtid: 'x',
        expiresIn: 60,
        issuer: 'orrange',
        audience: 'orrange-api',
      }),
    ));
  it('rejects an unknown kid', () =>
    reject(
      jwt.sign({ roles: ['user'] }, 'a'.repeat(40), {
        keyid: 'zz',
        subject: 'u1',
        jwtid: 'x',
        expiresIn: 60,
        issuer: 'orrange',
        audience: 'orrange-api',
      }),
    ));
  it('rejects an expired token', () =>
    reject(
      jwt.sign({ roles: ['user'], exp: Math.floor(Date.now() / 1000) - 10 }, 'a'.repeat(40), {
        keyid: 'k1',
        subject: 'u1',
        jwtid: 'x',
        issuer: 'orrange',
        audience: 'orrange-api',
      }),
    ));
  it('rejects a wrong audience or issuer', () => {
    reject(
      signAccessToken(
        { userId: 'u1', roles: ['user'], sessionId: SESSION, generation: 0 },
        { ...settings, audience: 'other' },
      ).token,
    );
    reject(
      signAccessToken(
        { userId: 'u1', roles: ['user'], sessionId: SESSION, generation: 0 },
        { ...settings, issuer: 'evil' },
      ).token,
    );
  });
  it('rejects an unknown role', () =>
    reject(
      jwt.sign({ roles: ['god'] }, 'a'.repeat(40), {
        keyid: 'k1',
        subject: 'u1',
        jwtid: 'x',
        expiresIn: 60,
        issuer: 'orrange',
        audience: 'orrange-api',
      }),
    ));
  it('refuses short secrets in the keyring', () => expect(() => parseKeyring('k1:short')).toThrow(/at least 32/));
});
