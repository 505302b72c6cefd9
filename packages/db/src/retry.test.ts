import { backoffDelayMs, isConnectionError, isTransactionConflict, retry, sqlState } from './retry';

describe('retry', () => {
  it('when attempts fail with a retryable error, then it retries until success', async () => {
    let calls = 0;
    const result = await retry(async () => (++calls < 3 ? Promise.reject(new Error('flaky')) : 'ok'), {
      attemptsMax: 5,
      baseDelayMs: 1,
      maxDelayMs: 2,
      shouldRetry: () => true,
    });
    expect(result).toBe('ok');
    expect(calls).toBe(3);
  });

  it('when the error is not retryable, then it is thrown at once', async () => {
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw new Error('fatal');
        },
        { attemptsMax: 5, baseDelayMs: 1, maxDelayMs: 2, shouldRetry: () => false },
      ),
    ).rejects.toThrow('fatal');
    expect(calls).toBe(1);
  });

  it('when attempts run out, then the last error is thrown', async () => {
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw new Error(`n${calls}`);
        },
        { attemptsMax: 3, baseDelayMs: 1, maxDelayMs: 2, shouldRetry: () => true },
      ),
    ).rejects.toThrow('n3');
  });

  it('backoff grows exponentially, is capped, and is jittered below the ceiling', () => {
    expect(backoffDelayMs(1, 100, 1000, () => 0.999)).toBe(99);
    expect(backoffDelayMs(4, 100, 1000, () => 0.999)).toBe(799);
    expect(backoffDelayMs(10, 100, 1000, () => 0.999)).toBe(999);
    expect(backoffDelayMs(3, 100, 1000, () => 0)).toBe(0);
  });

  it('classifies connection failures and transaction conflicts', () => {
    expect(isConnectionError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('terminating connection'), { code: '57P01' }))).toBe(true);
    expect(isConnectionError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('dup'), { code: '23505' }))).toBe(false);
    expect(isTransactionConflict({ code: '40001' })).toBe(true);
    expect(isTransactionConflict({ code: '40P01' })).toBe(true);
    expect(isTransactionConflict({ code: '23505' })).toBe(false);
  });

  it("when Prisma wraps the driver's error, then it is classified by the driver's SQLSTATE, never by Prisma's code", () => {
    // The two shapes a Prisma client over @prisma/adapter-pg throws (seen with 40001, 40P01 and a killed backend).
    const known = (originalCode: string) => ({
      code: 'P2010',
      meta: { driverAdapterError: { name: 'DriverAdapterError', cause: { originalCode, kind: 'postgres' } } },
    });
    const adapter = (cause: object) => ({ name: 'DriverAdapterError', cause });
    expect(isTransactionConflict(known('40001'))).toBe(true);
    expect(isTransactionConflict(adapter({ originalCode: '40P01', kind: 'postgres' }))).toBe(true);
    expect(isConnectionError(known('57P01'))).toBe(true);
    expect(isConnectionError(adapter({ kind: 'ConnectionClosed' }))).toBe(true);
    expect(isConnectionError(known('23505'))).toBe(false);
    expect(isTransactionConflict(known('23505'))).toBe(false);
    expect(sqlState(known('25006'))).toBe('25006');
    expect(sqlState({ code: 'P2034' })).toBeUndefined();
    expect(sqlState({ code: 'P0001' })).toBe('P0001');
  });
});
