/** Stops what global-setup.ts started, newest first, whatever the tests' outcome. */
import * as fs from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const stack = globalThis.__OTA_STACK__;
  if (!stack) return;
  for (const proc of [...stack.procs].reverse()) await proc.stop(5000);
  if (!process.env.OTA_KEEP_TEST_LOGS) fs.rmSync(stack.tmp, { recursive: true, force: true });
}
