import { clipForSignal, replyForSignal, SIGNAL_ID_LIMIT, SIGNAL_TEXT_LIMIT } from '../../domain/signal-text';

describe('device text in signals', () => {
  it('keeps short text as it is', () => {
    expect(clipForSignal('download failed')).toBe('download failed');
    expect(clipForSignal('x'.repeat(SIGNAL_TEXT_LIMIT))).toHaveLength(SIGNAL_TEXT_LIMIT);
  });

  it('cuts a 512 KB reply to the limit, saying that it was cut', () => {
    const reply = replyForSignal({ commandId: 'c'.repeat(10_000), code: 500, message: 'm'.repeat(512 * 1024) });
    expect(reply.message).toHaveLength(SIGNAL_TEXT_LIMIT);
    expect(reply.message.endsWith('… (cut)')).toBe(true);
    expect(reply.commandId).toHaveLength(SIGNAL_ID_LIMIT);
    expect(reply.code).toBe(500);
  });
});
