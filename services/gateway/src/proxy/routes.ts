/** The services behind the gateway, by the names /health reports them under. */
export const SERVICES = ['user', 'order-book', 'trade-execution', 'dispute'] as const;
export type ServiceName = (typeof SERVICES)[number];

/**
 * Which service owns which public path (the brief's cross-service contract). A prefix matches itself and
 * anything below it (`/api/v1/orders`, `/api/v1/orders/123`), never a longer word (`/api/v1/ordersx`).
 * Longer prefixes come first so `/api/v1/admin/users` is not shadowed by a shorter one.
 */
const ROUTES: Array<[prefix: string, service: ServiceName]> = [
  ['/api/v1/admin/users', 'user'],
  ['/api/v1/admin/audit', 'user'],
  ['/api/v1/admin/ledger', 'trade-execution'],
  ['/api/v1/admin/stats', 'trade-execution'],
  ['/api/v1/admin/withdrawals', 'trade-execution'],
  ['/api/v1/admin/markets', 'order-book'],
  ['/api/v1/auth', 'user'],
  ['/api/v1/users', 'user'],
  ['/api/v1/orders', 'order-book'],
  ['/api/v1/orderbook', 'order-book'],
  ['/api/v1/markets', 'order-book'],
  ['/api/v1/wallet', 'trade-execution'],
  ['/api/v1/trades', 'trade-execution'],
  ['/api/v1/stats', 'trade-execution'],
  // Custody's signed webhooks: no credentials, the signature over the body is checked by trade-execution.
  ['/api/v1/custody', 'trade-execution'],
  ['/api/v1/disputes', 'dispute'],
];

export function serviceFor(path: string): ServiceName | undefined {
  for (const [prefix, service] of ROUTES) {
    if (path === prefix || path.startsWith(`${prefix}/`)) return service;
  }
  return undefined;
}

/** A bounded label for metrics: the owning service, the gateway's own pages, or `unmatched`. */
export function routeGroupOf(path: string): string {
  const service = serviceFor(path);
  if (service) return service;
  if (path === '/health' || path === '/metrics') return path.slice(1);
  if (path === '/docs' || path.startsWith('/docs/')) return 'docs';
  return 'unmatched';
}
