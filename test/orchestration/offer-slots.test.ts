/** The request tasks' concurrency slots on the suite's real database, including a race for the last ones. */
import { offerSlotsFull, releaseOfferSlot, takeOfferSlot } from '../../db/offer-slots';
import { ensureAllIndexes } from '../../db/all-indexes';
import { testDb } from '../helpers/stack';

describe('offer slots', () => {
  let mongo: Awaited<ReturnType<typeof testDb>>;
  beforeAll(async () => {
    mongo = await testDb('offer-slots');
    await ensureAllIndexes(mongo.db);
  });
  afterAll(() => mongo.close());

  it('lets exactly the limit through when many more devices race for the slots at once', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `race-${i}`);
    const granted = await Promise.all(keys.map((k) => takeOfferSlot(mongo.db, 'task-race', k, 10)));
    expect(granted.filter(Boolean)).toHaveLength(10);
    const docs = await mongo.db.collection('offer_slots').find({ taskId: 'task-race' }).toArray();
    expect(docs.map((d) => d.deviceKey).sort()).toEqual(keys.filter((_, i) => granted[i]).sort());
  });

  it('is idempotent for a holder, frees a slot on release, and looks full only to devices without one', async () => {
    expect(await takeOfferSlot(mongo.db, 'task-a', 'd1', 1)).toBe(true);
    expect(await takeOfferSlot(mongo.db, 'task-a', 'd1', 1)).toBe(true);
    expect(await takeOfferSlot(mongo.db, 'task-b', 'd2', 1)).toBe(true); // another task's slots are its own
    expect(await offerSlotsFull(mongo.db, 'task-a', 'd1', 1)).toBe(false);
    expect(await offerSlotsFull(mongo.db, 'task-a', 'd3', 1)).toBe(true);
    expect(await takeOfferSlot(mongo.db, 'task-a', 'd3', 1)).toBe(false);

    await releaseOfferSlot(mongo.db, 'task-a', 'd1');
    await releaseOfferSlot(mongo.db, 'task-a', 'd1');
    expect(await offerSlotsFull(mongo.db, 'task-a', 'd3', 1)).toBe(false);
    expect(await takeOfferSlot(mongo.db, 'task-a', 'd3', 1)).toBe(true);
  });
});
