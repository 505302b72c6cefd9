import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { ASSET_SCALES, fromUnits, type Asset } from '@orrange/money';
import type { EventPayload } from '@orrange/queue';
import { balancesOf } from '../src/data/ledger.repository';
import { fund, verify } from './factories';
import { createHarness, type GroupedEvent, type Harness } from './harness';

const USERS = 2;
const ASSETS_USED: Asset[] = ['BTC', 'USDT'];
const OPS_MAX = 40;
const RUNS = 30;
const STARTING_UNITS = 3_000_000n;
/** Stands for a world's tag in ids: the same script runs once grouped and once one by one, each with its own ids. */
const W = '{w}';

type ScriptType = 'order.placed' | 'order.matched' | 'order.cancelled';
interface ScriptEvent {
  type: ScriptType;
  payload: EventPayload<ScriptType>;
  /** Stands for the event id: a redelivery with the same id reuses it. */
  key: string;
}

const user = fc.integer({ min: 0, max: USERS - 1 });
const asset = fc.constantFrom(...ASSETS_USED);
/** Often a third, a half or two thirds of a starting balance, so that two claims fit alone but not together. */
const units = fc.oneof(fc.bigInt({ min: 1n, max: 2_000_000n }), fc.constantFrom(1_000_000n, 1_500_000n, 2_000_000n));
const pick = fc.nat({ max: 1000 });
/** Nine times in ten: most events are valid, a few are rejected for what they say. */
const mostlyTrue = fc.integer({ min: 0, max: 9 }).map((n) => n > 0);
const weighted = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ weight, arbitrary });
/** One to three claims at once (a seller placing several orders, an order matched several times), so groups often hold claims on one balance. */
const burst = fc.array(units, { minLength: 1, maxLength: 3 });
const op = fc.oneof(
  weighted(5, fc.record({ kind: fc.constant('sell' as const), user, asset, units: burst, valid: mostlyTrue })),
  weighted(1, fc.record({ kind: fc.constant('buy' as const), user, asset })),
  weighted(2, fc.record({ kind: fc.constant('cancel' as const), order: pick, units })),
  weighted(5, fc.record({ kind: fc.constant('matchHold' as const), order: pick, buyer: user, units: burst })),
  weighted(4, fc.record({ kind: fc.constant('matchAvailable' as const), seller: user, buyer: user, asset, units: burst, valid: mostlyTrue })),
  weighted(2, fc.record({ kind: fc.constant('redeliver' as const), event: pick, sameId: fc.boolean() })),
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

const amountOf = (a: Asset, u: bigint) => fromUnits(u, ASSET_SCALES[a]);
const userId = (i: number) => `${W}:u${i}`;

/** The events of a sequence of operations, with ids that stand for a world's (see W). Sell orders are known up front, so a match or cancel may come before its order. */
function scriptOf(ops: Op[]): ScriptEvent[] {
  const sells = ops.flatMap((o, i) => (o.kind === 'sell' ? o.units.map((_, j) => ({ orderId: `${W}:o${i}.${j}`, userId: userId(o.user), asset: o.asset })) : []));
  const script: ScriptEvent[] = [];
  const add = (type: ScriptType, payload: EventPayload<ScriptType>) => script.push({ type, payload, key: `e${script.length}` });
  ops.forEach((o, i) => {
    switch (o.kind) {
      case 'sell':
        return o.units.forEach((u, j) => add('order.placed', { orderId: `${W}:o${i}.${j}`, userId: userId(o.user), side: 'SELL', asset: o.asset, amount: o.valid ? amountOf(o.asset, u) : '0' }));
      case 'buy':
        return add('order.placed', { orderId: `${W}:o${i}`, userId: userId(o.user), side: 'BUY', asset: o.asset, amount: '1' });
      case 'cancel': {
        const order = sells[o.order % sells.length];
        if (order) add('order.cancelled', { ...order, side: 'SELL', remaining: amountOf(order.asset, o.units) });
        return;
      }
      case 'matchHold':
      case 'matchAvailable': {
        const order = o.kind === 'matchHold' ? sells[o.order % sells.length] : undefined;
        if (o.kind === 'matchHold' && !order) return;
        const sellerId = order?.userId ?? userId((o as { seller: number }).seller);
        const a = order?.asset ?? (o as { asset: Asset }).asset;
        const valid = o.kind === 'matchHold' || o.valid;
        return o.units.forEach((u, j) => add('order.matched', {
          matchId: `${W}:m${i}.${j}`, tradeId: `${W}:t${i}.${j}`, buyOrderId: null, sellOrderId: order?.orderId ?? null, buyerId: userId(o.buyer), sellerId, asset: a,
          fiatCurrency: 'USD', price: valid ? '123.45' : '0.00', amount: amountOf(a, u), paymentMethod: 'SEPA', paymentWindowMinutes: 30,
          sellerFunding: order ? 'HOLD' : 'AVAILABLE',
        }));
      }
      case 'redeliver': {
        const earlier = script[o.event % Math.max(script.length, 1)];
        if (earlier) script.push({ ...earlier, key: o.sameId ? earlier.key : `e${script.length}` });
        return;
      }
    }
  });
  return script;
}

describe('ledger property: grouped events decide exactly as one by one', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness();
  });

  afterAll(() => h.close());

  const localize = <T>(value: T, tag: string): T => JSON.parse(JSON.stringify(value).replaceAll(W, tag)) as T;
  const generalize = <T>(value: T, tag: string): T => JSON.parse(JSON.stringify(value).replaceAll(tag, W)) as T;

  async function applyOneByOne(script: ScriptEvent[], tag: string): Promise<string[]> {
    const ids = new Map<string, string>();
    const outcomes: string[] = [];
    for (const e of script) {
      if (!ids.has(e.key)) ids.set(e.key, randomUUID());
      outcomes.push(await h.deliver(e.type, localize(e.payload, tag) as never, ids.get(e.key)));
    }
    return outcomes;
  }

  /** Consecutive order.placed or order.matched events form groups of up to groupMax; order.cancelled is applied alone, as the service does. */
  async function applyInGroups(script: ScriptEvent[], tag: string, groupMax: number): Promise<string[]> {
    const ids = new Map<string, string>();
    const idOf = (key: string) => ids.get(key) ?? ids.set(key, randomUUID()).get(key)!;
    const outcomes: string[] = [];
    for (let i = 0; i < script.length; ) {
      const type = script[i]!.type;
      if (type === 'order.cancelled') {
        outcomes.push(await h.deliver(type, localize(script[i]!.payload, tag) as never, idOf(script[i]!.key)));
        i += 1;
        continue;
      }
      let end = i;
      while (end < script.length && end - i < groupMax && script[end]!.type === type) end += 1;
      const group = script.slice(i, end).map((e) => ({ type: e.type, payload: localize(e.payload, tag), id: idOf(e.key) }) as GroupedEvent);
      outcomes.push(...(await h.deliverGroup(group)));
      i = end;
    }
    return outcomes;
  }

  /** Everything the events changed in a world, with its ids generalized back, so two worlds compare equal. */
  async function stateOf(tag: string) {
    const like = `${tag}:%`;
    const answers = await h.runtime.db.query<{ type: string; payload: unknown }>(`SELECT type, payload FROM outbox WHERE payload::text LIKE $1 ORDER BY seq`, [`%"${like}`]);
    const balances = await Promise.all(Array.from({ length: USERS }, (_, i) => balancesOf(h.runtime.db, localize(userId(i), tag))));
    const holds = await h.runtime.db.query('SELECT order_id, status, amount::text, released::text FROM order_holds WHERE order_id LIKE $1 ORDER BY order_id', [like]);
    const trades = await h.runtime.db.query('SELECT id, match_id, status, escrow_status, amount::text, fiat_amount::text FROM trades WHERE id LIKE $1 ORDER BY id', [like]);
    const journals = await h.runtime.db.query('SELECT kind, ref FROM journals WHERE ref LIKE $1 ORDER BY kind, ref', [like]);
    const rejected = await h.runtime.db.query('SELECT match_id, reason FROM rejected_matches WHERE match_id LIKE $1 ORDER BY match_id', [like]);
    return generalize({ answers, balances, holds, trades, journals, rejected }, tag);
  }

  it('when random holds, matches, cancels and redeliveries are applied in groups, then outcomes, answers, balances, holds and trades equal one-by-one, and the books balance', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: OPS_MAX }), fc.integer({ min: 2, max: 12 }), async (ops, groupMax) => {
        run += 1;
        const script = scriptOf(ops);
        const [grouped, alone] = [`r${run}g`, `r${run}s`];
        for (const tag of [grouped, alone]) {
          for (let i = 0; i < USERS; i += 1) for (const a of ASSETS_USED) await fund(h, localize(userId(i), tag), a, amountOf(a, STARTING_UNITS));
        }

        const groupedOutcomes = await applyInGroups(script, grouped, groupMax);
        const aloneOutcomes = await applyOneByOne(script, alone);

        expect(groupedOutcomes).toEqual(aloneOutcomes);
        expect(await stateOf(grouped)).toEqual(await stateOf(alone));
        expect(await verify(h)).toMatchObject({ ok: true });
      }),
      { numRuns: RUNS },
    );
  });
});
