import { firstPushGateway, firstPushRecord } from '../../domain/first-push';

describe('the first command that goes out with the claim', () => {
  const plain = {
    status: 'to_be_pushed' as const,
    retaken: false,
    fromVersion: '1.0.0',
    online: true,
    gatewayId: 'gw',
  };

  it('goes to the gateway presence names when the record waited for this run and the device is online', () => {
    expect(firstPushGateway(plain, '2.0.0')).toBe('gw');
  });

  it.each([
    ['a decided record', { status: 'success' as const }],
    ['no record', { status: null }],
    ['a record the run takes back', { status: 'pushed' as const, retaken: true }],
    ['a waiting record the run takes back', { retaken: true }],
    ['a device on the target already', { fromVersion: '2.0.0' }],
    ['an offline device', { online: false, gatewayId: null }],
    ['a device online on no known gateway', { gatewayId: null }],
  ])('is left to the workflow for %s', (_, change) => {
    expect(firstPushGateway({ ...plain, ...change }, '2.0.0')).toBeNull();
  });

  it('writes what the workflow’s own push of the same attempt writes', () => {
    expect(firstPushRecord('t', 'd', 2, '2026-01-01T00:00:00.000Z')).toEqual({
      taskId: 't',
      deviceKey: 'd',
      status: 'pushed',
      attempts: 2,
      progress: 0,
      failure: null,
      waitReason: null,
      timeline: [{ at: '2026-01-01T00:00:00.000Z', event: 'pushed', detail: 'command t.d.2' }],
    });
  });
});
