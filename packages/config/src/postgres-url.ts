export interface HostPort {
  host: string;
  port: number;
}

/** Scheme and credentials, the host list, then path and query: `postgresql://user@h1:5432,h2:5433/db?x`. */
const URL_PARTS = /^(postgres(?:ql)?:\/\/(?:[^@/?#]*@)?)([^/?#]*)(.*)$/s;

/**
 * The servers a postgres URL names, in order. Like libpq's, a URL may list several (`h1:5432,h2:5433`): a
 * service's primary pool connects to the first of them that accepts writes (@orrange/db failover.ts). WHATWG's
 * URL parses one host only, so everything else reads a postgres URL through `firstHostOnly`.
 */
export function hostsOf(url: string): HostPort[] {
  const list = URL_PARTS.exec(url)?.[2] ?? '';
  return list.split(',').map((entry) => {
    const parsed = new URL(`postgresql://${entry}`);
    // An IPv6 address is bracketed in a URL, never in a host name given to a socket.
    const host = decodeURIComponent(parsed.hostname).replace(/^\[(.*)\]$/, '$1');
    return { host: host || '127.0.0.1', port: parsed.port ? Number(parsed.port) : 5432 };
  });
}

/** The URL with its first host only (tools that connect once: migrations, seeding, db:health). */
export function firstHostOnly(url: string): string {
  const parts = URL_PARTS.exec(url);
  return parts ? `${parts[1]}${parts[2]!.split(',')[0]}${parts[3]}` : url;
}

/** `edit` applied to the URL's first-host form, the host list then put back (withDatabase, redactUrl). */
export function editPostgresUrl(url: string, edit: (parsed: URL) => void): string {
  const hosts = URL_PARTS.exec(url)?.[2] ?? '';
  const parsed = new URL(firstHostOnly(url));
  edit(parsed);
  const single = parsed.toString();
  return hosts.includes(',')
    ? single.replace(URL_PARTS, (_all, head: string, _host: string, tail: string) => `${head}${hosts}${tail}`)
    : single;
}

/** A postgres:// URL whose every host parses. */
export function isPostgresUrl(url: string): boolean {
  try {
    return URL_PARTS.test(url) && hostsOf(url).length > 0 && new URL(firstHostOnly(url)) instanceof URL;
  } catch {
    return false;
  }
}
