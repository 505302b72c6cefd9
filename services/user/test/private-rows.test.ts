import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { sqlState } from '@orrange/db';
import { actAsTokenOwner, asActingUser } from '../src/data/acting-user';
import type { UserClient } from '../src/data/prisma';
import { hashRefreshToken } from '../src/domain/secrets';
import { identity, registerUser, type TestUser } from './fixtures';
import { createHarness, type Harness } from './harness';

/** One table whose rows belong to one user, as the service's Prisma client reaches it. */
interface PrivateTable {
  name: string;
  owners(db: UserClient, where?: { userId: string }): Promise<Array<{ userId: string }>>;
  remove(db: UserClient, where?: { userId: string }): Promise<{ count: number }>;
  /** Gives every row it sees to `userId`. */
  move(db: UserClient, userId: string): Promise<{ count: number }>;
  /** Writes a row for `userId`. */
  plant(db: UserClient, userId: string): Promise<unknown>;
}

const hash = () => randomBytes(32).toString('hex');
const PRIVATE_TABLES: PrivateTable[] = [
  {
    name: 'payment_methods',
    owners: (db, where) => db.paymentMethod.findMany({ where, select: { userId: true } }),
    remove: (db, where) => db.paymentMethod.deleteMany({ where }),
    move: (db, userId) => db.paymentMethod.updateMany({ data: { userId } }),
    plant: (db, userId) =>
      db.paymentMethod.create({
        data: {
          id: randomUUID(),
          userId,
          type: 'SEPA',
          label: 'forged',
          keyId: 'dev1',
          iv: new Uint8Array(12),
          tag: new Uint8Array(16),
          ciphertext: new Uint8Array(1),
        },
      }),
  },
  {
    name: 'api_keys',
    owners: (db, where) => db.apiKey.findMany({ where, select: { userId: true } }),
    remove: (db, where) => db.apiKey.deleteMany({ where }),
    move: (db, userId) => db.apiKey.updateMany({ data: { userId } }),
    plant: (db, userId) => db.apiKey.create({ data: { userId, name: 'forged', scopes: ['read'], keyHash: hash() } }),
  },
  {
    name: 'refresh_tokens',
    owners: (db, where) => db.refreshToken.findMany({ where, select: { userId: true } }),
    remove: (db, where) => db.refreshToken.deleteMany({ where }),
    move: (db, userId) => db.refreshToken.updateMany({ data: { userId } }),
    plant: (db, userId) =>
      db.refreshToken.create({
        data: { id: randomUUID(), familyId: randomUUID(), userId, tokenHash: hash(), expiresAt: new Date() },
      }),
  },
];

/**
 * Issue 17: a user's payment methods, API keys and refresh tokens are visible and writable to the service's role only
 * in a transaction that named their owner as the acting user (migrations `private_rows`, `private_credentials`). Both
 * users here made their rows through the public API; the checks go through the service's own Prisma client.
 */
describe('private rows: row-level security on payment methods, API keys and refresh tokens', () => {
  let harness: Harness;
  let alice: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    harness = await createHarness();
    const app = harness.app();
    [alice, bob] = await Promise.all([registerUser(app), registerUser(app)]);
    for (const user of [alice, bob]) {
      const who = identity(harness, user.id);
      await request(app)
        .post('/api/v1/users/me/payment-methods')
        .set(who)
        .send({ type: 'SEPA', label: 'rls', details: 'x' })
        .expect(201);
      await request(app)
        .post('/api/v1/users/me/api-keys')
        .set(who)
        .send({ name: 'rls', scopes: ['read'] })
        .expect(201);
    }
  });

  afterAll(() => harness.close());

  /** As the migration role, which owns the tables and is not subject to their policies. */
  const ownerCount = async (table: string, userId: string) =>
    (
      await harness.testDb.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE user_id = $1`, [userId])
    )[0]!.n;

  describe.each(PRIVATE_TABLES)('$name', (table) => {
    it('when the service reads or deletes rows naming no acting user, then it sees and deletes none, even with an ownership check', async () => {
      expect(await ownerCount(table.name, alice.id)).toBeGreaterThan(0);
      expect(await ownerCount(table.name, bob.id)).toBeGreaterThan(0);
      expect(await harness.store.query((db) => table.owners(db))).toEqual([]);
      expect(await harness.store.query((db) => table.owners(db, { userId: alice.id }))).toEqual([]);
      expect(await harness.store.query((db) => table.remove(db))).toEqual({ count: 0 });
      expect(await ownerCount(table.name, alice.id)).toBeGreaterThan(0);
    });

    it("when a transaction acts as one user, then it sees only that user's rows and cannot delete another's", async () => {
      const seen = await asActingUser(harness.store, bob.id, (tx) => table.owners(tx));
      expect(seen.length).toBe(await ownerCount(table.name, bob.id));
      expect(new Set(seen.map((row) => row.userId))).toEqual(new Set([bob.id]));
      expect(await asActingUser(harness.store, bob.id, (tx) => table.owners(tx, { userId: alice.id }))).toEqual([]);
      const aliceBefore = await ownerCount(table.name, alice.id);
      expect(await asActingUser(harness.store, bob.id, (tx) => table.remove(tx, { userId: alice.id }))).toEqual({
        count: 0,
      });
      expect(await ownerCount(table.name, alice.id)).toBe(aliceBefore);
      // The setting lasts one transaction: the next statement on the same pool sees nothing again.
      expect(await harness.store.query((db) => table.owners(db))).toEqual([]);
    });

    it('when a transaction acting as one user writes a row for another, or gives its rows away, then Postgres refuses it', async () => {
      const forged = asActingUser(harness.store, alice.id, (tx) => table.plant(tx, bob.id));
      expect(sqlState(await forged.catch((error: unknown) => error))).toBe('42501');
      const moved = asActingUser(harness.store, alice.id, (tx) => table.move(tx, bob.id));
      expect(sqlState(await moved.catch((error: unknown) => error))).toBe('42501');
    });
  });

  it("when a refresh or a logout presents a token, then the transaction acts as the token's owner, and an unknown token makes nobody act", async () => {
    const tokens = (tokenHash: string) =>
      harness.store.transaction(async ({ client: tx }) => {
        await actAsTokenOwner(tx, tokenHash);
        return tx.refreshToken.findMany({ select: { userId: true, tokenHash: true } });
      });
    const presented = hashRefreshToken(alice.refreshToken);
    const seen = await tokens(presented);
    expect(seen.map((row) => row.tokenHash)).toContain(presented);
    expect(new Set(seen.map((row) => row.userId))).toEqual(new Set([alice.id]));
    expect(await tokens(hash())).toEqual([]);
  });
});
