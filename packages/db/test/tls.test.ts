import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { createTestCertificates, type TestCertificates } from '@orrange/testing';
import { poolConfigFromUrl } from '../src';

/** The SSLRequest code of the Postgres protocol: the first 8 bytes a client sends before TLS. */
const SSL_REQUEST_CODE = 80877103;
const HANDSHAKE_DONE = 'tls handshake done: the test server stops here';

/**
 * A server that speaks the start of the Postgres protocol over TLS: it accepts the SSLRequest, completes the
 * handshake with the given certificate, then answers the startup message with a FATAL error naming that, so a
 * client's error says how far it got. The machine's Postgres has TLS off (and is shared), so the mapping of
 * sslmode to Node's TLS options is exercised here against a real handshake, with real certificates.
 */
async function startTlsServer(certificates: TestCertificates): Promise<{ port: number; close(): Promise<void> }> {
  const secureContext = tls.createSecureContext({
    cert: readFileSync(certificates.certFile),
    key: readFileSync(certificates.keyFile),
  });
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('data', (request) => {
      if (request.length !== 8 || request.readInt32BE(4) !== SSL_REQUEST_CODE) return socket.destroy();
      socket.write('S');
      const secure = new tls.TLSSocket(socket, { isServer: true, secureContext });
      secure.on('error', () => undefined);
      secure.once('data', () => secure.end(errorResponse(HANDSHAKE_DONE)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function errorResponse(message: string): Buffer {
  const fields = Buffer.concat([
    Buffer.from('SFATAL\0'),
    Buffer.from('C28000\0'),
    Buffer.from(`M${message}\0`),
    Buffer.from('\0'),
  ]);
  const header = Buffer.alloc(5);
  header.write('E', 0);
  header.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([header, fields]);
}

async function connectError(url: string): Promise<string> {
  const client = new pg.Client({ ...poolConfigFromUrl(url), connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return 'connected';
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

describe('Postgres connections over TLS (sslmode)', () => {
  let certificates: TestCertificates;
  let otherCa: TestCertificates;
  let server: Awaited<ReturnType<typeof startTlsServer>>;

  beforeAll(async () => {
    // The certificate names localhost only: 127.0.0.1 is then a host name it does not hold.
    certificates = createTestCertificates(['DNS:localhost']);
    otherCa = createTestCertificates(['DNS:localhost']);
    server = await startTlsServer(certificates);
  });

  afterAll(async () => {
    await server?.close();
    certificates?.remove();
    otherCa?.remove();
  });

  const url = (host: string, query: string) => `postgresql://app:secret@${host}:${server.port}/orrange?${query}`;

  it('when sslmode=verify-full names the CA that signed the server, then the handshake completes and the client goes on to log in', async () => {
    expect(await connectError(url('localhost', `sslmode=verify-full&sslrootcert=${certificates.caFile}`))).toBe(
      HANDSHAKE_DONE,
    );
  });

  it('when the server certificate was signed by another CA, or by none the system trusts, then verify-full refuses it before sending anything', async () => {
    expect(await connectError(url('localhost', `sslmode=verify-full&sslrootcert=${otherCa.caFile}`))).toMatch(
      /self[- ]signed|unable to (verify|get local issuer)/,
    );
    expect(await connectError(url('localhost', 'sslmode=verify-full'))).toMatch(
      /self[- ]signed|unable to (verify|get local issuer)/,
    );
    expect(await connectError(url('localhost', 'sslmode=require'))).toMatch(
      /self[- ]signed|unable to (verify|get local issuer)/,
    );
  });

  it('when the certificate does not name the host connected to, then verify-full refuses it and verify-ca (chain only) accepts it', async () => {
    expect(await connectError(url('127.0.0.1', `sslmode=verify-full&sslrootcert=${certificates.caFile}`))).toMatch(
      /Hostname\/IP does not match certificate's altnames|IP: 127\.0\.0\.1 is not in the cert's list/,
    );
    expect(await connectError(url('127.0.0.1', `sslmode=verify-ca&sslrootcert=${certificates.caFile}`))).toBe(
      HANDSHAKE_DONE,
    );
  });
});

describe('poolConfigFromUrl: sslmode', () => {
  it('when no sslmode or sslmode=disable is given, then the connection is plaintext', () => {
    expect(poolConfigFromUrl('postgresql://postgres@127.0.0.1:5432/orrange').ssl).toBeUndefined();
    expect(poolConfigFromUrl('postgresql://postgres@127.0.0.1:5432/orrange?sslmode=disable').ssl).toBeUndefined();
  });

  it('when sslmode would fall back to plaintext (allow, prefer) or is unknown, then it is refused by name', () => {
    for (const mode of ['allow', 'prefer', 'verify_full']) {
      expect(() => poolConfigFromUrl(`postgresql://db/orrange?sslmode=${mode}`)).toThrow(
        new RegExp(`sslmode=${mode} is not supported`),
      );
    }
  });

  it('when any TLS mode is given, then certificate verification is never turned off', () => {
    for (const mode of ['require', 'verify-ca', 'verify-full']) {
      const ssl = poolConfigFromUrl(`postgresql://db/orrange?sslmode=${mode}&sslrootcert=system`).ssl;
      expect(ssl).toBeInstanceOf(Object);
      expect(ssl).not.toHaveProperty('rejectUnauthorized');
    }
    expect(poolConfigFromUrl('postgresql://db/orrange?sslmode=verify-full').ssl).toEqual({});
  });

  it('when a root certificate file cannot be read, or a client certificate comes without its key, then the error names the setting', () => {
    expect(() =>
      poolConfigFromUrl('postgresql://db/orrange?sslmode=verify-full&sslrootcert=/nonexistent/root.crt'),
    ).toThrow(/DATABASE_URL sslrootcert: cannot read \/nonexistent\/root\.crt \(ENOENT\)/);
    expect(() => poolConfigFromUrl(`postgresql://db/orrange?sslmode=verify-full&sslcert=${__filename}`)).toThrow(
      /sslcert and sslkey go together/,
    );
  });
});
