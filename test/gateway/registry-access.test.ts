/** Batching of login lookups and merging of presence writes, against a recording store. */
import { MongoNetworkError, MongoServerError } from 'mongodb';
import type { DevicePresenceStore, PresenceFields } from '../../db/device-presence';
import { registryAccess } from '../../gateway/registry-access';

function recordingStore(writeMs = 20, lookupMs = 0) {
  const lookups: { productKey: string; deviceKeys: string[] }[] = [];
  const writes: { deviceKey: string; fields: PresenceFields }[] = [];
  const events: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const store: DevicePresenceStore = {
    async findForLogin(productKey, deviceKeys) {
      lookups.push({ productKey, deviceKeys });
      if (lookupMs) await new Promise((r) => setTimeout(r, lookupMs));
      events.push('lookup done');
      return deviceKeys
        .filter((k) => k !== 'ghost')
        .map((deviceKey) => ({ productKey, deviceKey, deviceSecret: `s-${deviceKey}` }));
    },
    async update(device, fields) {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, writeMs));
      writes.push({ deviceKey: device.deviceKey, fields });
      events.push('write done');
      inFlight -= 1;
    },
  };
  return { store, lookups, writes, events, maxInFlight: () => maxInFlight };
}

describe('registry access', () => {
  it('answers logins that arrive together with one query per product', async () => {
    const r = recordingStore();
    const access = registryAccess(r.store);
    const found = await Promise.all([
      access.findForLogin({ productKey: 'p1', deviceKey: 'a' }),
      access.findForLogin({ productKey: 'p1', deviceKey: 'b' }),
      access.findForLogin({ productKey: 'p2', deviceKey: 'a' }),
      access.findForLogin({ productKey: 'p1', deviceKey: 'ghost' }),
    ]);
    expect(found.map((f) => f?.deviceSecret ?? null)).toEqual(['s-a', 's-b', 's-a', null]);
    expect(r.lookups).toEqual([
      { productKey: 'p1', deviceKeys: ['a', 'b', 'ghost'] },
      { productKey: 'p2', deviceKeys: ['a'] },
    ]);
  });

  it('merges waiting writes of a device, keeps their order, and limits writes in flight', async () => {
    const r = recordingStore();
    const access = registryAccess(r.store, 2);
    const at = new Date(0);
    const done = [
      access.update({ productKey: 'p', deviceKey: 'x' }, { online: true, lastSeenAt: at }),
      access.update({ productKey: 'p', deviceKey: 'y' }, { online: true }),
      access.update({ productKey: 'p', deviceKey: 'z' }, { online: true }),
      // x is in flight now: this waits and is merged with the next one.
      access.update({ productKey: 'p', deviceKey: 'x' }, { firmwareVersion: '2', online: true }),
      access.update({ productKey: 'p', deviceKey: 'x' }, { online: false }),
    ];
    await Promise.all(done);
    expect(r.maxInFlight()).toBe(2);
    const x = r.writes.filter((w) => w.deviceKey === 'x');
    expect(x).toEqual([
      { deviceKey: 'x', fields: { online: true, lastSeenAt: at } },
      { deviceKey: 'x', fields: { firmwareVersion: '2', online: false } },
    ]);
    expect(r.writes).toHaveLength(4);
  });

  it('holds writes back while logins are looked up', async () => {
    const r = recordingStore(5, 100);
    const access = registryAccess(r.store);
    const login = access.findForLogin({ productKey: 'p', deviceKey: 'a' });
    await new Promise((res) => setTimeout(res, 10));
    const write = access.update({ productKey: 'p', deviceKey: 'b' }, { online: true });
    await Promise.all([login, write]);
    expect(r.events).toEqual(['lookup done', 'write done']);
  });

  it('gathers logins that arrive during a lookup into the next one', async () => {
    const r = recordingStore(5, 50);
    const access = registryAccess(r.store);
    const first = access.findForLogin({ productKey: 'p', deviceKey: 'a' });
    await new Promise((res) => setTimeout(res, 20));
    const later = ['b', 'c', 'd'].map((deviceKey) => access.findForLogin({ productKey: 'p', deviceKey }));
    await Promise.all([first, ...later]);
    expect(r.lookups).toEqual([
      { productKey: 'p', deviceKeys: ['a'] },
      { productKey: 'p', deviceKeys: ['b', 'c', 'd'] },
    ]);
  });

  it('keeps a write the database could not take until it does, later fields of the device winning', async () => {
    const r = recordingStore(5);
    let refusals = 2;
    const store: DevicePresenceStore = {
      ...r.store,
      async update(device, fields) {
        // The database restarting: the driver cannot reach it.
        if (refusals-- > 0) throw new MongoNetworkError('connection refused');
        return r.store.update(device, fields);
      },
    };
    const access = registryAccess(store);
    const x = { productKey: 'p', deviceKey: 'x' };
    const first = access.update(x, { firmwareVersion: '2.0.0', online: true });
    await new Promise((res) => setTimeout(res, 50));
    const later = access.update(x, { online: false });
    await Promise.all([first, later]);
    expect(r.writes).toEqual([{ deviceKey: 'x', fields: { firmwareVersion: '2.0.0', online: false } }]);
  });

  it('fails a write the database answered with an error, without trying it again', async () => {
    let calls = 0;
    const store: DevicePresenceStore = {
      findForLogin: async () => [],
      async update() {
        calls += 1;
        throw new MongoServerError({ message: 'document failed validation', code: 121 });
      },
    };
    const access = registryAccess(store);
    await expect(access.update({ productKey: 'p', deviceKey: 'x' }, { online: true })).rejects.toThrow(/validation/);
    expect(calls).toBe(1);
  });
});
