import {
  authRedisKeys,
  verifyAccessToken,
  type AccessClaims,
  type AccessTokenSettings,
  type Identity,
} from '@orrange/http';
import { gatewayErrors } from '../errors';
import type { KeyReader } from './tracked-cache';

export type TokenSettings = Omit<AccessTokenSettings, 'ttlSeconds'>;

/** Verified tokens kept in-process (a token's signature and claims never change; `exp` is rechecked on use). */
const VERIFIED_TOKENS_MAX = 10_000;

/**
 * Verifies a bearer access token (algorithm, key id, signature, exp, iss, aud, session and generation: see
 * verifyAccessToken), then refuses it when the user service has revoked it: its session ended (logout,
 * refresh-token reuse), or the user's tokens older than a generation were revoked (role change, disabled
 * account). Both records are read through `revocations` (the gateway's TrackedCache: in-process while Redis
 * tracking tells it of every change, GETs otherwise), side by side: hits share one PING, misses are two GETs
 * in one write, so a check costs at most one Redis round trip. Redis unreachable fails closed (503): a
 * revoked token must never slip through. The signature check itself is remembered for tokens already verified.
 */
export class TokenChecker {
  private readonly verified = new Map<string, AccessClaims>();

  constructor(
    private readonly settings: TokenSettings,
    private readonly revocations: KeyReader,
    private readonly prefix: string,
  ) {}

  async check(token: string): Promise<Identity> {
    const claims = this.verify(token);
    let minGeneration: string | null;
    let sessionRevoked: string | null;
    try {
      [minGeneration, sessionRevoked] = await Promise.all([
        this.revocations.get(authRedisKeys.minGeneration(this.prefix, claims.userId)),
        this.revocations.get(authRedisKeys.revokedSession(this.prefix, claims.sessionId)),
      ]);
    } catch {
      throw gatewayErrors.authUnavailable();
    }
    if (sessionRevoked !== null) throw gatewayErrors.invalidToken();
    if (minGeneration !== null && !(claims.generation >= Number(minGeneration))) throw gatewayErrors.invalidToken();
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
