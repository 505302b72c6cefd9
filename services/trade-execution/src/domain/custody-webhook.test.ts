import { checkWebhookSignature, parseCustodyEvent, signWebhook, WEBHOOK_TOLERANCE_SECONDS } from './custody-webhook';

const SECRET = 'whsec-test-0123456789';
const body = Buffer.from(
  JSON.stringify({
    id: 'e1',
    type: 'withdrawal.failed',
    withdrawalId: '6f1c2f4e-8f55-4b5e-9a43-0f0f8e2f8d11',
    reason: 'rejected by chain',
  }),
);
const now = 1_800_000_000;

describe('custody webhook signatures', () => {
  it('when the body is signed with the secret within the tolerance, then it is OK', () => {
    expect(checkWebhookSignature(SECRET, signWebhook(SECRET, body, now), body, now)).toBe('OK');
    expect(checkWebhookSignature(SECRET, signWebhook(SECRET, body, now - WEBHOOK_TOLERANCE_SECONDS), body, now)).toBe(
      'OK',
    );
  });

  it.each([
    ['no header', undefined, 'MISSING'],
    ['another secret', signWebhook('another-secret', body, now), 'MISMATCH'],
    ['a stale timestamp', signWebhook(SECRET, body, now - WEBHOOK_TOLERANCE_SECONDS - 1), 'STALE'],
    ['a timestamp in the future', signWebhook(SECRET, body, now + WEBHOOK_TOLERANCE_SECONDS + 1), 'STALE'],
    ['a signature of another body', signWebhook(SECRET, Buffer.from(`${body.toString()} `), now), 'MISMATCH'],
    ['no timestamp', `v1=${'a'.repeat(64)}`, 'MALFORMED'],
    ['no signature', `t=${now}`, 'MALFORMED'],
    ['a short signature', `t=${now},v1=abcd`, 'MALFORMED'],
    ['garbage', 'hello', 'MALFORMED'],
  ])('when the header has %s, then it is refused', (_name, header, outcome) => {
    expect(checkWebhookSignature(SECRET, header, body, now)).toBe(outcome);
  });

  it('when the timestamp of a valid header is changed, then the signature no longer matches', () => {
    const header = signWebhook(SECRET, body, now).replace(`t=${now}`, `t=${now - 1}`);
    expect(checkWebhookSignature(SECRET, header, body, now)).toBe('MISMATCH');
  });
});

describe('custody events', () => {
  it('when a body is one of the events, then it is parsed; otherwise it is malformed with a reason', () => {
    expect(parseCustodyEvent(body)).toMatchObject({ event: { type: 'withdrawal.failed' } });
    const deposit = {
      id: 'd1',
      type: 'deposit.confirmed',
      asset: 'USDT',
      address: '0xabc',
      txid: 'ab12',
      index: 0,
      amount: '10.5',
      confirmations: 12,
    };
    expect(parseCustodyEvent(Buffer.from(JSON.stringify(deposit)))).toMatchObject({
      event: { type: 'deposit.confirmed', amount: '10.5' },
    });
    expect(parseCustodyEvent(Buffer.from('{not json'))).toEqual({ malformed: 'body is not JSON' });
    expect(parseCustodyEvent(Buffer.from(JSON.stringify({ ...deposit, amount: '1.0000001' })))).toHaveProperty(
      'malformed',
    );
    expect(parseCustodyEvent(Buffer.from(JSON.stringify({ ...deposit, amount: 10 })))).toHaveProperty('malformed');
    expect(parseCustodyEvent(Buffer.from(JSON.stringify({ ...deposit, userId: 'x' })))).toHaveProperty('malformed');
    expect(
      parseCustodyEvent(
        Buffer.from(
          JSON.stringify({
            id: 'w',
            type: 'withdrawal.confirmed',
            withdrawalId: '6f1c2f4e-8f55-4b5e-9a43-0f0f8e2f8d11',
          }),
        ),
      ),
    ).toHaveProperty('malformed');
  });
});
