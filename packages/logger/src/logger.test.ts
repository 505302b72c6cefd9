import { Writable } from 'node:stream';
import winston from 'winston';
import { createLogger, runWithContext } from './index';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger('test-service', 'info');
  logger.clear();
  logger.add(
    new winston.transports.Stream({
      stream: new Writable({
        write(chunk, _enc, done) {
          lines.push(JSON.parse(String(chunk)));
          done();
        },
      }),
    }),
  );
  return { logger, lines };
}

describe('logger', () => {
  it('when logging inside a request context, then the line carries service and request ids', () => {
    const { logger, lines } = capture();
    runWithContext({ requestId: 'req-1', userId: 'u-1' }, () => logger.info('hello'));
    expect(lines[0]).toMatchObject({
      message: 'hello',
      service: 'test-service',
      requestId: 'req-1',
      userId: 'u-1',
      level: 'info',
    });
  });

  it('when a secret-looking field is logged, then its value is redacted', () => {
    const { logger, lines } = capture();
    logger.info('login', { password: 'hunter22', refreshToken: 'abc', email: 'a@b.c' });
    expect(lines[0]).toMatchObject({ password: '[redacted]', refreshToken: '[redacted]', email: 'a@b.c' });
  });

  it('when a level is below the configured one, then nothing is written', () => {
    const lines: string[] = [];
    const logger = createLogger('test-service', 'warn');
    logger.clear();
    logger.add(
      new winston.transports.Stream({
        stream: new Writable({
          write(chunk, _enc, done) {
            lines.push(String(chunk));
            done();
          },
        }),
      }),
    );
    logger.info('hidden');
    logger.debug('hidden');
    logger.warn('shown');
    expect(lines.map((l) => JSON.parse(l).message)).toEqual(['shown']);
  });
});
