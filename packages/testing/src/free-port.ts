import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Where ports are picked: below the kernel's ephemeral range (see belowEphemeral). */
const LOWEST_PORT = 20_000;
const ATTEMPTS = 50;

/**
 * A free TCP port on loopback, released just before the caller binds it. It is picked below the kernel's
 * ephemeral range: a port from that range (what listen(0) returns) can be handed, in the second before the
 * caller binds it, to any other process that listens on port 0 or connects out, and a test suite running beside
 * this one once took a stack's service port that way (its own server then answered the stack's /health, and the
 * gateway sent requests to it). Below the range only another explicit pick like this one can take it.
 */
export async function freePort(): Promise<number> {
  const highest = ephemeralStart() - 1;
  for (let attempt = 0; attempt < ATTEMPTS && highest > LOWEST_PORT; attempt++) {
    const port = LOWEST_PORT + Math.floor(Math.random() * (highest - LOWEST_PORT));
    if (await bindable(port)) return port;
  }
  return anyPort();
}

/** The first port of the kernel's ephemeral range (Linux), or the IANA default elsewhere. */
function ephemeralStart(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    return Number(low) || 49_152;
  } catch {
    return 49_152;
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** The OS's pick (the fallback when nothing below the ephemeral range is free). */
function anyPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
