import { randomUUID } from 'node:crypto';
import pg, { type PoolConfig } from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { asMigrationRole, DEFAULT_DATABASE_URL, MIGRATION_ROLE } from '@orrange/config';
import { assertSchemaName, poolConfigFromUrl, withDatabase } from './pool-config';

/**
 * The Prisma CLI configuration every service uses (`prisma.config.ts`): Prisma 6.19's WebAssembly schema
 * engine over @prisma/adapter-pg, so `migrate`, `db push` and `studio` run without downloading a native
 * engine. Each service migrates its own Postgres schema with its own `_prisma_migrations` table. The CLI connects
 * to DATABASE_URL's database as the migration role (MIGRATOR_DB_PASSWORD), which owns what the migrations create;
 * DATABASE_URL's own user, an administrator, only creates `migrate dev`'s shadow databases.
 */
export function defineMigrationConfig(options: { schema: string; url?: string }): MigrationConfig {
  const schema = assertSchemaName(options.schema);
  const url = options.url ?? process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  reportInternalPgTypesAsText();
  return {
    experimental: { adapter: true },
    engine: 'js' as const,
    schema: 'prisma/schema.prisma',
    migrations: { path: 'prisma/migrations' },
    adapter: async () => new MigrationAdapterFactory(url, asMigrationRole(url, process.env), schema) as unknown,
  };
}

/** The shape prisma.config.ts exports; the adapter factory is typed loosely so this package needs no prisma types. */
export interface MigrationConfig {
  experimental: { adapter: boolean };
  engine: 'js';
  schema: string;
  migrations: { path: string };
  adapter: () => Promise<unknown>;
}

/**
 * Like PrismaPg, but (1) binds every connection to the service's schema (the adapter ignores `?schema=`),
 * and (2) creates the shadow database itself and drops it WITH (FORCE) only after its pool has closed
 * (the stock adapter drops it while its own pool still holds connections, and fails).
 */
class MigrationAdapterFactory {
  // Returned types are Prisma's adapter types; the CLI checks them at run time.
  readonly provider = 'postgres' as const;
  readonly adapterName = '@prisma/adapter-pg';

  constructor(
    private readonly adminUrl: string,
    private readonly url: string,
    private readonly schema: string,
  ) {}

  connect(): Promise<unknown> {
    return new PrismaPg(cliPoolConfig(this.url, this.schema), { schema: this.schema }).connect();
  }

  async connectToShadowDb(): Promise<unknown> {
    const name = `prisma_shadow_${randomUUID().replace(/-/g, '')}`;
    await adminQuery(this.adminUrl, `CREATE DATABASE "${name}" OWNER "${MIGRATION_ROLE.dbRole}"`);
    const adapter = await new PrismaPg(cliPoolConfig(withDatabase(this.url, name), this.schema), {
      schema: this.schema,
    }).connect();
    const dispose = adapter.dispose.bind(adapter);
    adapter.dispose = async () => {
      await dispose();
      await adminQuery(this.adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    };
    return adapter;
  }
}

/**
 * The CLI does not dispose its adapter when a command is done, so its idle connections would keep the process
 * alive until the pool's idle timeout (30 s per `prisma migrate deploy`, per service): let it exit instead.
 */
function cliPoolConfig(url: string, schema: string): PoolConfig {
  return { ...poolConfigFromUrl(url, { schema, max: 2 }), allowExitOnIdle: true };
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client(poolConfigFromUrl(withDatabase(url, 'postgres')));
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Prisma's introspection reads catalog columns of types `char` (OID 18) and `name` (OID 19), which the
 * adapter cannot map (prisma#27403). In the CLI process only, report them as `text` (OID 25).
 */
function reportInternalPgTypesAsText(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Query = require('pg/lib/query') as {
    prototype: {
      handleRowDescription(msg: { fields: Array<{ dataTypeID: number }> }): void;
      __orrangePatched?: boolean;
    };
  };
  if (Query.prototype.__orrangePatched) return;
  const original = Query.prototype.handleRowDescription;
  Query.prototype.handleRowDescription = function (msg) {
    for (const field of msg.fields) if (field.dataTypeID === 18 || field.dataTypeID === 19) field.dataTypeID = 25;
    return original.call(this, msg);
  };
  Query.prototype.__orrangePatched = true;
}
