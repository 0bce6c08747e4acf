/**
 * Starts the suite's shared stack from the installed binaries — one Temporal
 * dev server (headless, in memory, our search attributes registered) and one
 * MongoDB-compatible database on free ports — and hands their addresses to the
 * test files through the environment. global-teardown.ts stops them, and
 * scripts/test.sh kills anything a crashed run left behind.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../../config/config';
import { startDatabase, startTemporalDevServer } from '../../runtime/infra';
import type { ManagedProcess } from '../../runtime/managed-process';
import { freePort } from '../../runtime/net';

declare global {
  var __OTA_STACK__: { procs: ManagedProcess[]; tmp: string } | undefined;
}

export default async function globalSetup(): Promise<void> {
  const config = loadConfig({ ...process.env, MONGODB_URL: '', TEMPORAL_ADDRESS: '' });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ota-test-'));
  const procs: ManagedProcess[] = [];
  globalThis.__OTA_STACK__ = { procs, tmp };
  const pidFile = process.env.OTA_TEST_PID_FILE;
  const remember = () => {
    if (pidFile) fs.writeFileSync(pidFile, procs.map((p) => p.pid).join('\n'));
  };

  const [temporalPort, dbPort] = [await freePort(), await freePort()];
  procs.push(
    await startTemporalDevServer({
      toolsDir: config.toolsDir,
      port: temporalPort,
      logFile: path.join(tmp, 'temporal.log'),
    }),
  );
  remember();
  if (!process.env.OTA_TEST_MONGODB_URL) {
    procs.push(
      await startDatabase({
        toolsDir: config.toolsDir,
        port: dbPort,
        dataDir: path.join(tmp, 'db'),
        logFile: path.join(tmp, 'database.log'),
      }),
    );
    remember();
  }
  process.env.TEMPORAL_ADDRESS = `127.0.0.1:${temporalPort}`;
  process.env.OTA_TEST_MONGODB_URL ??= `mongodb://127.0.0.1:${dbPort}/`;
  process.env.OTA_TOOLS_DIR = config.toolsDir;
  process.env.OTA_TEST_TMP = tmp;
}
