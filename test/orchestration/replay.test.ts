/**
 * Replays every history recorded from real runs (test/histories, see
 * test/helpers/histories.ts) against today's workflow code: a change that
 * alters the commands a workflow issues fails here (CONTRIBUTING.md says what to do then).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from '@temporalio/worker';
import { HISTORIES_DIR } from '../helpers/histories';
import { workflowBundle } from '../helpers/stack';

const recorded = fs
  .readdirSync(HISTORIES_DIR)
  .filter((f) => f.endsWith('.json') && (f.startsWith('task-') || f.startsWith('device-')))
  .sort();

describe('replay of recorded histories', () => {
  it('has histories of each main path to replay', () => {
    for (const name of ['task-snapshot-push', 'task-increment', 'task-request', 'task-verification', 'task-cancel']) {
      expect(recorded).toContain(`${name}.json`);
    }
  });

  it.each(recorded)('replays %s without a determinism error', async (file) => {
    const history = JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, file), 'utf8'));
    await expect(
      Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, path.basename(file, '.json')),
    ).resolves.toBeUndefined();
  });
});
