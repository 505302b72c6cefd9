import { randomBytes } from 'node:crypto';
import { Algorithm, hash, verify } from '@node-rs/argon2';
import { Semaphore } from './semaphore';

/** argon2id at OWASP's recommended minimum: 19 MiB, 2 passes, 1 lane (about 50 ms on one core). */
const ARGON2_OPTIONS = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/**
 * Hashes and verifies passwords through a bounded semaphore. `verifyOrDummy` always runs one argon2
 * verification, against a fixed dummy hash when there is no account, so an unknown email costs the same
 * time as a wrong password.
 */
export class PasswordHasher {
  private readonly semaphore: Semaphore;
  private dummyHash: Promise<string> | undefined;

  constructor(options: { concurrencyMax: number; waitingMax: number }) {
    this.semaphore = new Semaphore(options.concurrencyMax, options.waitingMax);
  }

  hash(password: string): Promise<string> {
    return this.semaphore.run(() => hash(password, ARGON2_OPTIONS));
  }

  verify(passwordHash: string, password: string): Promise<boolean> {
    return this.semaphore.run(() => verify(passwordHash, password).catch(() => false));
  }

  /** Verifies against `passwordHash`, or against the dummy hash when it is null (and then answers false). */
  async verifyOrDummy(passwordHash: string | null, password: string): Promise<boolean> {
    const ok = await this.verify(passwordHash ?? (await this.dummy()), password);
    return passwordHash !== null && ok;
  }

  /** Makes the dummy hash now (at boot), so the first unknown-email login is not slower than the rest. */
  async warm(): Promise<void> {
    await this.dummy();
  }

  /** The dummy hash, made once with the same costs as real ones, from a password nobody knows. */
  private dummy(): Promise<string> {
    this.dummyHash ??= this.semaphore.run(() => hash(randomBytes(32).toString('base64url'), ARGON2_OPTIONS));
    return this.dummyHash;
  }
}
