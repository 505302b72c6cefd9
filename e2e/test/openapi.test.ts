import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import SwaggerParser from '@apidevtools/swagger-parser';
import { openSse } from '@orrange/testing';
import { Api, newUser, until } from '../src/client';
import { OpenApiChecker } from '../src/openapi-check';
import { startStack, type Stack } from '../src/stack';

describe('end to end: the OpenAPI document', () => {
  let stack: Stack;
  let api: Api;

  const OPERATOR_TOKEN = `operator-${randomUUID()}`;

  beforeAll(async () => {
    stack = await startStack({ env: { OPERATOR_TOKEN } });
    api = new Api(stack.gatewayUrl);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('when /docs/openapi.json is fetched, then it is a valid OpenAPI document covering API.md, and real responses match it', async () => {
    const raw = (await api.get('/docs/openapi.json')).body;
    await SwaggerParser.validate(JSON.parse(JSON.stringify(raw)));
    const doc = await SwaggerParser.dereference(JSON.parse(JSON.stringify(raw)));
    for (const path of [
      '/api/v1/auth/register',
      '/api/v1/auth/login',
      '/api/v1/orders',
      '/api/v1/orderbook',
      '/api/v1/wallet/balances',
      '/api/v1/disputes',
    ]) {
      expect((doc as { paths: Record<string, unknown> }).paths[path]).toBeDefined();
    }
    const checker = new OpenApiChecker(doc as never);
    const call = async (user: Api, method: string, path: string, body?: unknown) => {
      const res = await user.request(method, path, body);
      checker.check(method, path, res.status, res.body);
      return res;
    };

    const seller = await newUser(api, 'oas');
    const buyer = await newUser(api, 'oab');
    await call(seller.api, 'GET', '/api/v1/users/me');
    await call(api, 'GET', `/api/v1/users/${seller.id}`);
    await call(seller.api, 'POST', '/api/v1/wallet/deposits', { asset: 'BTC', amount: '1.00000000' });
    await call(seller.api, 'POST', '/api/v1/wallet/deposits', { asset: 'BTC', amount: 1 });
    await call(seller.api, 'GET', '/api/v1/wallet/balances');
    const method = await call(seller.api, 'POST', '/api/v1/users/me/payment-methods', {
      type: 'SEPA',
      label: 'Main account',
      details: { iban: 'DE89370400440532013000' },
    });
    const order = await call(seller.api, 'POST', '/api/v1/orders', {
      side: 'SELL',
      asset: 'BTC',
      fiatCurrency: 'USD',
      price: '40000.00',
      amount: '0.50000000',
      paymentMethodIds: [method.body.id],
      minFiat: '10.00',
      maxFiat: '30000.00',
    });
    await until(
      async () => (await seller.api.get(`/api/v1/orders/${order.body.order.id}`)).body.order?.status === 'OPEN',
    );
    await call(api, 'GET', `/api/v1/orders/${order.body.order.id}`);
    await call(api, 'GET', '/api/v1/orders?asset=BTC&fiatCurrency=USD');
    await call(api, 'GET', '/api/v1/orderbook?asset=BTC&fiatCurrency=USD');
    await call(seller.api, 'GET', '/api/v1/orders/mine');
    await call(seller.api, 'PATCH', `/api/v1/orders/${order.body.order.id}`, {
      terms: 'SEPA only',
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    });
    await call(seller.api, 'POST', `/api/v1/orders/${order.body.order.id}/pause`);
    await call(seller.api, 'POST', `/api/v1/orders/${order.body.order.id}/resume`);
    await call(api, 'GET', '/api/v1/markets');
    const buy = await call(buyer.api, 'POST', '/api/v1/orders', {
      side: 'BUY',
      asset: 'BTC',
      fiatCurrency: 'USD',
      price: '40000.00',
      amount: '0.10000000',
      paymentMethods: ['SEPA'],
    });
    const tradeId = buy.body.fills[0].tradeId;
    await until(async () => (await buyer.api.get(`/api/v1/trades/${tradeId}`)).status === 200);
    expect((await call(buyer.api, 'GET', `/api/v1/trades/${tradeId}`)).body.trade.paymentDetails).toMatchObject({
      type: 'SEPA',
      label: 'Main account',
    });
    await call(buyer.api, 'GET', '/api/v1/trades');
    await call(buyer.api, 'POST', `/api/v1/trades/${tradeId}/paid`);
    await call(buyer.api, 'POST', `/api/v1/trades/${tradeId}/paid`);
    await call(buyer.api, 'POST', `/api/v1/trades/${tradeId}/messages`, { body: 'sent via SEPA' });
    await call(seller.api, 'GET', `/api/v1/trades/${tradeId}/messages`);
    await call(seller.api, 'POST', `/api/v1/trades/${tradeId}/release`);
    await call(buyer.api, 'POST', `/api/v1/trades/${tradeId}/feedback`, { rating: 'POSITIVE' });
    await call(seller.api, 'GET', '/api/v1/wallet/ledger');
    await call(api, 'GET', '/api/v1/stats/markets');
    await call(seller.api, 'DELETE', `/api/v1/orders/${order.body.order.id}`);
    await call(seller.api, 'POST', '/api/v1/users/me/api-keys', { name: 'bot', scopes: ['read'] });
    await call(seller.api, 'GET', '/api/v1/users/me/payment-methods');
    await call(api, 'POST', '/api/v1/auth/login', { email: seller.email, password: 'wrong-password-here' });
    await call(api, 'POST', '/api/v1/auth/refresh', { refreshToken: seller.refreshToken });
    await call(api, 'GET', '/health');
    expect(checker.checked.length).toBeGreaterThan(25);
    expect(checker.bodiesValidated).toBeGreaterThan(20);
  });

  /** The gateway's merged document and each service's own, as the services serve them. */
  async function documents(): Promise<Record<string, Record<string, any>>> {
    // Under load a service's document can miss the gateway's fetch timeout: wait for a document that has them all.
    const merged = await until(async () => {
      const doc = (await api.get('/docs/openapi.json')).body;
      return doc?.['x-unavailable-services']?.length === 0 ? doc : undefined;
    }, 30_000);
    const docs: Record<string, Record<string, any>> = { gateway: merged };
    for (const service of ['user', 'order-book', 'trade-execution', 'dispute'] as const) {
      docs[service] = (await new Api(`http://127.0.0.1:${stack.ports[service]}`).get('/openapi.json')).body;
    }
    return docs;
  }

  type Operation = { method: string; path: string; security: Array<Record<string, unknown>> | undefined };
  const operationsOf = (doc: Record<string, any>): Operation[] =>
    Object.entries(doc.paths as Record<string, Record<string, { security?: Operation['security'] }>>).flatMap(
      ([path, item]) =>
        Object.entries(item).map(([method, op]) => ({ method: method.toUpperCase(), path, security: op.security })),
    );

  it("when every document is linted with redocly's recommended rules (e2e/redocly.yaml), then there is no error, and every operation declares its security", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'orrange-openapi-'));
    try {
      for (const [name, doc] of Object.entries(await documents())) {
        for (const op of operationsOf(doc))
          expect({ op: `${name} ${op.method} ${op.path}`, declared: Array.isArray(op.security) }).toEqual({
            op: `${name} ${op.method} ${op.path}`,
            declared: true,
          });
        // One spelling per group: no two tags alike but for case or punctuation (e.g. `Admin` and `admin`).
        const tagKeys = (doc.tags as Array<{ name: string }>).map((tag) =>
          tag.name.toLowerCase().replace(/[^a-z]/g, ''),
        );
        expect(tagKeys.length).toBeGreaterThan(0);
        expect(new Set(tagKeys).size).toBe(tagKeys.length);
        const file = path.join(dir, `${name}.json`);
        writeFileSync(file, JSON.stringify(doc));
        const { stdout } = await promisify(execFile)(
          path.join(__dirname, '../node_modules/.bin/redocly'),
          ['lint', file, '--config', path.join(__dirname, '../redocly.yaml'), '--format=json'],
          {
            env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
          },
        ).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }));
        const report = JSON.parse(stdout) as {
          totals: { errors: number };
          problems: Array<{ ruleId: string; severity: string; message: string; location: Array<{ pointer: string }> }>;
        };
        const errors = report.problems
          .filter((p) => p.severity === 'error')
          .map((p) => `${name}: ${p.ruleId} ${p.location[0]?.pointer}: ${p.message}`);
        expect(errors).toEqual([]);
        expect(report.totals.errors).toBe(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('when every documented operation is called without credentials and with an API key, then it answers as its declared security says', async () => {
    const user = await newUser(api, 'oasec');
    const apiKey = (
      await user.api.post('/api/v1/users/me/api-keys', { name: 'every-scope', scopes: ['read', 'trade', 'withdraw'] })
    ).body.key as string;
    const ops = operationsOf((await documents()).gateway!);
    expect(ops.length).toBeGreaterThan(40);
    const mismatches: string[] = [];
    for (const op of ops) {
      const url = op.path.replace(/\{[^}]+\}/g, () => randomUUID());
      const body = ['POST', 'PUT', 'PATCH'].includes(op.method) ? {} : undefined;
      const anyone =
        op.security!.length === 0 || op.security!.some((requirement) => Object.keys(requirement).length === 0);
      const acceptsKey = op.security!.some((requirement) => 'apiKey' in requirement);
      const bare = await api.request(op.method, url, body);
      if (anyone ? bare.status === 401 : bare.status !== 401)
        mismatches.push(
          `${op.method} ${op.path} without credentials: ${bare.status} (security ${JSON.stringify(op.security)})`,
        );
      if (anyone || op.security!.some((requirement) => 'operatorToken' in requirement)) continue;
      // A live-update stream answers 200 and stays open: its status is read, then the connection closed.
      const keyed =
        op.path === '/api/v1/stream'
          ? await streamStatus(`${stack.gatewayUrl}${url}`, { 'x-api-key': apiKey })
          : await api.request(op.method, url, body, { 'x-api-key': apiKey });
      const refusedKey = keyed.status === 401 || keyed.body?.code === 'AUTH.SESSION_REQUIRED';
      if (acceptsKey ? refusedKey : ![401, 403].includes(keyed.status))
        mismatches.push(
          `${op.method} ${op.path} with an API key: ${keyed.status} ${keyed.body?.code ?? ''} (security ${JSON.stringify(op.security)})`,
        );
    }
    expect(mismatches).toEqual([]);
  });
});

/** The answer's status and problem code of an event stream, without waiting for a stream that never ends. */
async function streamStatus(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: { code?: string } | undefined }> {
  const stream = await openSse(url, headers);
  stream.close();
  return {
    status: stream.status,
    body: stream.status === 200 ? undefined : (JSON.parse(stream.body) as { code?: string }),
  };
}
