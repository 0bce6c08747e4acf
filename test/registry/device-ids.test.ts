/**
 * Devices registered before their `_id` was derived from their identity are
 * re-keyed at the next process start, including one a crash left half-way.
 */
import { ObjectId } from 'mongodb';
import { ensureAllIndexes } from '../../db/all-indexes';
import { keyDevicesByIdentity } from '../../db/device-ids';
import { deviceDocId, getDevice, newDeviceDoc } from '../../db/devices';
import { devicePresenceStore } from '../../db/device-presence';
import { testDb } from '../helpers/stack';

it('re-keys old devices once, finishes a half-done one, and the gateway and registry then find them', async () => {
  const mongo = await testDb('device_ids');
  try {
    const { db } = mongo;
    await ensureAllIndexes(db);
    await db.collection('meta').deleteMany({}); // as on a database from before the re-keying
    const legacy = (deviceKey: string) => {
      const { _id, ...fields } = newDeviceDoc(
        { productKey: 'pk', deviceKey, deviceSecret: `s-${deviceKey}` },
        new Date(),
      );
      return { ...fields, _id: new ObjectId() };
    };
    await db.collection('devices').insertMany([legacy('old-1'), legacy('old-2')]);
    // A crash after staging and removing the old copy, before inserting the new one.
    const halfDone = newDeviceDoc({ productKey: 'pk', deviceKey: 'staged', deviceSecret: 's-staged' }, new Date());
    await db.collection<{ _id: string }>('devices_rekeying').insertOne(halfDone);

    await keyDevicesByIdentity(db);

    const ids = (
      await db
        .collection('devices')
        .find({}, { projection: { _id: 1 } })
        .toArray()
    ).map((d) => d._id);
    expect(ids.sort()).toEqual([deviceDocId('pk', 'old-1'), deviceDocId('pk', 'old-2'), deviceDocId('pk', 'staged')]);
    expect(await db.collection('devices_rekeying').countDocuments()).toBe(0);
    expect((await getDevice(db, 'pk', 'old-1'))?.deviceKey).toBe('old-1');
    const logins = await devicePresenceStore(db).findForLogin('pk', ['old-2', 'staged', 'unknown']);
    // One query for the batch: in the database's order, not the order asked.
    expect(logins.map((l) => [l.deviceKey, l.deviceSecret]).sort()).toEqual([
      ['old-2', 's-old-2'],
      ['staged', 's-staged'],
    ]);

    // Done once: a device inserted the old way afterwards is no longer looked for.
    await db.collection('devices').insertOne(legacy('later'));
    await keyDevicesByIdentity(db);
    expect(await db.collection<{ _id: string }>('devices').countDocuments({ _id: deviceDocId('pk', 'later') })).toBe(0);
  } finally {
    await mongo.close();
  }
});
