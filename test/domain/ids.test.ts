/**
 * Ids built from user-given keys must never let two different inputs share
 * one id. Keys may contain "-", ".", ":", "@" and "_", so the test joins
 * short keys made of exactly those characters in every combination.
 */
import { deviceDocId } from '../../db/devices';
import { recordId } from '../../db/records';
import { commandId, deviceWorkflowId } from '../../domain/ids';
import { newTaskId } from '../../orchestration/task-service';

const PARTS = ['x', '1', 'z', '-', '.', ':', '@', '_'];
/** Every key of one to three of those characters. */
const KEYS = PARTS.flatMap((a) => [a, ...PARTS.flatMap((b) => [a + b, ...PARTS.map((c) => a + b + c)])]);

function expectInjective<T>(inputs: T[], id: (input: T) => string): void {
  const seen = new Map<string, T>();
  for (const input of inputs) {
    const key = id(input);
    const other = seen.get(key);
    if (other !== undefined) throw new Error(`${JSON.stringify(input)} and ${JSON.stringify(other)} share "${key}"`);
    seen.set(key, input);
  }
}

const pairs = KEYS.slice(0, 150).flatMap((a) => KEYS.slice(0, 150).map((b) => [a, b] as const));

describe('identifiers from user-given keys', () => {
  it('give (x-y, z) and (x, y-z) different device workflows', () => {
    expect(deviceWorkflowId({ productKey: 'x-y', deviceKey: 'z' })).not.toBe(
      deviceWorkflowId({ productKey: 'x', deviceKey: 'y-z' }),
    );
  });

  it('never share a device workflow id, a device document id or a record id', () => {
    expectInjective(pairs, ([productKey, deviceKey]) => deviceWorkflowId({ productKey, deviceKey }));
    expectInjective(pairs, ([productKey, deviceKey]) => deviceDocId(productKey, deviceKey));
    const tasks = [newTaskId('task'), newTaskId('verify'), newTaskId('task', 'key-1')];
    expectInjective(
      tasks.flatMap((t) => KEYS.map((k) => [t, k] as const)),
      ([t, k]) => recordId(t, k),
    );
  });

  it('never share a command id between devices or attempts of the tasks the service creates', () => {
    const tasks = [newTaskId('task'), newTaskId('verify'), newTaskId('task', 'a.b-c')];
    expectInjective(
      tasks.flatMap((t) => KEYS.flatMap((k) => [1, 2, 11].map((n) => [t, k, n] as const))),
      ([t, k, n]) => commandId(t, k, n),
    );
  });
});
