/** `node dist/worker/build-bundle.js`: the install step's "prebuild the workflow bundle". */
import { buildBundle } from './bundle';

const force = process.argv.includes('--force');
// Both variants, so a worker started with tracing on does not run webpack either; one at a time (memory).
buildBundle(force)
  .then(async (plain) => [plain, await buildBundle(force, true)])
  .then(
    (files) => process.stderr.write(`[install] workflow bundles ${files.join(', ')}\n`),
    (err: unknown) => {
      process.stderr.write(`[install] workflow bundle failed: ${String(err)}\n`);
      process.exit(1);
    },
  );
