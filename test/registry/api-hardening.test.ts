/**
 * What a hostile HTTP client meets: body shape limits checked before any
 * parsing (deep nesting used to answer 500 from structuredClone), 405 with
 * Allow for undeclared methods, the Host/Origin check of a tokenless API
 * (DNS rebinding), and /healthz details kept for authenticated or local callers.
 */
import * as http from 'node:http';
import * as os from 'node:os';
import { startRegistryApi, type RegistryApi } from './api-harness';

interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A request with exactly these headers (fetch would not let a test set Host). */
function raw(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string },
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const deep = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

describe('request body limits', () => {
  let api: RegistryApi;
  beforeAll(async () => {
    api = await startRegistryApi('api_limits', {
      env: { OTA_API_MAX_ARRAY_ITEMS: '1000', OTA_API_MAX_BODY_BYTES: '1048576', OTA_API_MAX_JSON_DEPTH: '16' },
    });
  });
  afterAll(() => api.close());

  it.each([
    ['/v1/devices:batch', `{"devices":${deep(100_000)}}`],
    ['/v1/upgrade-tasks', `{"firmwareId":"fw","sourceVersions":${deep(100_000)}}`],
    ['/v1/devices', deep(100_000)],
  ])('answers 400 to a 100,000-deep array on %s, naming the limit, and writes nothing', async (route, body) => {
    const res = await api.call('POST', route, body);
    expect(res.status).toBe(400);
    expect(res.body.error?.code).toBe('invalid_request');
    expect(res.body.error?.message).toContain('nests deeper than 16 levels');
    expect(await api.db.collection('devices').countDocuments({})).toBe(0);
    expect(await api.db.collection('tasks').countDocuments({})).toBe(0);
  });

  it('lets nesting up to the limit through to validation', async () => {
    const res = await api.call('POST', '/v1/devices', `{"productKey":${deep(15)}}`);
    expect(res.status).toBe(400);
    expect(res.body.error?.details?.map((d) => d.path)).toContain('/productKey');
  });

  it('refuses an array over the item limit before validating it, and counts a nested one too', async () => {
    const items = (n: number) => JSON.stringify(Array.from({ length: n }, (_, i) => `k${i}`));
    for (const body of [`{"devices":${items(1001)}}`, `{"devices":[{"tags":${items(1001)}}]}`]) {
      const res = await api.call('POST', '/v1/devices:batch', body);
      expect(res.status).toBe(400);
      expect(res.body.error?.message).toContain('more than 1000 items');
    }
    // Commas inside strings are not items.
    const ok = await api.call('POST', '/v1/devices:batch', {
      devices: Array.from({ length: 1000 }, (_, i) => ({ productKey: 'pk', deviceKey: `d${i}`, name: 'a,b,c,[,{' })),
    });
    expect([ok.status, ok.body.created]).toEqual([200, 1000]);
  });

  it('answers 413 to a body over the size limit', async () => {
    const res = await api.call('POST', '/v1/devices', {
      productKey: 'pk',
      deviceKey: 'big',
      name: 'x'.repeat(1_100_000),
    });
    expect(res.status).toBe(413);
    expect(await api.db.collection('devices').countDocuments({ deviceKey: 'big' })).toBe(0);
  });
});

describe('methods the document does not declare', () => {
  let api: RegistryApi;
  beforeAll(async () => {
    api = await startRegistryApi('api_405', { apiToken: 't0ken' });
  });
  afterAll(() => api.close());

  it.each([
    ['DELETE', '/v1/devices', 'POST, GET, HEAD'],
    ['PUT', '/v1/devices:batch', 'POST'],
    ['POST', '/v1/devices/pk/dk', 'GET, HEAD, PATCH, DELETE'],
    ['GET', '/v1/upgrade-tasks/t1/cancel', 'POST'],
    ['PATCH', '/v1/firmwares/fw1/verification', 'POST, GET, HEAD'],
    ['POST', '/healthz', 'GET, HEAD'],
  ])('answer %s %s with 405 and Allow', async (method, route, allow) => {
    const res = await api.call(method, route);
    expect([res.status, res.body.error?.code]).toEqual([405, 'method_not_allowed']);
    expect(res.headers.get('allow')).toBe(allow);
  });

  it('still answers 404 for a path that does not exist', async () => {
    expect((await api.call('GET', '/v1/nothing-here')).status).toBe(404);
  });
});

describe('Host and Origin of a tokenless API', () => {
  let api: RegistryApi;
  let port: number;
  beforeAll(async () => {
    api = await startRegistryApi('api_host');
    port = Number(new URL(api.url).port);
  });
  afterAll(() => api.close());

  it.each([
    ['localhost', undefined],
    ['127.0.0.1', undefined],
    ['[::1]', undefined],
    ['LOCALHOST', 'http://localhost'],
    ['127.0.0.1', 'http://127.0.0.1'],
  ])('serves Host %s with Origin %s', async (name, origin) => {
    const headers: Record<string, string> = { host: `${name}:${port}` };
    if (origin) headers.origin = `${origin}:${port}`;
    expect((await raw(`${api.url}/v1/devices`, { headers })).status).toBe(200);
  });

  it('refuses another name, another port, or a foreign Origin with 403, and writes nothing', async () => {
    const body = JSON.stringify({ productKey: 'pk', deviceKey: 'rebound' });
    const json = { 'content-type': 'application/json' };
    const cases: Record<string, string>[] = [
      { host: `attacker.example:${port}` },
      { host: `localhost:${port + 1}` },
      { host: 'localhost' },
      { host: `localhost:${port}`, origin: `http://attacker.example:${port}` },
      { host: `localhost:${port}`, origin: 'null' },
    ];
    for (const headers of cases) {
      const res = await raw(`${api.url}/v1/devices`, { method: 'POST', headers: { ...json, ...headers }, body });
      expect([headers, res.status]).toEqual([headers, 403]);
      expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'forbidden' } });
    }
    expect((await raw(`${api.url}/healthz`, { headers: { host: `attacker.example:${port}` } })).status).toBe(403);
    expect(await api.db.collection('devices').countDocuments({})).toBe(0);
  });

  it('serves the names configured in OTA_API_ALLOWED_HOSTS', async () => {
    const named = await startRegistryApi('api_host_named', { env: { OTA_API_ALLOWED_HOSTS: 'ota.lan' } });
    try {
      const p = Number(new URL(named.url).port);
      expect((await raw(`${named.url}/v1/devices`, { headers: { host: `ota.lan:${p}` } })).status).toBe(200);
      expect((await raw(`${named.url}/v1/devices`, { headers: { host: `localhost:${p}` } })).status).toBe(403);
    } finally {
      await named.close();
    }
  });
});

describe('/healthz details', () => {
  const external = Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  let api: RegistryApi;
  beforeAll(async () => {
    if (!external) throw new Error('this test needs a non-loopback IPv4 interface to call from');
    api = await startRegistryApi('api_health', { apiToken: 'h3alth', listenHost: '0.0.0.0' });
  });
  afterAll(() => api?.close());

  type Report = { status: string; dependencies: Record<string, { status: string; error?: string; detail?: string }> };
  const report = async (base: string, headers: Record<string, string> = {}): Promise<Report> => {
    const res = await raw(`${base}/healthz`, { headers });
    expect(res.status).toBe(503); // the gateway is not part of these tests
    return JSON.parse(res.body) as Report;
  };

  it('shows error texts to a loopback or authenticated caller, and only the states to others', async () => {
    const port = new URL(api.url).port;
    const local = await report(api.url);
    expect(local.dependencies.gateway.error).toMatch(/fetch failed|ECONNREFUSED|gateway/);
    const remoteUrl = `http://${external as string}:${port}`;
    const authed = await report(remoteUrl, { authorization: 'Bearer h3alth' });
    expect(authed.dependencies.gateway.error).toBe(local.dependencies.gateway.error);
    for (const headers of [{}, { authorization: 'Bearer wrong' }] as Record<string, string>[]) {
      const anon = await report(remoteUrl, headers);
      expect(anon.status).toBe('down');
      expect(anon.dependencies.gateway).toEqual({ status: 'down', error: 'unavailable' });
      expect(JSON.stringify(anon)).not.toContain('127.0.0.1');
      expect(Object.keys(anon.dependencies).sort()).toEqual(Object.keys(local.dependencies).sort());
    }
  });
});
