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

  it("when events are published from several calls within the window, then one pipeline writes them all, in order, to the fan-out and to each user's stream", async () => {
    const { redis, prefix } = testRedis;
    const pipelines = jest.spyOn(redis, 'pipeline');
    const errors: Error[] = [];
    const live = new LivePublisher({ redis, prefix, onError: (error) => errors.push(error) });
    live.publish([{ userId: 'u1', type: 'order.updated', data: { id: 'o-1' } }]);
    live.publish([]);
    await new Promise((resolve) => setImmediate(resolve)); // a later turn, the same window
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

  it('when flushed before the window ends (closing), then what is queued is written at once and nothing later', async () => {
    const { redis, prefix } = testRedis;
    const live = new LivePublisher({ redis, prefix, windowMs: 60_000 });
    live.publish([{ userId: 'u3', type: 'order.updated', data: { id: 'o-3' } }]);
    await live.flush();
    expect((await redis.xrange(liveKeys.user(prefix, 'u3'), '-', '+')).length).toBe(1);
    const pipelines = jest.spyOn(redis, 'pipeline');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(pipelines).not.toHaveBeenCalled(); // the window's timer went with the flush
    pipelines.mockRestore();
  });
});
