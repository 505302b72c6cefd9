/**
 * The one registry of the stack's processes: each service's name (its folder under services/), Postgres schema,
 * default port, the gateway variable that lists its URLs, and the Postgres role it connects as with the variable
 * holding that role's password (see database-roles.ts). The services' configs, the gateway's defaults, the
 * root scripts, the benchmark and the tests read it from here. (docker-compose.yml and infra/prometheus repeat
 * the ports, being YAML.)
 */
export const SERVICES = [
  {
    name: 'user',
    schema: 'users',
    port: 3001,
    urlVar: 'USER_SERVICE_URLS',
    dbRole: 'orrange_user',
    dbPasswordVar: 'USER_DB_PASSWORD',
  },
  {
    name: 'order-book',
    schema: 'order_book',
    port: 3002,
    urlVar: 'ORDER_BOOK_SERVICE_URLS',
    dbRole: 'orrange_order_book',
    dbPasswordVar: 'ORDER_BOOK_DB_PASSWORD',
  },
  {
    name: 'trade-execution',
    schema: 'trade',
    port: 3003,
    urlVar: 'TRADE_SERVICE_URLS',
    dbRole: 'orrange_trade',
    dbPasswordVar: 'TRADE_DB_PASSWORD',
  },
  {
    name: 'dispute',
    schema: 'dispute',
    port: 3004,
    urlVar: 'DISPUTE_SERVICE_URLS',
    dbRole: 'orrange_dispute',
    dbPasswordVar: 'DISPUTE_DB_PASSWORD',
  },
] as const;

/**
 * The public entry point, started after the services. `nodeOptions`: its young generation kept at 2 × 4 MB (V8's
 * default on a large machine: 2 × 16 MB). Its garbage is per request and short-lived, so the smaller space means
 * more frequent scavenges of about as many live objects (their cost was within the machine's noise on 2026-12-04),
 * and it took 10-20 MB off the gateway's memory: 189-194 -> 171 MB under order load, 269-274 -> 251-265 MB with
 * 10,000 held client connections (the target is 256). docker-compose.yml sets the same for its gateway.
 */
export const GATEWAY = { name: 'gateway', port: 8080, nodeOptions: '--max-semi-space-size=4' } as const;

export type ServiceInfo = (typeof SERVICES)[number];
export type ServiceName = ServiceInfo['name'];

/** A service's entry, typed by its name (so `serviceInfo('order-book').schema` is `'order_book'`). */
export function serviceInfo<N extends ServiceName>(name: N): Extract<ServiceInfo, { name: N }> {
  return SERVICES.find((service) => service.name === name) as Extract<ServiceInfo, { name: N }>;
}

/** Where the gateway finds a service when nothing says otherwise: on this host, at its default port. */
export function defaultServiceUrl(name: ServiceName): string {
  return `http://127.0.0.1:${serviceInfo(name).port}`;
}
