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
/** The same workflows with the OpenTelemetry interceptors compiled in, for a worker that traces. */
export const TRACING_BUNDLE_PATH = path.join(PROJECT_ROOT, 'dist', 'workflow-bundle-tracing.js');
/** The interceptors that make workflow spans inside the sandbox (worker/tracing.ts exports them). */
const WORKFLOW_TRACING_MODULE = '@temporalio/interceptors-opentelemetry/lib/workflow-interceptors';

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

/**
 * The bundle's path, rebuilt first when its sources changed. Tracing is a
 * bundle of its own: without an endpoint, workflows make no spans at all.
 */
export async function buildBundle(force = false, tracing = false): Promise<string> {
  const bundlePath = tracing ? TRACING_BUNDLE_PATH : BUNDLE_PATH;
  const stampPath = `${bundlePath}.stamp`;
  const want = sourceHash();
  if (!force && fs.existsSync(bundlePath) && fs.existsSync(stampPath)) {
    if (fs.readFileSync(stampPath, 'utf8') === want) return bundlePath;
  }
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_ENTRY,
    workflowInterceptorModules: tracing ? [require.resolve(WORKFLOW_TRACING_MODULE)] : [],
    logger: quietLogger,
  });
  fs.mkdirSync(path.dirname(bundlePath), { recursive: true });
  fs.writeFileSync(bundlePath, code);
  fs.writeFileSync(stampPath, want);
  return bundlePath;
}

const noop = (): void => undefined;
const quietLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: console.warn, error: console.error };
