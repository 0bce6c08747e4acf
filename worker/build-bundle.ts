/** `node dist/worker/build-bundle.js`: the install step's "prebuild the workflow bundle". */
import { buildBundle } from './bundle';

buildBundle(process.argv.includes('--force')).then(
  (file) => process.stderr.write(`[install] workflow bundle ${file}\n`),
  (err: unknown) => {
    process.stderr.write(`[install] workflow bundle failed: ${String(err)}\n`);
    process.exit(1);
  },
);
