/**
 * `node dist/cli/ota.js`: upgrade tasks from a terminal, over the HTTP API.
 * Exit codes: 0 done, 1 the API refused or could not be reached (its error
 * printed), 2 the command line was wrong (usage printed).
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { ApiClient, ApiError } from './api-client';
import {
  controlTask,
  createTask,
  listDevices,
  listTasks,
  retryTask,
  showTask,
  UsageError,
  watchTask,
  type CommandContext,
} from './commands';

const HELP = `Usage: node dist/cli/ota.js <command> [options]

Commands:
  tasks [--status S] [--firmware ID]               upgrade tasks, newest first
  task <taskId>                                    one task: progress and counts per status
  watch <taskId> [--interval SECONDS]              live progress until the task completes or is cancelled
  devices <taskId> [--status S] [--device-key K]   the task's device records (a detail tab)
  create <file.json | ->                           create an upgrade task from a JSON body (- reads stdin)
  pause <taskId> | resume <taskId> | cancel <taskId>
  retry <taskId> [deviceKey ...]                   push failed devices again (all, or the named ones)

Options:
  --api URL      the API (default $OTA_API_URL, else http://127.0.0.1:8080)
  --token T      bearer token (default $OTA_API_TOKEN)
  --limit N      page size of a list (≤ 500); --cursor C for the next page
  --json         print the API's JSON answer
  --help         this text
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      api: { type: 'string' },
      token: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
      status: { type: 'string' },
      firmware: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
      'device-key': { type: 'string' },
      interval: { type: 'string' },
    },
  });
  const [command, ...args] = positionals;
  if (values.help || !command) {
    process.stdout.write(HELP);
    return values.help ? 0 : 2;
  }
  const ctx: CommandContext = {
    api: new ApiClient(
      values.api ?? process.env.OTA_API_URL ?? 'http://127.0.0.1:8080',
      values.token ?? process.env.OTA_API_TOKEN,
    ),
    out: { write: (text) => process.stdout.write(text), isTTY: process.stdout.isTTY === true },
    json: values.json ?? false,
  };
  const page = { status: values.status, limit: values.limit, cursor: values.cursor };
  switch (command) {
    case 'tasks':
      return done(listTasks(ctx, { ...page, firmware: values.firmware }));
    case 'task':
      return done(showTask(ctx, args[0]));
    case 'watch':
      return done(watchTask(ctx, args[0], intervalMs(values.interval)));
    case 'devices':
      return done(listDevices(ctx, args[0], { ...page, deviceKey: values['device-key'] }));
    case 'create':
      return done(createTask(ctx, readBody(args[0])));
    case 'pause':
    case 'resume':
    case 'cancel':
      return done(controlTask(ctx, command, args[0]));
    case 'retry':
      return done(retryTask(ctx, args[0], args.slice(1)));
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

async function done(run: Promise<void>): Promise<number> {
  await run;
  return 0;
}

function intervalMs(text: string | undefined): number {
  if (text === undefined) return 2000;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new UsageError(`--interval must be a positive number of seconds`);
  return seconds * 1000;
}

/** The task body from a file or stdin; malformed JSON is the user's to fix, before any call. */
function readBody(source: string | undefined): unknown {
  if (!source) throw new UsageError('missing the task body: a JSON file, or - for stdin');
  let text: string;
  try {
    text = fs.readFileSync(source === '-' ? 0 : source, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${source}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${source} is not JSON: ${(err as Error).message}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ApiError) {
      process.stderr.write(`error: ${err.code}: ${err.message}\n`);
      for (const d of err.details) process.stderr.write(`  ${d.path || '(body)'}: ${d.message}\n`);
      process.exitCode = 1;
    } else if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`error: ${(err as Error).message}\n\n${HELP}`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
