/**
 * pnpm secrets:reencrypt — after a key rotation, seals every encrypted value of every service again under the active
 * key of ENCRYPTION_KEYS (the first, or ENCRYPTION_ACTIVE_KID): payment methods and their snapshots in trades, trade
 * chat, dispute evidence and its journal copies, and the stored Idempotency-Key answers that carry them; values
 * stored in the clear before a column was sealed are sealed too. Batches of RESEAL_BATCH_ROWS rows, each its own short
 * transaction, so the stack keeps running meanwhile; a second run finds nothing to do.
 *
 * Rotation: put the new key first (or name it in ENCRYPTION_ACTIVE_KID) and keep the old one listed, restart the
 * services, run this command with the same ENCRYPTION_KEYS; once it reports no failures, remove the old key.
 * Exits 1 when some value could not be opened (its key is not in the keyring): the old key must stay until then.
 */
import path from 'node:path';
import { asMigrationRole, assertNoDevSecrets } from '@orrange/config';
import { Database } from '@orrange/db';
import {
  encryptionSchema,
  keyringFromConfig,
  resealColumn,
  type ResealReport,
  type AnySealedColumn,
} from '@orrange/secrets';
import { OperatorError, pingPostgres } from './lib/infra';
import { loadDotEnv, ROOT, setting, SERVICES } from './lib/services';

const log = (line: string) => console.log(`[secrets] ${line}`);

/** The services that keep sealed values; each lists its own in src/sealed-columns.ts. */
const SEALING_SERVICES = SERVICES.filter((s) => ['user', 'trade-execution', 'dispute'].includes(s.name));

async function sealedColumnsOf(service: string): Promise<ReadonlyArray<AnySealedColumn>> {
  const module = (await import(path.join(ROOT, 'services', service, 'src/sealed-columns'))) as {
    SEALED_COLUMNS: ReadonlyArray<AnySealedColumn>;
  };
  return module.SEALED_COLUMNS;
}

export async function reencrypt(): Promise<ResealReport[]> {
  const parsed = encryptionSchema.safeParse(process.env);
  if (!parsed.success)
    throw new OperatorError(
      `ENCRYPTION_KEYS / ENCRYPTION_ACTIVE_KID: ${parsed.error.issues.map((i) => i.message).join('; ')}`,
    );
  const keyring = (() => {
    try {
      // Sealing everything under the publicly known development key would undo the encryption.
      assertNoDevSecrets({ NODE_ENV: process.env.NODE_ENV ?? 'development', ...parsed.data });
      return keyringFromConfig(parsed.data);
    } catch (error) {
      throw new OperatorError(`ENCRYPTION_KEYS: ${(error as Error).message}`);
    }
  })();
  const url = setting('DATABASE_URL');
  await pingPostgres(url);
  // As the migration role: the owner of every sealed table, whom their row-level security does not limit.
  const owner = asMigrationRole(url, process.env);
  log(`sealing under key "${keyring.activeKid}" (keyring: ${[...keyring.keys.keys()].join(', ')})`);
  const reports: ResealReport[] = [];
  for (const service of SEALING_SERVICES) {
    const db = new Database({
      url: owner,
      name: 'secrets-reencrypt',
      schema: service.schema,
      max: 2,
      healthIntervalMs: 0,
    });
    try {
      for (const column of await sealedColumnsOf(service.name)) {
        const report = await resealColumn(db, keyring, column);
        reports.push(report);
        log(
          `${report.name}: ${report.resealed} re-sealed${report.failed ? `, ${report.failed} could not be opened (first: ${report.firstFailure})` : ''}`,
        );
      }
    } finally {
      await db.close();
    }
  }
  return reports;
}

async function main(): Promise<void> {
  loadDotEnv();
  const reports = await reencrypt();
  const failed = reports.reduce((sum, r) => sum + r.failed, 0);
  if (failed)
    throw new OperatorError(
      `${failed} values could not be opened with this keyring: keep the keys they were sealed with until they are re-sealed.`,
    );
  log(
    `done: ${reports.reduce((sum, r) => sum + r.resealed, 0)} values re-sealed; every sealed value is under "${keyringFromConfig(encryptionSchema.parse(process.env)).activeKid}"`,
  );
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(`[secrets] ${error instanceof OperatorError ? error.message : (error as Error).stack}`);
    process.exit(1);
  });
}
