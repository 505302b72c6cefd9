import { randomBytes } from 'node:crypto';
import type { Express } from 'express';
import request from 'supertest';
import { IDENTITY_HEADER, signIdentity, type Identity, type Role, type Scope } from '@orrange/http';
import type { Harness } from './harness';

export const PASSWORD = 'correct horse battery staple';

export interface TestUser {
  id: string;
  email: string;
  username: string;
  accessToken: string;
  refreshToken: string;
}

/** A fresh unique user through the public API (one argon2 hash). */
export async function registerUser(
  app: Express,
  overrides: Partial<{ email: string; username: string; password: string }> = {},
): Promise<TestUser> {
  const tag = randomBytes(4).toString('hex');
  const body = { email: `u_${tag}@example.com`, username: `u_${tag}`, password: PASSWORD, ...overrides };
  const res = await request(app).post('/api/v1/auth/register').send(body);
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return {
    id: res.body.user.id,
    email: res.body.user.email,
    username: res.body.user.username,
    accessToken: res.body.accessToken,
    refreshToken: res.body.refreshToken,
  };
}

/** The header the gateway would forward for this caller. */
export function identity(
  harness: Harness,
  userId: string,
  options: { roles?: Role[]; via?: Identity['via']; scopes?: Scope[] | null } = {},
): Record<string, string> {
  const signed = signIdentity(
    { userId, roles: options.roles ?? ['user'], scopes: options.scopes ?? null, via: options.via ?? 'jwt' },
    harness.config.INTERNAL_TOKEN_SECRET,
  );
  return { [IDENTITY_HEADER]: signed };
}

export function gatewayIdentity(harness: Harness): Record<string, string> {
  return identity(harness, 'gateway', { roles: [], via: 'service', scopes: null });
}
