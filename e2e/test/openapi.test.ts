import SwaggerParser from '@apidevtools/swagger-parser';
import { Api, newUser, until } from '../src/client';
import { OpenApiChecker } from '../src/openapi-check';
import { startStack, type Stack } from '../src/stack';

describe('end to end: the OpenAPI document', () => {
  let stack: Stack;
  let api: Api;

  beforeAll(async () => {
    stack = await startStack();
    api = new Api(stack.gatewayUrl);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('when /docs/openapi.json is fetched, then it is a valid OpenAPI document covering API.md, and real responses match it', async () => {
    const raw = (await api.get('/docs/openapi.json')).body;
    await SwaggerParser.validate(JSON.parse(JSON.stringify(raw)));
    const doc = await SwaggerParser.dereference(JSON.parse(JSON.stringify(raw)));
    for (const path of ['/api/v1/auth/register', '/api/v1/auth/login', '/api/v1/orders', '/api/v1/orderbook', '/api/v1/wallet/balances', '/api/v1/disputes']) {
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
    const order = await call(seller.api, 'POST', '/api/v1/orders', { side: 'SELL', asset: 'BTC', fiatCurrency: 'USD', price: '40000.00', amount: '0.50000000', paymentMethods: ['SEPA'] });
    await until(async () => (await seller.api.get(`/api/v1/orders/${order.body.order.id}`)).body.order?.status === 'OPEN');
    await call(api, 'GET', `/api/v1/orders/${order.body.order.id}`);
    await call(api, 'GET', '/api/v1/orders?asset=BTC&fiatCurrency=USD');
    await call(api, 'GET', '/api/v1/orderbook?asset=BTC&fiatCurrency=USD');
    await call(seller.api, 'GET', '/api/v1/orders/mine');
    const buy = await call(buyer.api, 'POST', '/api/v1/orders', { side: 'BUY', asset: 'BTC', fiatCurrency: 'USD', price: '40000.00', amount: '0.10000000', paymentMethods: ['SEPA'] });
    const tradeId = buy.body.fills[0].tradeId;
    await until(async () => (await buyer.api.get(`/api/v1/trades/${tradeId}`)).status === 200);
    await call(buyer.api, 'GET', `/api/v1/trades/${tradeId}`);
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
    await call(seller.api, 'POST', '/api/v1/users/me/payment-methods', { type: 'SEPA', label: 'Main account', details: { iban: 'DE89370400440532013000' } });
    await call(seller.api, 'GET', '/api/v1/users/me/payment-methods');
    await call(api, 'POST', '/api/v1/auth/login', { email: seller.email, password: 'wrong-password-here' });
    await call(api, 'POST', '/api/v1/auth/refresh', { refreshToken: seller.refreshToken });
    await call(api, 'GET', '/health');
    expect(checker.checked.length).toBeGreaterThan(25);
    expect(checker.bodiesValidated).toBeGreaterThan(20);
  });
});
