/** Exponential backoff with full jitter, for work that may fail for reasons that go away on their own. */
export interface RetryOptions {
  attemptsMax: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Decides whether an error is worth another attempt; anything else is rethrown at once. */
  shouldRetry: (error: unknown) => boolean;
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

export const DEFAULT_RETRY: Omit<RetryOptions, 'shouldRetry'> = { attemptsMax: 5, baseDelayMs: 50, maxDelayMs: 2000 };

export function backoffDelayMs(attempt: number, baseDelayMs: number, maxDelayMs: number, random = Math.random): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

export async function retry<T>(work: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt);
    } catch (error) {
      if (attempt >= options.attemptsMax || !options.shouldRetry(error)) throw error;
      const delayMs = backoffDelayMs(attempt, options.baseDelayMs, options.maxDelayMs);
      options.onRetry?.(error, attempt, delayMs);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

// SQLSTATE classes: 08 connection exception, 57P01..03 admin shutdown / crash / cannot connect now, 53300 too many connections.
const CONNECTION_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
const CONNECTION_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN']);
const CONNECTION_MESSAGES =
  /Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect/i;
const SQLSTATE = /^[0-9A-Z]{5}$/;
/** Prisma's own error codes (P1001, P2010, …), on its errors in place of the driver's; PL/pgSQL's P0001 is a SQLSTATE. */
const PRISMA_ERROR_CODE = /^P[1-9][0-9]{3}$/;
/** What @prisma/adapter-pg calls the socket errors it maps (they carry no SQLSTATE). */
const ADAPTER_CONNECTION_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout']);

/** The driver's error as Prisma's driver adapter describes it, inside the errors Prisma throws. */
interface AdapterCause {
  originalCode?: unknown;
  kind?: unknown;
}

/**
 * Where a Prisma client over a driver adapter keeps the driver's error: a DriverAdapterError's `cause`, or a
 * PrismaClientKnownRequestError's `meta.driverAdapterError.cause` (its own `code` is Prisma's, P2010, P2034, …).
 */
function adapterCause(error: object): AdapterCause | undefined {
  const { cause, meta } = error as { cause?: unknown; meta?: { driverAdapterError?: { cause?: unknown } } };
  const found = meta?.driverAdapterError?.cause ?? cause;
  return typeof found === 'object' && found !== null ? (found as AdapterCause) : undefined;
}

/** The SQLSTATE of a failed statement, sent through pg or through a Prisma client over it; undefined for others. */
export function sqlState(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const original = adapterCause(error)?.originalCode;
  if (typeof original === 'string') return original;
  const { code } = error as { code?: unknown };
  return typeof code === 'string' && SQLSTATE.test(code) && !PRISMA_ERROR_CODE.test(code) ? code : undefined;
}

export function isConnectionError(error: unknown): boolean {
  // Not `instanceof Error`: errors made by Node's own sockets come from another realm under test runners' sandboxes.
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  const state = sqlState(error);
  if (state !== undefined && (state.startsWith('08') || CONNECTION_SQLSTATES.has(state))) return true;
  if (typeof code === 'string' && CONNECTION_ERRNOS.has(code)) return true;
  if (ADAPTER_CONNECTION_KINDS.has(adapterCause(error)?.kind as string)) return true;
  return typeof message === 'string' && CONNECTION_MESSAGES.test(message);
}

/** 40001 serialization_failure, 40P01 deadlock_detected: the transaction did nothing and may simply run again. */
export function isTransactionConflict(error: unknown): boolean {
  const state = sqlState(error);
  return state === '40001' || state === '40P01';
}
