/** The one config module: defaults that run the embedded stack, and clear refusals of bad settings. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../../config/config';
import { SERVICE_SECRET_FILE } from '../../config/service-secret';

describe('configuration', () => {
  it('defaults to the embedded stack on the documented ports', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      apiPort: 8080,
      mqttPort: 1883,
      temporalAddress: 'localhost:7233',
      temporalUiPort: 8233,
      temporalExternal: false,
      mongodbExternal: false,
      mongodbUrl: 'mongodb://127.0.0.1:27017/ota',
      worker: {
        maxCachedWorkflows: 1000,
        workflowTaskSlots: 200,
        activityTaskSlots: 100,
        localActivitySlots: 200,
        maxPollers: 100,
      },
    });
    expect(c.apiToken).toBeUndefined();
  });

  it('uses external Temporal and MongoDB when their addresses are given', () => {
    const c = loadConfig({ TEMPORAL_ADDRESS: 'temporal.internal:7233', MONGODB_URL: 'mongodb://db:27017/ota' });
    expect(c).toMatchObject({ temporalExternal: true, mongodbExternal: true, mongodbUrl: 'mongodb://db:27017/ota' });
  });

  it.each([
    [{ OTA_API_PORT: '70000' }, /OTA_API_PORT must be a port number/],
    [{ OTA_MQTT_PORT: 'mqtt' }, /OTA_MQTT_PORT must be a port number/],
    [{ TEMPORAL_ADDRESS: 'no-port' }, /TEMPORAL_ADDRESS must be host:port/],
    [{ MONGODB_URL: 'postgres://x' }, /MONGODB_URL must start with mongodb/],
    [{ OTA_LOG_LEVEL: 'loud' }, /OTA_LOG_LEVEL must be one of/],
    [{ OTA_WORKER_WORKFLOW_TASKS: '1' }, /OTA_WORKER_WORKFLOW_TASKS must be a whole number from 2/],
    [{ OTA_WORKER_MAX_CACHED_WORKFLOWS: 'many' }, /OTA_WORKER_MAX_CACHED_WORKFLOWS must be a whole number/],
    [{ OTA_API_HOST: '0.0.0.0' }, /set OTA_API_TOKEN/],
  ])('refuses %j with a message naming the setting', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  describe('the service identity password', () => {
    const dataDir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'ota-config-'));

    it('is never a value written in the source: unset, it is generated at random', () => {
      const [a, b] = [loadConfig({ OTA_DATA_DIR: dataDir() }), loadConfig({ OTA_DATA_DIR: dataDir() })];
      expect(a.serviceMqttPassword).toMatch(/^[0-9a-f]{64}$/);
      expect(b.serviceMqttPassword).toMatch(/^[0-9a-f]{64}$/);
      expect(a.serviceMqttPassword).not.toBe(b.serviceMqttPassword);
      expect(a.serviceMqttPassword).not.toBe('ota-service-local-secret');
    });

    it('is stored once, readable by its owner alone, and shared by every process of that data folder', () => {
      const dir = dataDir();
      const first = loadConfig({ OTA_DATA_DIR: dir }).serviceMqttPassword;
      expect(loadConfig({ OTA_DATA_DIR: dir }).serviceMqttPassword).toBe(first);
      const file = path.join(dir, SERVICE_SECRET_FILE);
      expect(fs.readFileSync(file, 'utf8')).toBe(first);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    });

    it('is the configured one when given, and then nothing is written', () => {
      const dir = dataDir();
      expect(loadConfig({ OTA_DATA_DIR: dir, OTA_SERVICE_MQTT_PASSWORD: 'from-env' }).serviceMqttPassword).toBe(
        'from-env',
      );
      expect(fs.existsSync(path.join(dir, SERVICE_SECRET_FILE))).toBe(false);
    });
  });

  describe("the gateway's command URL", () => {
    it('is unset by default (the gateway enters its own loopback address) and as given otherwise', () => {
      expect(loadConfig({}).gatewayCommandUrl).toBeUndefined();
      expect(loadConfig({ OTA_GATEWAY_COMMAND_URL: 'http://gateway:8081/commands' }).gatewayCommandUrl).toBe(
        'http://gateway:8081/commands',
      );
    });

    it('refuses one that is not an http(s) URL without query, naming the variable', () => {
      for (const url of ['gateway:8081/commands', 'ftp://gateway/commands', 'http://gateway/commands?x=1']) {
        expect(() => loadConfig({ OTA_GATEWAY_COMMAND_URL: url })).toThrow(
          /OTA_GATEWAY_COMMAND_URL must be an http\(s\) URL without query/,
        );
      }
    });
  });

  describe('OpenTelemetry tracing', () => {
    it('is off without an OTLP endpoint', () => {
      expect(loadConfig({}).otlpTracesUrl).toBeUndefined();
    });

    it('sends to /v1/traces under the base endpoint, or to the traces endpoint as given', () => {
      expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).otlpTracesUrl).toBe(
        'http://collector:4318/v1/traces',
      );
      const both = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://b/t' };
      expect(loadConfig(both).otlpTracesUrl).toBe('https://b/t');
    });

    it('refuses an endpoint that is not an http(s) URL, naming the variable', () => {
      expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4317' })).toThrow(
        /OTEL_EXPORTER_OTLP_ENDPOINT must be an http\(s\) URL/,
      );
    });
  });
});
