/** Every process creates the indexes at start; the second start must find them and carry on. */
import { ensureAllIndexes } from '../../db/all-indexes';
import { testDb } from '../helpers/stack';

it('creates every index, and creating them again (the next process start) succeeds on the same database', async () => {
  const mongo = await testDb('indexes');
  try {
    await ensureAllIndexes(mongo.db);
    await ensureAllIndexes(mongo.db);
    const names = (await mongo.db.collection('records').indexes()).map((i) => JSON.stringify(i.key));
    expect(names).toContain(JSON.stringify({ taskId: 1, deviceKey: 1 }));
    expect(await mongo.db.collection('devices').countDocuments()).toBe(0);
  } finally {
    await mongo.close();
  }
});
