/**
 * Registry benchmark: prints figures, asserts nothing about speed.
 *
 * Registers BENCH_DEVICES devices (default 100,000) across 4 products,
 * 4 versions and 2 tags through the HTTP API in batches of 10,000, stores an
 * asset tree over one product, then resolves a tag-filtered scope and an
 * asset-tree scope page by page (scanScope: one streamed query; nextScopePage:
 * the resumable page function the orchestration calls) and lists one
 * filtered page over HTTP.
 *
 *   npx tsc -p tsconfig.build.json
 *   MONGODB_URL=mongodb://127.0.0.1:PORT/ node dist/bench/registry.js
 *
 * Against the embedded FerretDB, start one on a scratch folder first:
 *   mkdir -p /tmp/ota-bench-db
 *   .tools/bin/ferretdb --listen-addr 127.0.0.1:27990 --sqlite-url file:/tmp/ota-bench-db/ &
 *   MONGODB_URL=mongodb://127.0.0.1:27990/ node dist/bench/registry.js
 *
 * It works in its own database, `ota_bench_registry`, which it drops first.
 */
import type { AddressInfo } from 'node:net';
import { Connection } from '@temporalio/client';
import { MongoClient } from 'mongodb';
import { createApp } from '../api/app';
import { buildApi } from '../api/routes';
import { loadConfig } from '../config/config';
import { nextScopePage, scanScope } from '../db/scope';
import type { ScopeSpec } from '../domain/scope';
import { silentLogger } from '../runtime/log';

const TOTAL = Number(process.env.BENCH_DEVICES ?? 100_000);
const BATCH = 10_000;
const PRODUCTS = ['pk0', 'pk1', 'pk2', 'pk3'];
const VERSIONS = ['1.0', '1.1', '1.2', '2.0'];
const SITES = 10;
const DB_NAME = 'ota_bench_registry';

const ms = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;
const fmt = (n: number): string => n.toLocaleString('en-US', { maximumFractionDigits: 1 });

function device(i: number): Record<string, unknown> {
  return {
    productKey: PRODUCTS[i % PRODUCTS.length],
    deviceKey: `dev-${String(i).padStart(7, '0')}`,
    firmwareVersion: VERSIONS[Math.floor(i / PRODUCTS.length) % VERSIONS.length],
    tags: { site: `s${i % SITES}`, line: `l${i % 7}` },
    attributes: { rev: i % 3 },
  };
}

async function main(): Promise<void> {
  const url = process.env.MONGODB_URL;
  if (!url) throw new Error('set MONGODB_URL (see the comment at the top of bench/registry.ts)');
  const client = await MongoClient.connect(url, { serverSelectionTimeoutMS: 5000 });
  const db = client.db(DB_NAME);
  await db.dropDatabase();
  const config = loadConfig({ ...process.env, OTA_API_TOKEN: '', OTA_API_HOST: '127.0.0.1' });
  const temporal = Connection.lazy({ address: config.temporalAddress }); // never dialled: no task routes are used
  const api = await buildApi({ config, db, temporal, log: silentLogger });
  const app = createApp({
    log: silentLogger,
    health: { db, temporal, namespace: 'default', taskQueue: 'ota', gatewayUrl: 'http://127.0.0.1:9' },
    routers: api.routers,
    extra: api.extra,
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  const call = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status} ${JSON.stringify(json).slice(0, 300)}`);
    return json;
  };

  console.log(`registry benchmark: ${fmt(TOTAL)} devices, batches of ${fmt(BATCH)}, database ${url}`);

  // 1. Registration through the HTTP API.
  let start = process.hrtime.bigint();
  let created = 0;
  for (let from = 0; from < TOTAL; from += BATCH) {
    const t = process.hrtime.bigint();
    const devices = Array.from({ length: Math.min(BATCH, TOTAL - from) }, (_, i) => device(from + i));
    const answer = await call('POST', '/devices:batch', { devices });
    created += answer.created as number;
    console.log(`  batch ${from / BATCH + 1}: ${fmt(devices.length)} devices in ${fmt(ms(t))} ms`);
  }
  const registerMs = ms(start);
  console.log(
    `registered ${fmt(created)} devices in ${fmt(registerMs / 1000)} s = ${fmt((created / registerMs) * 1000)} registrations/s`,
  );

  // 2. An asset tree over pk0: root → 10 site nodes (selectable) → every pk0 device below its site.
  const nodes: Record<string, unknown>[] = [{ nodeId: 'root', parentId: null, name: 'Fleet' }];
  for (let s = 0; s < SITES; s += 1) nodes.push({ nodeId: `site-${s}`, parentId: 'root', name: `Site ${s}` });
  for (let i = 0; i < TOTAL; i += PRODUCTS.length) {
    nodes.push({
      nodeId: `n${i}`,
      parentId: `site-${i % SITES}`,
      productKey: 'pk0',
      deviceKey: `dev-${String(i).padStart(7, '0')}`,
    });
  }
  start = process.hrtime.bigint();
  await call('PUT', '/asset-trees/fleet', { nodes });
  console.log(`asset tree with ${fmt(nodes.length)} nodes stored in ${fmt(ms(start))} ms`);

  // 3. Scope resolution, streamed.
  const tagSpec: ScopeSpec = {
    productKey: 'pk1',
    sourceVersions: ['1.0', '1.1'],
    scope: 'target',
    filter: { tags: [{ key: 'site', value: 's3' }] },
  };
  const treeSpec: ScopeSpec = {
    productKey: 'pk0',
    sourceVersions: ['1.0', '1.1', '1.2'],
    scope: 'target',
    filter: { assetTrees: [{ treeId: 'fleet', nodeIds: ['site-0', 'site-2', 'site-4'], includeDescendants: true }] },
  };
  for (const [label, spec] of [
    ['tag-filtered scope', tagSpec],
    ['asset-tree scope', treeSpec],
  ] as const) {
    start = process.hrtime.bigint();
    let devices = 0;
    let pages = 0;
    for await (const page of scanScope(db, spec, { pageSize: 500 })) {
      devices += page.devices.length;
      pages += 1;
    }
    console.log(`${label} (scanScope, pages of 500): ${fmt(devices)} devices in ${pages} pages, ${fmt(ms(start))} ms`);

    const pageTimes: number[] = [];
    let cursor: string | null = null;
    for (let p = 0; p < 3; p += 1) {
      const t = process.hrtime.bigint();
      const page: Awaited<ReturnType<typeof nextScopePage>> = await nextScopePage(db, spec, cursor, 500);
      pageTimes.push(ms(t));
      cursor = page.cursor;
      if (cursor === null) break;
    }
    console.log(`${label} (nextScopePage, 500 per page): ${pageTimes.map((t) => `${fmt(t)} ms`).join(', ')}`);
  }

  // 4. One filtered list page over HTTP.
  const latencies: number[] = [];
  for (let i = 0; i < 5; i += 1) {
    const t = process.hrtime.bigint();
    const page = await call('GET', '/devices?productKey=pk2&version=1.2&tag=site:s6&limit=100');
    latencies.push(ms(t));
    if (i === 0)
      console.log(
        `list page: ${(page.items as unknown[]).length} items, next cursor ${page.nextCursor ? 'present' : 'none'}`,
      );
  }
  latencies.sort((a, b) => a - b);
  console.log(
    `GET /v1/devices (product + version + tag, limit 100): median ${fmt(latencies[2])} ms, min ${fmt(latencies[0])} ms`,
  );

  server.closeAllConnections();
  server.close();
  await temporal.close().catch(() => undefined);
  await client.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
