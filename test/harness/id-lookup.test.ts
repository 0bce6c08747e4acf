/**
 * Lookups by `_id` use an index on the embedded FerretDB too. Its SQLite
 * backend indexes a different expression than its queries use, so our
 * FerretDB command adds the matching index to every table (tools/ferretdb/idindex.go);
 * without it every update reads the whole collection.
 */
import { testDb } from '../helpers/stack';

const plan = async (find: () => Promise<unknown>): Promise<string> => JSON.stringify(await find());

it('answers a lookup by _id from an index, also in a collection created after the database started', async () => {
  const mongo = await testDb('id_lookup');
  try {
    const collection = mongo.db.collection<{ _id: string; n: number }>(`late_${Date.now()}`);
    await collection.insertMany(Array.from({ length: 200 }, (_, n) => ({ _id: `k${n}`, n })));
    const info = await mongo.db.admin().command({ buildInfo: 1 });
    const explain = () => plan(() => collection.find({ _id: 'k150' }).explain());
    const ferretdb = 'ferretdbVersion' in info;
    if (ferretdb) {
      // The index is added within a second of the table appearing; FerretDB's pooled connection sees it
      // once it has written again (as any collection in use does).
      const deadline = Date.now() + 10_000;
      while (!(await explain()).includes('__ota_id_lookup') && Date.now() < deadline) {
        await collection.updateOne({ _id: 'k0' }, { $inc: { n: 1 } });
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    expect(await explain()).toMatch(ferretdb ? /SEARCH \S+ USING INDEX \S+__ota_id_lookup/ : /IDHACK|EXPRESS|IXSCAN/);
    await collection.updateOne({ _id: 'k150' }, { $set: { n: -1 } });
    expect(await collection.findOne({ _id: 'k150' })).toEqual({ _id: 'k150', n: -1 });
  } finally {
    await mongo.close();
  }
});
