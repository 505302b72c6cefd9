import type { Redis } from 'ioredis';
import request from 'supertest';
import { serviceInfo } from '@orrange/config';
import { Database } from '@orrange/db';
import { createLogger } from '@orrange/logger';
import { createRedis, EventConsumer, inboxConfirmedFunctionSql, OUTBOX_TABLES_SQL } from '@orrange/queue';
import { eventually, PrivateRedisServer } from '@orrange/testing';
import { as, openDispute, outboxRows } from './factories';
import { createHarness, type Harness } from './harness';

const EVIDENCE_WINDOW_SECONDS = 2.5;
const ASSIGNMENT_TIMEOUT_SECONDS = 2;
const REDELIVER_MS = 600;

/**
 * Redis loses everything it was given while dispute timers are scheduled and a resolution is on its way to
 * trade-execution: the timers fire from the cases' rows, and dispute.resolved is published again until
 * trade-execution's inbox has it, and applied once. trade-execution is played by a consumer on a schema "trade" of
 * its own (an inbox, inbox_confirmed, and a table of escrow moves): the dispute service cannot import the real one.
 */
describe('dispute service when Redis restarts empty or is flushed (a private Redis)', () => {
  let redisServer: PrivateRedisServer;
  const logger = createLogger('dispute-test', 'silent');

  beforeAll(async () => {
    redisServer = await PrivateRedisServer.start();
  });

  afterAll(() => redisServer.stop());

  it.each([
    ['killed with SIGKILL and started again empty', () => redisServer.crashAndRestartEmpty()],
    ['flushed (FLUSHALL)', () => redisServer.flushAll()],
  ])(
    'when Redis is %s, then every due timer fires once from its row and the resolution moves the escrow once',
    async (_name, lose) => {
      const h: Harness = await createHarness({
        REDIS_URL: redisServer.url,
        EVIDENCE_WINDOW_HOURS: String(EVIDENCE_WINDOW_SECONDS / 3600),
        DISPUTE_ASSIGNMENT_TIMEOUT_MINUTES: String(ASSIGNMENT_TIMEOUT_SECONDS / 60),
        TIMER_SWEEP_MS: '100',
        OUTBOX_REDELIVER_MS: String(REDELIVER_MS),
        QUEUE_STALL_MS: '1000',
      });
      const trade = new Database({ url: h.testDb.url, name: 'trade-stand-in', schema: 'trade', healthIntervalMs: 0 });
      let connection: Redis | undefined;
      let tradeConsumer: EventConsumer | undefined;
      try {
        await trade.query('CREATE SCHEMA trade');
        await trade.query(OUTBOX_TABLES_SQL);
        await trade.query(inboxConfirmedFunctionSql('trade'));
        // What trade-execution's migration grants the dispute service's role: its redelivery sweep asks this inbox.
        await trade.query(`GRANT USAGE ON SCHEMA trade TO ${serviceInfo('dispute').dbRole}`);
        await trade.query(
          `GRANT EXECUTE ON FUNCTION trade.inbox_confirmed(uuid[]) TO ${serviceInfo('dispute').dbRole}`,
        );
        await trade.query('CREATE TABLE escrow_moves (dispute_id text NOT NULL, outcome text NOT NULL)');
        h.runtime.start();
        const api = () => request(h.app);
        const asAdmin = as(h, 'admin-1', ['user', 'admin']);
        const view = async (id: string) => (await api().get(`/api/v1/disputes/${id}`).set(asAdmin)).body;

        const silent = await openDispute(h);
        const sellerSilent = await openDispute(h);
        const resolved = await openDispute(h);
        await api()
          .post(`/api/v1/disputes/${sellerSilent.disputeId}/evidence`)
          .set(as(h, sellerSilent.buyerId))
          .send({ body: 'I paid' })
          .expect(201);
        await api()
          .post(`/api/v1/disputes/${resolved.disputeId}/assign`)
          .set(as(h, 'arb-1', ['arbitrator']))
          .send({})
          .expect(200);
        await api()
          .post(`/api/v1/disputes/${resolved.disputeId}/resolve`)
          .set(as(h, 'arb-1', ['arbitrator']))
          .send({ outcome: 'REFUND_SELLER', note: 'no payment proof' })
          .expect(200);
        // dispute.assigned and dispute.resolved are handed to Redis (published), and nobody took them yet.
        h.runtime.relay.kick();
        await eventually(
          async () =>
            (
              await h.runtime.db.query<{ n: number }>(
                'SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL',
              )
            )[0]!.n === 0,
        );

        await lose();
        const lostAt = Date.now();
        // Past the bound the sweep finds them unconfirmed, publishes them again, and /health says so.
        const degraded = await eventually(async () => {
          const res = await api().get('/health');
          return res.body.checks.queue.unconfirmed >= 2 ? res : undefined;
        });
        expect(degraded.status).toBe(200);
        expect(degraded.body.status).toBe('degraded');

        connection = createRedis(redisServer.url);
        tradeConsumer = new EventConsumer({
          service: 'trade-execution',
          db: trade,
          connection,
          prefix: h.runtime.config.REDIS_PREFIX,
          logger,
          handlers: {
            'dispute.resolved': async (event, tx) =>
              void (await tx.query('INSERT INTO escrow_moves (dispute_id, outcome) VALUES ($1, $2)', [
                event.payload.disputeId,
                event.payload.outcome,
              ])),
            'dispute.assigned': async () => undefined,
          },
        });
        tradeConsumer.start();
        await eventually(async () => (await trade.query('SELECT 1 FROM escrow_moves')).length === 1);
        const recoveredMs = Date.now() - lostAt;
        await eventually(async () => (await api().get('/health')).body.status === 'ok');
        console.log(
          `Redis ${_name}: dispute.resolved applied ${recoveredMs} ms after the loss (bound ${REDELIVER_MS} ms)`,
        );
        expect(recoveredMs).toBeLessThan(REDELIVER_MS + 3_000);

        // Every timer past due fired, from the rows, with Redis empty.
        await eventually(
          async () => {
            const cases = await Promise.all([silent, sellerSilent].map((d) => view(d.disputeId)));
            return cases.every((c) => c.evidenceClosedAt && c.escalatedAt);
          },
          { timeoutMs: 10_000 },
        );
        expect((await view(silent.disputeId)).defaultJudgmentAgainst).toEqual(['BUYER', 'SELLER']);
        expect((await view(sellerSilent.disputeId)).defaultJudgmentAgainst).toEqual(['SELLER']);
        expect(await view(resolved.disputeId)).toMatchObject({
          status: 'RESOLVED',
          evidenceClosedAt: null,
          escalatedAt: null,
        });

        // Once each: sweep again, deliver again, and count.
        await Promise.all(h.runtime.sweepers.map((s) => s.sweepNow()));
        const [resolvedEvent] = await h.runtime.db.query<{ id: string; payload: unknown; occurred_at: Date }>(
          "SELECT id::text, payload, occurred_at FROM outbox WHERE type = 'dispute.resolved'",
        );
        expect(
          await tradeConsumer.apply({
            id: resolvedEvent!.id,
            type: 'dispute.resolved',
            occurredAt: resolvedEvent!.occurred_at.toISOString(),
            payload: resolvedEvent!.payload,
          }),
        ).toBe('duplicate');
        expect(await trade.query('SELECT dispute_id, outcome FROM escrow_moves')).toEqual([
          { dispute_id: resolved.disputeId, outcome: 'REFUND_SELLER' },
        ]);
        for (const d of [silent, sellerSilent]) {
          expect((await outboxRows(h, 'dispute.escalated', d.disputeId)).map((r) => r.payload.reason).sort()).toEqual([
            'PARTY_SILENT',
            'UNASSIGNED_TOO_LONG',
          ]);
        }
        expect(await outboxRows(h, 'dispute.escalated', resolved.disputeId)).toEqual([]);
        const metrics = (await api().get('/metrics')).text;
        expect(metrics).toMatch(/timers_fired_total\{timer="evidence-window"[^}]*\} 2\n/);
        expect(metrics).toMatch(/timers_fired_total\{timer="assignment-timeout"[^}]*\} 2\n/);
        // Published again at least once (again at each re-check until the stand-in had applied it: BullMQ kept one job).
        expect(
          Number(
            /events_republished_total\{type="dispute.resolved",consumer="trade-execution"[^}]*\} (\d+)\n/.exec(
              metrics,
            )?.[1],
          ),
        ).toBeGreaterThanOrEqual(1);
        // Every event is confirmed by its consumer (dispute.escalated has none: confirmed when published).
        await eventually(
          async () =>
            (
              await h.runtime.db.query<{ n: number }>(
                'SELECT count(*)::int AS n FROM outbox WHERE confirmed_at IS NULL',
              )
            )[0]!.n === 0,
        );
      } finally {
        await tradeConsumer?.close();
        connection?.disconnect();
        await trade.close();
        await h.close();
      }
    },
  );
});
