/**
 * The development data `pnpm db:seed` adds outside production: people with wallets and payment methods, ads in
 * several markets, one trade in each state and disputes, for a newcomer to explore through the API or `/docs`.
 *
 * Everything goes through the public API, as a client would: the services' own code registers the users, credits
 * the wallets (the development faucet), matches, escrows, moves the trades and resolves the dispute, so the data
 * obeys every invariant the services keep (ledger, outbox, reputation) and nothing writes another service's tables.
 *
 * Idempotent: each piece is looked up before it is made (a user by logging in, a wallet by its balances, an ad and
 * its trade by the ad's `terms`), and a trade is moved on from whatever state it is in towards its target, so a
 * second run changes nothing and a run cut short is completed by the next one.
 */
import { OperatorError } from './infra';

/** Every development user's password (printed by the seed; the accounts exist only outside production). */
export const DEV_USER_PASSWORD = 'orrange-dev-password';
const EMAIL_DOMAIN = 'orrange.local';
/** Ads and trades of the seed carry this in their terms, which is how a later run finds them. */
const TAG = '[dev seed]';
/** How long to wait for an effect that travels through the queues (a dispute case, a resolution). */
const EVENTUAL_TIMEOUT_MS = 20_000;
/** A bound on the steps that move one trade to its target (each step is one transition). */
const TRADE_STEPS_MAX = 6;

type TradeState = 'AWAITING_PAYMENT' | 'PAID' | 'COMPLETED' | 'CANCELLED' | 'DISPUTED' | 'RESOLVED';

interface Person {
  name: string;
  /** Faucet deposits made once, when the wallet is still empty. */
  deposits: Array<[asset: string, amount: string]>;
  paymentMethods: Array<{ type: string; label: string; details: Record<string, string> }>;
  arbitrator?: boolean;
}

const PEOPLE: Person[] = [
  {
    name: 'alice',
    deposits: [
      ['BTC', '3.00000000'],
      ['ETH', '40.00000000'],
    ],
    paymentMethods: [
      {
        type: 'SEPA',
        label: 'Alice EUR account',
        details: { iban: 'DE89370400440532013000', holder: 'Alice Example' },
      },
    ],
  },
  {
    name: 'bob',
    deposits: [['USDT', '500.000000']],
    paymentMethods: [{ type: 'MPESA', label: 'Bob M-Pesa', details: { phone: '+254700000001' } }],
  },
  {
    name: 'carol',
    deposits: [
      ['USDT', '20000.000000'],
      ['USDC', '10000.000000'],
    ],
    paymentMethods: [
      { type: 'BANK_TRANSFER', label: 'Carol NGN account', details: { bank: 'Example Bank', account: '0123456789' } },
      { type: 'Wise', label: 'Carol Wise', details: { email: 'carol@wise.example' } },
    ],
  },
  {
    name: 'dave',
    deposits: [['BTC', '0.25000000']],
    paymentMethods: [
      {
        type: 'SEPA',
        label: 'Dave EUR account',
        details: { iban: 'FR1420041010050500013M02606', holder: 'Dave Example' },
      },
    ],
  },
  { name: 'erin', deposits: [], paymentMethods: [], arbitrator: true },
];

interface Ad {
  terms: string;
  maker: string;
  side: 'BUY' | 'SELL';
  asset: string;
  fiatCurrency: string;
  price: string;
  amount: string;
  paymentMethods: string[];
}

/** Open ads, in markets of their own so that none crosses another. */
const ADS: Ad[] = [
  {
    terms: `${TAG} BTC for dollars, SEPA or Wise`,
    maker: 'alice',
    side: 'SELL',
    asset: 'BTC',
    fiatCurrency: 'USD',
    price: '64000.00',
    amount: '0.50000000',
    paymentMethods: ['SEPA', 'Wise'],
  },
  {
    terms: `${TAG} ETH for euros by SEPA`,
    maker: 'alice',
    side: 'SELL',
    asset: 'ETH',
    fiatCurrency: 'EUR',
    price: '3100.00',
    amount: '5.00000000',
    paymentMethods: ['SEPA'],
  },
  {
    terms: `${TAG} USDT for naira by bank transfer`,
    maker: 'carol',
    side: 'SELL',
    asset: 'USDT',
    fiatCurrency: 'NGN',
    price: '1600.00',
    amount: '5000.000000',
    paymentMethods: ['BANK_TRANSFER'],
  },
  {
    terms: `${TAG} USDC for pounds by Wise`,
    maker: 'carol',
    side: 'SELL',
    asset: 'USDC',
    fiatCurrency: 'GBP',
    price: '0.79',
    amount: '2000.000000',
    paymentMethods: ['Wise'],
  },
  {
    terms: `${TAG} buying BTC with euros`,
    maker: 'dave',
    side: 'BUY',
    asset: 'BTC',
    fiatCurrency: 'EUR',
    price: '58000.00',
    amount: '0.10000000',
    paymentMethods: ['SEPA'],
  },
  {
    terms: `${TAG} buying USDT with shillings`,
    maker: 'bob',
    side: 'BUY',
    asset: 'USDT',
    fiatCurrency: 'KES',
    price: '129.00',
    amount: '300.000000',
    paymentMethods: ['MPESA'],
  },
];

interface TradeScenario {
  target: TradeState;
  /** The ad the buyer takes whole: one trade per ad. */
  ad: Ad;
  buyer: string;
}

const scenario = (target: TradeState, buyer: string, ad: Omit<Ad, 'terms' | 'side'>): TradeScenario => ({
  target,
  buyer,
  // A day's window: the unpaid trade stays unpaid for a day after the seed, then expires as any would.
  ad: { ...ad, side: 'SELL', terms: `${TAG} trade ${target.toLowerCase()}` },
});

const TRADES: TradeScenario[] = [
  scenario('AWAITING_PAYMENT', 'bob', {
    maker: 'alice',
    asset: 'BTC',
    fiatCurrency: 'USD',
    price: '64000.00',
    amount: '0.01000000',
    paymentMethods: ['SEPA'],
  }),
  scenario('PAID', 'dave', {
    maker: 'carol',
    asset: 'USDT',
    fiatCurrency: 'NGN',
    price: '1600.00',
    amount: '100.000000',
    paymentMethods: ['BANK_TRANSFER'],
  }),
  scenario('COMPLETED', 'dave', {
    maker: 'alice',
    asset: 'BTC',
    fiatCurrency: 'USD',
    price: '64000.00',
    amount: '0.02000000',
    paymentMethods: ['SEPA'],
  }),
  scenario('CANCELLED', 'bob', {
    maker: 'carol',
    asset: 'USDC',
    fiatCurrency: 'GBP',
    price: '0.79',
    amount: '50.000000',
    paymentMethods: ['Wise'],
  }),
  scenario('DISPUTED', 'bob', {
    maker: 'alice',
    asset: 'ETH',
    fiatCurrency: 'EUR',
    price: '3100.00',
    amount: '1.00000000',
    paymentMethods: ['SEPA'],
  }),
  scenario('RESOLVED', 'bob', {
    maker: 'carol',
    asset: 'USDT',
    fiatCurrency: 'NGN',
    price: '1600.00',
    amount: '200.000000',
    paymentMethods: ['BANK_TRANSFER'],
  }),
];

interface Answer {
  status: number;
  body: any;
}

/** A client of the gateway acting as one user (or nobody). */
class Client {
  constructor(
    private readonly baseUrl: string,
    private readonly token?: string,
  ) {}

  as(token: string): Client {
    return new Client(this.baseUrl, token);
  }

  async send(method: string, path: string, body?: unknown): Promise<Answer> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  /** A request that must answer one of `expected`; anything else stops the seed with what the API said. */
  async expect(expected: number[], method: string, path: string, body?: unknown): Promise<Answer> {
    const answer = await this.send(method, path, body);
    if (!expected.includes(answer.status))
      throw new OperatorError(`seed: ${method} ${path} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    return answer;
  }
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + EVENTUAL_TIMEOUT_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new OperatorError(`seed: ${what} did not happen within ${EVENTUAL_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export interface DevDataSummary {
  users: string[];
  created: string[];
}

/** Writes the development data through the gateway at `gatewayUrl`; `admin` signs in to grant the arbitrator role. */
export async function seedDevelopmentData(
  gatewayUrl: string,
  admin: { email: string; password: string },
): Promise<DevDataSummary> {
  const anonymous = new Client(gatewayUrl);
  const created: string[] = [];
  const users = new Map<string, Client>();
  const adminClient = anonymous.as(
    (await anonymous.expect([200], 'POST', '/api/v1/auth/login', admin)).body.accessToken,
  );

  for (const person of PEOPLE) users.set(person.name, await ensurePerson(anonymous, adminClient, person, created));
  const user = (name: string) => users.get(name)!;

  for (const ad of ADS) await ensureAd(user(ad.maker), ad, created);
  for (const trade of TRADES) await ensureTrade(user(trade.ad.maker), user(trade.buyer), user('erin'), trade, created);
  return { users: PEOPLE.map((p) => `${p.name}@${EMAIL_DOMAIN}`), created };
}

async function ensurePerson(anonymous: Client, admin: Client, person: Person, created: string[]): Promise<Client> {
  const email = `${person.name}@${EMAIL_DOMAIN}`;
  const credentials = { email, password: DEV_USER_PASSWORD };
  let login = await anonymous.expect([200, 401], 'POST', '/api/v1/auth/login', credentials);
  if (login.status === 401) {
    const registered = await anonymous.send('POST', '/api/v1/auth/register', { ...credentials, username: person.name });
    if (registered.status === 409)
      throw new OperatorError(
        `seed: ${email} (or the username ${person.name}) belongs to an account whose password is not the development one; db:reset starts over`,
      );
    if (registered.status !== 201)
      throw new OperatorError(
        `seed: registering ${email} answered ${registered.status}: ${JSON.stringify(registered.body)}`,
      );
    created.push(`user ${email}`);
    login = registered;
  }
  let client = anonymous.as(login.body.accessToken);
  const me = (await client.expect([200], 'GET', '/api/v1/users/me')).body;

  if (person.arbitrator && !me.roles.includes('arbitrator')) {
    await admin.expect([200], 'PATCH', `/api/v1/admin/users/${me.id}/roles`, { roles: [...me.roles, 'arbitrator'] });
    // Roles travel in the access token: sign in again to act with the new one.
    client = anonymous.as((await anonymous.expect([200], 'POST', '/api/v1/auth/login', credentials)).body.accessToken);
    created.push(`role arbitrator for ${email}`);
  }

  const methods = (await client.expect([200], 'GET', '/api/v1/users/me/payment-methods')).body.data as Array<{
    label: string;
  }>;
  for (const method of person.paymentMethods.filter((m) => !methods.some((existing) => existing.label === m.label))) {
    await client.expect([201], 'POST', '/api/v1/users/me/payment-methods', method);
    created.push(`payment method ${method.label}`);
  }

  const balances = (await client.expect([200], 'GET', '/api/v1/wallet/balances')).body.data as Array<
    Record<string, string>
  >;
  const empty = balances.every((b) =>
    [b.available, b.held, b.inEscrow].every((amount) => /^0(\.0*)?$/.test(amount ?? '0')),
  );
  if (empty) {
    for (const [asset, amount] of person.deposits) {
      await client.expect([201], 'POST', '/api/v1/wallet/deposits', { asset, amount });
      created.push(`deposit ${amount} ${asset} for ${email}`);
    }
  }
  return client;
}

/** The maker's order with these terms, whatever its status (the seed's ads are never edited). */
async function findAd(maker: Client, terms: string): Promise<{ id: string; status: string } | undefined> {
  let cursor: string | undefined;
  do {
    const page = (
      await maker.expect(
        [200],
        'GET',
        `/api/v1/orders/mine?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      )
    ).body;
    const ad = (page.data as Array<{ id: string; status: string; terms: string | null }>).find(
      (order) => order.terms === terms,
    );
    if (ad) return ad;
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return undefined;
}

async function ensureAd(maker: Client, ad: Ad, created: string[]): Promise<string> {
  const existing = await findAd(maker, ad.terms);
  if (existing) return existing.id;
  const { terms, side, asset, fiatCurrency, price, amount, paymentMethods } = ad;
  const placed = await maker.expect([201], 'POST', '/api/v1/orders', {
    side,
    asset,
    fiatCurrency,
    price,
    amount,
    paymentMethods,
    terms,
    paymentWindowMinutes: 1440,
  });
  if (placed.body.fills?.length)
    throw new OperatorError(`seed: the ad "${terms}" matched an order already in the book; db:reset starts over`);
  created.push(`ad ${side} ${amount} ${asset}/${fiatCurrency} @ ${price}`);
  return placed.body.order.id as string;
}

interface Trade {
  id: string;
  status: TradeState;
  sellOrderId: string;
}

async function findTrade(buyer: Client, sellOrderId: string): Promise<Trade | undefined> {
  let cursor: string | undefined;
  do {
    const page = (
      await buyer.expect(
        [200],
        'GET',
        `/api/v1/trades?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      )
    ).body;
    const trade = (page.data as Trade[]).find((t) => t.sellOrderId === sellOrderId);
    if (trade) return trade;
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return undefined;
}

/** The next transition on the way to `target`, by whom, or undefined once there (or nowhere further to go). */
function nextStep(
  status: TradeState,
  target: TradeState,
): 'pay' | 'cancel' | 'release' | 'dispute' | 'resolve' | undefined {
  if (status === target) return undefined;
  switch (status) {
    case 'AWAITING_PAYMENT':
      return target === 'CANCELLED' ? 'cancel' : 'pay';
    case 'PAID':
      return target === 'COMPLETED' ? 'release' : 'dispute';
    case 'DISPUTED':
      return target === 'RESOLVED' ? 'resolve' : undefined;
    default:
      return undefined;
  }
}

async function ensureTrade(
  seller: Client,
  buyer: Client,
  arbitrator: Client,
  scenario: TradeScenario,
  created: string[],
): Promise<void> {
  const adId = await ensureAd(seller, scenario.ad, created);
  let trade: Trade = (await findTrade(buyer, adId)) ?? (await take(buyer, adId, scenario.ad, created));
  for (let steps = 0; steps < TRADE_STEPS_MAX; steps++) {
    const step = nextStep(trade.status, scenario.target);
    if (!step) break;
    await takeStep(step, trade, { seller, buyer, arbitrator });
    trade = await statusAfter(buyer, trade);
    created.push(`trade ${trade.id} → ${trade.status}`);
  }
  if (trade.status !== scenario.target)
    throw new OperatorError(
      `seed: trade ${trade.id} is ${trade.status} and cannot become ${scenario.target} (an expired payment window?); db:reset starts over`,
    );
  if (trade.status === 'COMPLETED') await leaveFeedback(seller, buyer, trade.id);
  if (trade.status === 'PAID') await ensureMessage(buyer, trade.id, 'Sent the transfer just now, reference ORR-SEED.');
}

async function take(buyer: Client, adId: string, ad: Ad, created: string[]): Promise<Trade> {
  await buyer.expect([201], 'POST', `/api/v1/orders/${adId}/take`, {
    amount: ad.amount,
    paymentMethod: ad.paymentMethods[0],
  });
  const trade = await eventually('the taken ad becoming a trade', () => findTrade(buyer, adId));
  created.push(`trade ${trade.id} (${ad.asset}/${ad.fiatCurrency})`);
  return trade;
}

/** The trade once its status is no longer `before.status` (a resolution reaches the trade through an event). */
async function statusAfter(buyer: Client, before: Trade): Promise<Trade> {
  return eventually(`trade ${before.id} leaving ${before.status}`, async () => {
    const now = (await buyer.expect([200], 'GET', `/api/v1/trades/${before.id}`)).body.trade as Trade;
    return now.status === before.status ? undefined : now;
  });
}

async function takeStep(
  step: NonNullable<ReturnType<typeof nextStep>>,
  trade: Trade,
  parties: { seller: Client; buyer: Client; arbitrator: Client },
): Promise<void> {
  const { seller, buyer, arbitrator } = parties;
  switch (step) {
    case 'pay':
      await buyer.expect([200], 'POST', `/api/v1/trades/${trade.id}/paid`);
      return;
    case 'cancel':
      await buyer.expect([200], 'POST', `/api/v1/trades/${trade.id}/cancel`);
      return;
    case 'release':
      await seller.expect([200], 'POST', `/api/v1/trades/${trade.id}/release`);
      return;
    case 'dispute': {
      await buyer.expect([201], 'POST', `/api/v1/trades/${trade.id}/dispute`, {
        reason: 'I paid by bank transfer two hours ago and the seller does not release.',
      });
      const dispute = await findDispute(buyer, trade.id);
      await buyer.expect([201], 'POST', `/api/v1/disputes/${dispute.id}/evidence`, {
        body: 'Bank transfer receipt attached.',
        attachments: [{ name: 'receipt.pdf', sha256: 'a'.repeat(64) }],
      });
      await arbitrator.expect([200], 'POST', `/api/v1/disputes/${dispute.id}/assign`, {});
      return;
    }
    case 'resolve': {
      const dispute = await findDispute(buyer, trade.id);
      if (!dispute.arbitratorId) await arbitrator.expect([200], 'POST', `/api/v1/disputes/${dispute.id}/assign`, {});
      if (dispute.status !== 'RESOLVED')
        await arbitrator.expect([200], 'POST', `/api/v1/disputes/${dispute.id}/resolve`, {
          outcome: 'RELEASE_TO_BUYER',
          note: 'The receipt matches the trade; released to the buyer.',
        });
      return;
    }
  }
}

/** The case opened for a trade (created from the trade's event, so it may take a moment). */
async function findDispute(
  party: Client,
  tradeId: string,
): Promise<{ id: string; status: string; arbitratorId: string | null }> {
  return eventually(`the dispute of trade ${tradeId}`, async () => {
    const page = (await party.expect([200], 'GET', '/api/v1/disputes?limit=100')).body;
    return (page.data as Array<{ id: string; tradeId: string; status: string; arbitratorId: string | null }>).find(
      (d) => d.tradeId === tradeId,
    );
  });
}

/** Each party rates the other once; a second rating is refused with 409, which is what a rerun meets. */
async function leaveFeedback(seller: Client, buyer: Client, tradeId: string): Promise<void> {
  await buyer.expect([201, 200, 409], 'POST', `/api/v1/trades/${tradeId}/feedback`, {
    rating: 'POSITIVE',
    comment: 'Fast release, thank you.',
  });
  await seller.expect([201, 200, 409], 'POST', `/api/v1/trades/${tradeId}/feedback`, {
    rating: 'POSITIVE',
    comment: 'Paid on time.',
  });
}

async function ensureMessage(author: Client, tradeId: string, body: string): Promise<void> {
  const messages = (await author.expect([200], 'GET', `/api/v1/trades/${tradeId}/messages?limit=100`)).body
    .data as Array<{ body: string }>;
  if (!messages.some((m) => m.body === body))
    await author.expect([201], 'POST', `/api/v1/trades/${tradeId}/messages`, { body });
}
