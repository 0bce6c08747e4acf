/**
 * The workflow bundle: built once at install time so each worker start skips
 * webpack (seconds of CPU and ~250 MB), rebuilt only when workflow code changes.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { PROJECT_ROOT } from '../config/config';

export const WORKFLOWS_ENTRY = path.join(PROJECT_ROOT, 'workflows', 'index.ts');
export const BUNDLE_PATH = path.join(PROJECT_ROOT, 'dist', 'workflow-bundle.js');
const STAMP_PATH = `${BUNDLE_PATH}.stamp`;

/** Everything webpack may pull into the bundle: our workflow-safe folders and the lockfile. */
function sourceHash(): string {
  const hash = crypto.createHash('sha256');
  for (const dir of ['workflows', 'domain']) {
    const abs = path.join(PROJECT_ROOT, dir);
    if (!fs.existsSync(abs)) continue;
    for (const file of fs.readdirSync(abs, { recursive: true }).map(String).sort()) {
      if (!file.endsWith('.ts')) continue;
      hash.update(file).update(fs.readFileSync(path.join(abs, file)));
    }
  }
  hash.update(fs.readFileSync(path.join(PROJECT_ROOT, 'package-lock.json')));
  return hash.digest('hex');
}

export async function buildBundle(force = false): Promise<string> {
  const want = sourceHash();
  if (!force && fs.existsSync(BUNDLE_PATH) && fs.existsSync(STAMP_PATH)) {
    if (fs.readFileSync(STAMP_PATH, 'utf8') === want) return BUNDLE_PATH;
  }
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_ENTRY, logger: quietLogger });
  fs.mkdirSync(path.dirname(BUNDLE_PATH), { recursive: true });
  fs.writeFileSync(BUNDLE_PATH, code);
  fs.writeFileSync(STAMP_PATH, want);
  return BUNDLE_PATH;
}

const noop = (): void => undefined;
const quietLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: console.warn, error: console.error };
