import { createTestRedis, eventually, type TestRedis } from '@orrange/testing';
import { liveKeys, LivePublisher } from '../src/live-events';

describe('LivePublisher', () => {
  let testRedis: TestRedis;

  beforeAll(async () => {
    testRedis = await createTestRedis();
  });

  afterAll(async () => {
    await testRedis.cleanup();
  });

  it("when events are published from several calls in one turn, then one pipeline writes them all, in order, to the fan-out and to each user's stream", async () => {
    const { redis, prefix } = testRedis;
    const pipelines = jest.spyOn(redis, 'pipeline');
    const errors: Error[] = [];
    const live = new LivePublisher({ redis, prefix, onError: (error) => errors.push(error) });
    live.publish([{ userId: 'u1', type: 'order.updated', data: { id: 'o-1' } }]);
    live.publish([]);
    live.publish([
      { userId: 'u2', type: 'order.updated', data: { id: 'o-2' } },
      { userId: 'u1', type: 'balance.updated', data: { asset: 'BTC' } },
    ]);
    expect(pipelines).not.toHaveBeenCalled(); // never on the caller's path
    const fanOut = await eventually(async () => {
      const entries = await redis.xrange(liveKeys.users(prefix), '-', '+');
      return entries.length === 3 && entries;
    });
    expect(pipelines).toHaveBeenCalledTimes(1);
    expect(errors).toEqual([]);
    expect(fanOut.map(([, fields]) => [fields[1], fields[3]])).toEqual([
      ['u1', 'order.updated'],
      ['u2', 'order.updated'],
      ['u1', 'balance.updated'],
    ]);
    const u1 = await redis.xrange(liveKeys.user(prefix, 'u1'), '-', '+');
    expect(u1.map(([id]) => id)).toEqual([fanOut[0]![0], fanOut[2]![0]]);
    pipelines.mockRestore();
  });
});
