import { baseServiceSchema, loadConfig } from './index';
import { redactUrl } from './connection-security';
import { editPostgresUrl, firstHostOnly, hostsOf, isPostgresUrl } from './postgres-url';

describe('postgres URLs with several hosts (failover)', () => {
  const url = 'postgresql://app:s%40cret@db-a:5432,db-b:5433,[::1]/orrange?sslmode=disable';

  it('when a URL lists several hosts, then each is read in order, port 5432 when none is given', () => {
    expect(hostsOf(url)).toEqual([
      { host: 'db-a', port: 5432 },
      { host: 'db-b', port: 5433 },
      { host: '::1', port: 5432 },
    ]);
    expect(hostsOf('postgresql://postgres@127.0.0.1/orrange')).toEqual([{ host: '127.0.0.1', port: 5432 }]);
  });

  it('when a tool needs one server, then the first host stands for the list', () => {
    expect(firstHostOnly(url)).toBe('postgresql://app:s%40cret@db-a:5432/orrange?sslmode=disable');
  });

  it('when a URL with several hosts is edited or redacted, then the host list is kept', () => {
    expect(
      editPostgresUrl(url, (u) => {
        u.pathname = '/postgres';
      }),
    ).toBe('postgresql://app:s%40cret@db-a:5432,db-b:5433,[::1]/postgres?sslmode=disable');
    expect(redactUrl(url)).toBe('postgresql://app:***@db-a:5432,db-b:5433,[::1]/orrange?sslmode=disable');
  });

  it('when DATABASE_URL lists several hosts, then the config accepts it, and refuses a host that does not parse', () => {
    expect(loadConfig(baseServiceSchema, { DATABASE_URL: url }).DATABASE_URL).toBe(url);
    expect(isPostgresUrl('postgresql://postgres@db-a:5432,db-b:99999/orrange')).toBe(false);
    expect(isPostgresUrl('mysql://db/orrange')).toBe(false);
    expect(() => loadConfig(baseServiceSchema, { DATABASE_URL: 'postgresql://postgres@db-a:5432,:x/orrange' })).toThrow(
      /DATABASE_URL/,
    );
  });
});
