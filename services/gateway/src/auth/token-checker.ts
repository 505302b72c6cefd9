import { authRedisKeys, verifyAccessToken, type AccessClaims, type AccessTokenSettings, type Identity } from '@orrange/http';
import { gatewayErrors } from '../errors';
import type { KeyReader } from './tracked-cache';

export type TokenSettings = Omit<AccessTokenSettings, 'ttlSeconds'>;

/** Verified tokens kept in-process (a token's signature and claims never change; `exp` is rechecked on use). */
const VERIFIED_TOKENS_MAX = 10_000;

/**
 * Verifies a bearer access token (algorithm, key id, signature, exp, iss, aud: see verifyAccessToken),
 * then refuses it when the user service has revoked the user's earlier tokens: the user's not-before second,
 * read through `notBefore` (the gateway's TrackedCache: in-process while Redis tracking tells it of every
 * change, a GET otherwise). Redis unreachable fails closed (503): a revoked token must never slip through.
 * The signature check itself is remembered for tokens already verified.
 */
export class TokenChecker {
  private readonly verified = new Map<string, AccessClaims>();

  constructor(private readonly settings: TokenSettings, private readonly notBefore: KeyReader, private readonly prefix: string) {}

  async check(token: string): Promise<Identity> {
    const claims = this.verify(token);
    let revokedBefore: string | null;
    try {
      revokedBefore = await this.notBefore.get(authRedisKeys.notBefore(this.prefix, claims.userId));
    } catch {
      throw gatewayErrors.authUnavailable();
    }
    if (revokedBefore !== null && Number(revokedBefore) > claims.issuedAt) throw gatewayErrors.invalidToken();
    return { userId: claims.userId, roles: claims.roles, scopes: null, via: 'jwt' };
  }

  private verify(token: string): AccessClaims {
    const known = this.verified.get(token);
    if (known && known.expiresAt * 1000 > Date.now()) return known;
    if (known) this.verified.delete(token);
    const claims = verifyAccessToken(token, this.settings);
    if (this.verified.size >= VERIFIED_TOKENS_MAX) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, claims);
    return claims;
  }
}
