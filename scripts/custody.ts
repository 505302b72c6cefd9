/**
 * The simulated custody's command of the root package.json (development only):
 *   custody:deposit <email> <asset> <amount> [confirmations]
 * signs a `deposit.confirmed` webhook to the user's deposit address with CUSTODY_WEBHOOK_SECRET and posts it to
 * the gateway (GATEWAY_URL, default http://127.0.0.1:8080), as a custody provider would: the deposit is credited
 * once it has DEPOSIT_CONFIRMATIONS for the asset (the default), and never twice.
 */
import path from 'node:path';
import { loadDotEnv, ROOT } from './lib/services';

const USAGE = 'usage: pnpm custody:deposit <email> <asset> <amount> [confirmations]';
const POST_TIMEOUT_MS = 10_000;

async function deposit(args: string[]): Promise<number> {
  const [email, asset, amount, confirmations, ...extra] = args;
  if (!email || !asset || !amount || extra.length) {
    console.error(USAGE);
    return 2;
  }
  // Imported lazily: trade-execution owns its config, addresses and webhook signatures.
  const { readConfig } = (await import(
    path.join(ROOT, 'services/trade-execution/src/config')
  )) as typeof import('../services/trade-execution/src/config');
  const { simulatedDepositWebhook, SimulatedDepositRefused } = (await import(
    path.join(ROOT, 'services/trade-execution/src/custody/simulated-deposit')
  )) as typeof import('../services/trade-execution/src/custody/simulated-deposit');
  const config = readConfig({ ...process.env, LOG_LEVEL: 'silent' });
  const webhook = await simulatedDepositWebhook(config, {
    email,
    asset: asset.toUpperCase(),
    amount,
    confirmations,
  }).catch((error: unknown) => {
    if (error instanceof SimulatedDepositRefused) {
      console.error(`[custody] refused: ${error.message}`);
      return undefined;
    }
    throw error;
  });
  if (!webhook) return 1;
  const url = `${(process.env.GATEWAY_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '')}/api/v1/custody/webhooks`;
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-orrange-signature': webhook.signature },
    body: webhook.rawBody,
    signal: AbortSignal.timeout(POST_TIMEOUT_MS),
  });
  const answer = await res.text();
  console.log(
    `[custody] deposit.confirmed ${amount} ${asset.toUpperCase()} to ${webhook.address} (user ${webhook.userId}) → ${res.status} ${answer}`,
  );
  return res.status === 200 ? 0 : 1;
}

async function main(): Promise<number> {
  loadDotEnv();
  const [command, ...args] = process.argv.slice(2);
  if (command === 'deposit') return deposit(args);
  console.error(USAGE);
  return 2;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`[custody] failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
