/**
 * The gateway's registry reads for logins and for its periodic re-check of every live session:
 * a batch of devices is one query, not one per device (10,000 connected devices re-checked
 * every 30 s were a third of the database's work in a rollout).
 */
import { MongoClient, type CommandStartedEvent } from 'mongodb';
import { ensureAllIndexes } from '../../db/all-indexes';
import { devicePresenceStore } from '../../db/device-presence';
import { devices, newDeviceDoc } from '../../db/devices';
import { testDb } from '../helpers/stack';

it('finds a batch of devices for login with one query, each with its own secret', async () => {
  const mongo = await testDb('presence-store');
  const client = new MongoClient(mongo.url, { monitorCommands: true });
  try {
    await ensureAllIndexes(mongo.db);
    const at = new Date();
    const docs = Array.from({ length: 300 }, (_, i) => ({
      ...newDeviceDoc({ productKey: 'pk', deviceKey: `d${i}`, firmwareVersion: '1.0.0' }, at),
      deviceSecret: `secret-${i}`,
    }));
    docs.push({
      ...newDeviceDoc({ productKey: 'other', deviceKey: 'd1', firmwareVersion: '1.0.0' }, at),
      deviceSecret: 'x',
    });
    await devices(mongo.db).insertMany(docs as never);
    const finds: CommandStartedEvent[] = [];
    client.on('commandStarted', (e) => e.commandName === 'find' && finds.push(e));
    const store = devicePresenceStore(client.db(mongo.db.databaseName));

    const asked = [...Array.from({ length: 300 }, (_, i) => `d${i}`), 'missing'];
    const found = await store.findForLogin('pk', asked);

    expect(finds).toHaveLength(1);
    expect(found).toHaveLength(300);
    expect(found.find((r) => r.deviceKey === 'd7')).toMatchObject({ productKey: 'pk', deviceSecret: 'secret-7' });
    expect(found.some((r) => r.deviceKey === 'missing')).toBe(false);
  } finally {
    await client.close();
    await mongo.close();
  }
});
