/**
 * Recorded workflow histories for the replay tests. Recording is deliberate:
 * `OTA_RECORD_HISTORIES=1 npx jest test/orchestration` rewrites the files from
 * real runs; a normal run only replays what is committed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

export const HISTORIES_DIR = path.resolve(__dirname, '../histories');

export async function recordHistory(client: Client, workflowId: string, name: string): Promise<void> {
  if (!process.env.OTA_RECORD_HISTORIES) return;
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  fs.writeFileSync(path.join(HISTORIES_DIR, `${name}.json`), historyToJSON(history));
}
