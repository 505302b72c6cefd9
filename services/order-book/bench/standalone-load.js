// Fixed-rate (open-loop) load against a RUNNING order-book process, from another process: BUY orders in
// BTC/USD plus one book read per five orders. Usage: node bench/standalone-load.js <port> <rate/s> <seconds> <INTERNAL_TOKEN_SECRET>
// (build first: pnpm --filter @orrange/order-book run build; seed some asks so that orders cross).
const http = require('node:http');
const { signIdentity } = require('@orrange/http');
const [port, rate, seconds, secret] = [
  Number(process.argv[2]),
  Number(process.argv[3]),
  Number(process.argv[4]),
  process.argv[5],
];
const ids = Array.from({ length: 100 }, (_, i) =>
  signIdentity({ userId: `load-${i}`, roles: ['user'], scopes: null, via: 'jwt' }, secret),
);
const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
const readAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const call = (method, path, body, headers = {}) =>
  new Promise((resolve) => {
    const payload = body ? JSON.stringify(body) : undefined;
    const t0 = performance.now();
    const req = http.request(
      {
        port,
        path,
        method,
        agent: method === 'GET' ? readAgent : agent,
        headers: {
          'content-type': 'application/json',
          ...headers,
          ...(payload ? { 'content-length': Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode < 300 ? performance.now() - t0 : -1));
      },
    );
    req.on('error', () => resolve(-1));
    req.end(payload);
  });
const pct = (a, p) => a[Math.min(a.length - 1, Math.floor((p / 100) * a.length))];
(async () => {
  const places = [],
    reads = [];
  let pe = 0,
    re = 0;
  const pending = [];
  const start = performance.now();
  const total = rate * seconds;
  for (let i = 0; i < total; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const price = (95 + ((i * 7919) % 1000) / 100).toFixed(2);
    pending.push(
      call(
        'POST',
        '/api/v1/orders',
        { side: 'BUY', asset: 'BTC', fiatCurrency: 'USD', price, amount: '0.01', paymentMethods: ['SEPA'] },
        { 'x-orrange-identity': ids[i % 100] },
      ).then((ms) => (ms < 0 ? pe++ : places.push(ms))),
    );
    if (i % 5 === 0)
      pending.push(
        call('GET', '/api/v1/orderbook?asset=BTC&fiatCurrency=USD&depth=20').then((ms) =>
          ms < 0 ? re++ : reads.push(ms),
        ),
      );
  }
  await Promise.all(pending);
  const s = (performance.now() - start) / 1000;
  for (const [n, a, e] of [
    ['place', places, pe],
    ['book', reads, re],
  ]) {
    a.sort((x, y) => x - y);
    console.log(
      `${n}: ${a.length} ok ${e} err ${(a.length / s).toFixed(0)}/s p50 ${pct(a, 50).toFixed(1)} p99 ${pct(a, 99).toFixed(1)} max ${a[a.length - 1].toFixed(1)} ms`,
    );
  }
  agent.destroy();
  readAgent.destroy();
})();
