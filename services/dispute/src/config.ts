import {
  assertNoDevSecrets,
  databaseRoleSchema,
  baseServiceSchema,
  env,
  loadConfig,
  serviceInfo,
  z,
} from '@orrange/config';
import { encryptionSchema } from '@orrange/secrets';

export const SCHEMA = serviceInfo('dispute').schema;

/** A positive duration in the given unit; fractions are allowed so tests can shrink windows to seconds. */
const duration = (fallback: number) =>
  z.coerce
    .number()
    .positive()
    .max(24 * 365)
    .default(fallback);

export const configSchema = baseServiceSchema
  .extend(databaseRoleSchema('dispute').shape)
  .extend(encryptionSchema.shape)
  .extend({
    PORT: env.port(serviceInfo('dispute').port),
    /** How long the parties have to submit evidence before a silent party is flagged for default judgment. */
    EVIDENCE_WINDOW_HOURS: duration(48),
    /** How long a case may wait for an arbitrator before it escalates. */
    DISPUTE_ASSIGNMENT_TIMEOUT_MINUTES: duration(60),
    /** How often the sweepers look for due evidence windows and assignment timeouts (timers are rows, not jobs). */
    TIMER_SWEEP_MS: z.coerce.number().int().min(50).max(60_000).default(5_000),
  });

export type Config = z.infer<typeof configSchema>;

/** Reads the service's config once at boot and refuses production with any development secret. */
export function readConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const config = loadConfig(configSchema, source);
  assertNoDevSecrets(config, source);
  return config;
}
