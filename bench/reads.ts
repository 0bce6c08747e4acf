/**
 * The read figures alone, on a database of their own (no Temporal, no services):
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/reads.js [--sizes 10000,100000] [--tasks 1000] [--runs 5] [--tools-dir DIR]
 *
 * --tools-dir picks another build of the embedded database (e.g. one without the
 * index pushdown) to compare; FERRETDB_SQLITE_INDEX_PUSHDOWN=off turns it off in ours.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/config';
import { connectMongo } from '../db/mongo';
import { startDatabase } from '../runtime/infra';
import { freePort } from '../runtime/net';
import { dbReader, formatFigure, readFigures, watchDatabaseCpu } from './read-figures';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,100000' },
    tasks: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '5' },
    'tools-dir': { type: 'string' },
  },
});

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ota-bench-reads-'));
  const port = await freePort();
  const database = await startDatabase({
    toolsDir: values['tools-dir'] ?? loadConfig({}).toolsDir,
    port,
    dataDir: path.join(dir, 'db'),
    logFile: path.join(dir, 'database.log'),
  });
  watchDatabaseCpu(database.pid);
  const mongo = await connectMongo(`mongodb://127.0.0.1:${port}/ota`);
  try {
    process.stdout.write('| read | time (median) |\n| --- | --- |\n');
    await readFigures(
      mongo.db,
      dbReader(mongo.db),
      { sizes: values.sizes.split(',').map(Number), taskCount: Number(values.tasks), runs: Number(values.runs) },
      (f) => process.stdout.write(`| ${f.what} | ${formatFigure(f)} |\n`),
    );
  } finally {
    await mongo.close();
    await database.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`benchmark failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
