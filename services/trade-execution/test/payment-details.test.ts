import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { AS_SYSTEM, asUser, type Settings } from '@orrange/db';
import type { Role } from '@orrange/http';
import { keyringFromConfig, sealPaymentMethod } from '@orrange/secrets';
import { fund, openTrades, tradeOpening } from './factories';
import { createHarness, type Harness } from './harness';

/**
 * API.md "Trading essentials", payment details in the trade: open_trades copies the seller's saved payment method,
 * still sealed, when the trade opens; GET /trades/:id shows it to the buyer and the seller while AWAITING_PAYMENT,
 * PAID or DISPUTED, and to the assigned arbitrator and admins, never to anyone else nor in lists; every read by
 * someone other than the seller is audited; later edits or deletes of the saved method leave the trade's copy alone.
 */
describe('payment details in trades', () => {
  let h: Harness;
  const IBAN = 'DE89370400440532013000';

  beforeAll(async () => {
    h = await createHarness();
  });

  afterAll(() => h.close());

  /** A saved payment method as the user service stores it (sealed, AAD of owner and id) in its schema. */
  async function savePaymentMethod(ownerId: string, type: string, label: string, details: unknown): Promise<string> {
    const id = randomUUID();
    const sealed = sealPaymentMethod(keyringFromConfig(h.config), ownerId, id, details);
    await h.testDb.query(
      'INSERT INTO users.payment_methods (id, user_id, type, label, key_id, iv, tag, ciphertext) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
      [id, ownerId, type, label, sealed.keyId, sealed.iv, sealed.tag, sealed.ciphertext],
    );
    return id;
  }

  /** A trade opened by open_trades (as order-book opens it), the seller funding it from AVAILABLE. */
  async function openTrade(sellerId: string, extra: { paymentMethod?: string; paymentMethodIds?: string[] } = {}) {
    await fund(h, sellerId, 'BTC', '0.1');
    const opening = tradeOpening({
      buyerId: randomUUID(),
      sellerId,
      paymentMethod: extra.paymentMethod ?? 'SEPA',
      ...(extra.paymentMethodIds ? { paymentMethodIds: extra.paymentMethodIds } : {}),
    });
    expect(await openTrades(h, [opening])).toEqual(['OK']);
    return opening;
  }

  const read = (tradeId: string, userId: string, roles?: Role[]) =>
    request(h.app).get(`/api/v1/trades/${tradeId}`).set(h.as(userId, roles));
  const auditOf = (tradeId: string) =>
    h.runtime.db.query<{ reader_id: string; reader_role: string }>(
      'SELECT reader_id, reader_role FROM payment_details_reads WHERE trade_id = $1 ORDER BY id',
      [tradeId],
    );
  const setStatus = (tradeId: string, status: string) =>
    h.runtime.db.query('UPDATE trades SET status = $2 WHERE id = $1', [tradeId, status]);

  it("when a seller has a saved method of the trade's type, then the buyer and the seller see its details, and the buyer's read is audited", async () => {
    const seller = randomUUID();
    await savePaymentMethod(seller, 'WIRE', 'Other bank', { iban: 'FR7630006000011234567890189' });
    await savePaymentMethod(seller, 'SEPA', 'Main account', { iban: IBAN, holder: 'Ada Seller' });
    const trade = await openTrade(seller);
    const expected = { type: 'SEPA', label: 'Main account', details: { iban: IBAN, holder: 'Ada Seller' } };
    expect((await read(trade.tradeId, trade.buyerId)).body.trade.paymentDetails).toEqual(expected);
    expect((await read(trade.tradeId, seller)).body.trade.paymentDetails).toEqual(expected);
    expect(await auditOf(trade.tradeId)).toEqual([{ reader_id: trade.buyerId, reader_role: 'buyer' }]);
  });

  it("when the SELL named its saved methods, then the named one of the trade's type is used, whatever else the seller saved", async () => {
    const seller = randomUUID();
    await savePaymentMethod(seller, 'SEPA', 'Not named', { iban: 'NOT-THIS-ONE' });
    const named = await savePaymentMethod(seller, 'SEPA', 'Named', { iban: IBAN });
    const other = await savePaymentMethod(seller, 'REVOLUT', 'Named too', '@ada');
    const trade = await openTrade(seller, { paymentMethodIds: [other, named] });
    expect((await read(trade.tradeId, trade.buyerId)).body.trade.paymentDetails).toEqual({
      type: 'SEPA',
      label: 'Named',
      details: { iban: IBAN },
    });
  });

  it('when a method of another user is named, then it is never used', async () => {
    const seller = randomUUID();
    const foreign = await savePaymentMethod(randomUUID(), 'SEPA', 'Someone else', { iban: 'FOREIGN' });
    const trade = await openTrade(seller, { paymentMethodIds: [foreign] });
    expect((await read(trade.tradeId, trade.buyerId)).body.trade.paymentDetails).toBeNull();
  });

  it("when the seller has no method of the trade's type, then paymentDetails is null", async () => {
    const seller = randomUUID();
    await savePaymentMethod(seller, 'WIRE', 'Wire only', { iban: IBAN });
    const trade = await openTrade(seller);
    expect((await read(trade.tradeId, trade.buyerId)).body.trade).toHaveProperty('paymentDetails', null);
  });

  it('when the saved method is edited or deleted after the trade opened, then the trade keeps its snapshot', async () => {
    const seller = randomUUID();
    const method = await savePaymentMethod(seller, 'SEPA', 'Main', { iban: IBAN });
    const trade = await openTrade(seller);
    await h.testDb.query('DELETE FROM users.payment_methods WHERE id = $1', [method]);
    await savePaymentMethod(seller, 'SEPA', 'New', { iban: 'CHANGED' });
    expect((await read(trade.tradeId, trade.buyerId)).body.trade.paymentDetails.details).toEqual({ iban: IBAN });
  });

  it("shows the details by reader and status as API.md says, and audits every read but the seller's", async () => {
    const seller = randomUUID();
    await savePaymentMethod(seller, 'SEPA', 'Main', { iban: IBAN });
    const trade = await openTrade(seller);
    const arbitrator = randomUUID();
    await h.runtime.db.query('UPDATE trades SET arbitrator_id = $2 WHERE id = $1', [trade.tradeId, arbitrator]);
    const readers: Array<[string, string, Role[]]> = [
      ['buyer', trade.buyerId, ['user']],
      ['seller', seller, ['user']],
      ['assigned arbitrator', arbitrator, ['user', 'arbitrator']],
      ['other arbitrator', randomUUID(), ['user', 'arbitrator']],
      ['admin', randomUUID(), ['user', 'admin']],
      ['stranger', randomUUID(), ['user']],
    ];
    const seen: Record<string, Record<string, boolean | number>> = {};
    for (const status of ['AWAITING_PAYMENT', 'PAID', 'DISPUTED', 'COMPLETED', 'CANCELLED', 'RESOLVED']) {
      await setStatus(trade.tradeId, status);
      seen[status] = {};
      for (const [name, userId, roles] of readers) {
        const res = await read(trade.tradeId, userId, roles);
        seen[status]![name] = res.status === 200 ? 'paymentDetails' in res.body.trade : res.status;
        if (res.status === 200 && 'paymentDetails' in res.body.trade)
          expect(res.body.trade.paymentDetails.details).toEqual({ iban: IBAN });
      }
    }
    const open = {
      buyer: true,
      seller: true,
      'assigned arbitrator': true,
      'other arbitrator': false,
      admin: true,
      stranger: 404,
    };
    const closed = { ...open, buyer: false, seller: false };
    expect(seen).toEqual({
      AWAITING_PAYMENT: open,
      PAID: open,
      DISPUTED: open,
      COMPLETED: closed,
      CANCELLED: closed,
      RESOLVED: closed,
    });
    const audited = await auditOf(trade.tradeId);
    expect(audited.filter((a) => a.reader_role === 'buyer')).toHaveLength(3);
    expect(audited.filter((a) => a.reader_role === 'arbitrator')).toHaveLength(6);
    expect(audited.filter((a) => a.reader_role === 'admin')).toHaveLength(6);
    expect(audited.some((a) => a.reader_id === seller)).toBe(false);
  });

  it('when trades are listed, then no trade carries payment details', async () => {
    const seller = randomUUID();
    await savePaymentMethod(seller, 'SEPA', 'Main', { iban: IBAN });
    const trade = await openTrade(seller);
    const list = await request(h.app).get('/api/v1/trades').set(h.as(trade.buyerId));
    expect(list.body.data).toHaveLength(1);
    expect(list.body.data[0]).not.toHaveProperty('paymentDetails');
  });

  it("when the service reads a trade's details as nobody, or as someone outside the trade, then row-level security shows none, and it writes none", async () => {
    const seller = randomUUID();
    await savePaymentMethod(seller, 'SEPA', 'Main', { iban: IBAN });
    const trade = await openTrade(seller);
    const arbitrator = randomUUID();
    await h.runtime.db.query('UPDATE trades SET arbitrator_id = $2 WHERE id = $1', [trade.tradeId, arbitrator]);
    const seen = async (settings?: Settings) =>
      (
        await (settings ? h.runtime.db.withSettings(settings).primary : h.runtime.db).query(
          'SELECT trade_id FROM trade_payment_details WHERE trade_id = $1',
          [trade.tradeId],
        )
      ).length;
    expect(await seen()).toBe(0);
    expect(await seen(asUser(randomUUID()))).toBe(0);
    for (const reader of [seller, trade.buyerId, arbitrator])
      expect([reader, await seen(asUser(reader))]).toEqual([reader, 1]);
    expect(await seen(AS_SYSTEM)).toBe(1);
    // open_trades writes them as the tables' owner; the service's role, even as the system, changes nothing.
    await h.runtime.db
      .withSettings(AS_SYSTEM)
      .primary.query("UPDATE trade_payment_details SET label = 'forged' WHERE trade_id = $1", [trade.tradeId])
      .catch(() => undefined);
    const [row] = await h.testDb.query<{ label: string }>(
      'SELECT label FROM trade.trade_payment_details WHERE trade_id = $1',
      [trade.tradeId],
    );
    expect(row!.label).toBe('Main');
  });

  it('when every column of every table of the trade schema is read, then the details are nowhere in plaintext', async () => {
    const seller = randomUUID();
    await savePaymentMethod(seller, 'SEPA', 'Main', { iban: IBAN });
    const trade = await openTrade(seller);
    expect((await read(trade.tradeId, trade.buyerId)).body.trade.paymentDetails.details).toEqual({ iban: IBAN });
    const columns = await h.runtime.db.query<{ table_name: string; column_name: string; data_type: string }>(
      "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name) WHERE c.table_schema = 'trade' AND t.table_type = 'BASE TABLE'",
    );
    expect(columns.some((c) => c.table_name === 'trade_payment_details' && c.column_name === 'ciphertext')).toBe(true);
    for (const c of columns) {
      // Text of any type (json, arrays, numbers) as Postgres prints it; bytes searched for the UTF-8 of the IBAN.
      const match =
        c.data_type === 'bytea'
          ? `position(convert_to($1, 'UTF8') IN "${c.column_name}") > 0`
          : `"${c.column_name}"::text LIKE '%' || $1 || '%'`;
      // As the tables' owner: the service's role would see no row of the tables under row-level security.
      const [hit] = await h.testDb.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM trade."${c.table_name}" WHERE ${match}`,
        [IBAN],
      );
      expect({ column: `${c.table_name}.${c.column_name}`, rows: hit!.n }).toEqual({
        column: `${c.table_name}.${c.column_name}`,
        rows: 0,
      });
    }
  });
});
