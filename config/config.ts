/**
 * The one place that reads the environment. Every process (api, worker, gateway,
 * launcher, tests) calls loadConfig() and gets the same validated view, with
 * defaults that make the embedded stack work on a laptop.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { readOrCreateSecret, readOrCreateServiceSecret } from './service-secret';

export interface Config {
  /** HTTP API port. */
  apiPort: number;
  /** Address the API listens on; a non-loopback address requires apiToken. */
  apiHost: string;
  /** Bearer token for /v1; unset means no auth (loopback only). */
  apiToken: string | undefined;
  /** Device-facing MQTT port of the gateway. */
  mqttPort: number;
  /** Address the gateway's MQTT listener binds to. */
  mqttHost: string;
  /**
   * Names this gateway in the registry's presence (`gatewayId` of the devices it has online),
   * so that after a crash it marks offline the devices it left online. Must be stable across
   * restarts and unique among gateways sharing a registry.
   */
  gatewayId: string;
  /** The gateway's small HTTP port for its health and metrics. */
  gatewayHttpPort: number;
  /** Address of that port: loopback by default, 0.0.0.0 when the API runs elsewhere (compose). */
  gatewayHttpHost: string;
  /** Where the API finds the gateway's HTTP port (health). */
  gatewayUrl: string;
  /**
   * Where workers reach this gateway's command endpoint, as the gateway enters it in the
   * gateway directory; unset: `http://127.0.0.1:<its HTTP port>/commands` (one host).
   */
  gatewayCommandUrl: string | undefined;
  /** Where `npm run demo` connects its simulated devices (the gateway's MQTT broker). */
  mqttUrl: string;
  /** Temporal frontend host:port. */
  temporalAddress: string;
  temporalNamespace: string;
  temporalTaskQueue: string;
  /** Port of the Temporal Web UI started by the launcher. */
  temporalUiPort: number;
  /** True when TEMPORAL_ADDRESS was given: the launcher then starts no dev server. */
  temporalExternal: boolean;
  /** MongoDB connection string; the embedded FerretDB's when MONGODB_URL is unset. */
  mongodbUrl: string;
  /** True when MONGODB_URL was given: the launcher then starts no database. */
  mongodbExternal: boolean;
  /** Port of the embedded database when the launcher starts one. */
  embeddedDbPort: number;
  /** Folder for Temporal's and the embedded database's files. */
  dataDir: string;
  /** Folder where the install step puts temporal, the test server and ferretdb. */
  toolsDir: string;
  /** Credentials of the service identity the worker uses to publish commands. */
  serviceMqttUsername: string;
  /** Configured, or generated once into the data folder (never a fixed default). */
  serviceMqttPassword: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Worker tuning (README "Worker tuning"): sticky cache size, task slots and pollers. */
  worker: {
    maxCachedWorkflows: number;
    workflowTaskSlots: number;
    activityTaskSlots: number;
    localActivitySlots: number;
    maxPollers: number;
  };
  /** `json` (one line per event) or `pretty` (readable; the launcher's choice at a terminal). */
  logFormat: 'json' | 'pretty';
  /** The worker's small HTTP port (/metrics, /healthz) and its address. */
  workerHttpPort: number;
  workerHttpHost: string;
  /** Where the Temporal SDK serves its own worker metrics (Prometheus), on workerHttpHost; 0 picks a free port. */
  workerSdkMetricsPort: number;
  /** Firmware files (README "Firmware files"): upload limit, storage, signed download URLs. */
  firmwareFiles: {
    maxBytes: number;
    /** `auto`: GridFS on a real MongoDB, the data folder on FerretDB (whose GridFS reads scan). */
    store: 'auto' | 'gridfs' | 'folder';
    /** How devices reach the API's /firmware-files/ endpoint; the upgrade command's fileUrl starts with it. */
    downloadBaseUrl: string;
    /** Lifetime of a signed download URL, counted from when the command leaves for the device. */
    urlTtlSec: number;
    /** HMAC key of the download URLs: configured, or generated once into the data folder. */
    signingKey: string;
  };
  /** HTTP API hardening (README "Security"): request limits, Host names, optional HTTPS. */
  apiHttp: ApiHttpConfig;
  /** What one device connection may cost the gateway (README "Security"). */
  mqttLimits: MqttLimits;
  /** MQTT over TLS: off unless a certificate and key are configured. */
  mqttTls: MqttTlsConfig | undefined;
  /**
   * How often a device workflow that waits for its device re-reads the device's presence and
   * reported version from the registry: a device event the gateway lost delays an upgrade by
   * at most this long.
   */
  deviceRecheckS: number;
  /** Device events the gateway keeps in its outbox while Temporal is unreachable; past it the oldest is dropped. */
  gatewayOutboxMax: number;
  /** Where the worker sends OpenTelemetry traces (OTLP over HTTP, README "Tracing"); tracing is off when unset. */
  otlpTracesUrl: string | undefined;
}

export interface ApiHttpConfig {
  /** Largest request body read, in bytes; more answers 413 before parsing. */
  maxBodyBytes: number;
  /** Deepest JSON nesting accepted (top level is 1); checked on the raw bytes before parsing. */
  maxJsonDepth: number;
  /** Most items in any one JSON array; checked on the raw bytes before parsing. */
  maxArrayItems: number;
  /** Host names a tokenless API answers to (with its own port), against DNS rebinding. */
  allowedHosts: string[];
  /** PEM certificate chain and key: both set turns the API to HTTPS. */
  tlsCertFile: string | undefined;
  tlsKeyFile: string | undefined;
}

export interface MqttLimits {
  /** Largest MQTT packet accepted once logged in; checked on the fixed header, before the body is buffered. */
  maxPacketBytes: number;
  /** Largest packet before the login succeeded (a CONNECT holds an id, a username and a signature). */
  maxConnectBytes: number;
  /** Time from TCP accept to CONNECT. */
  connectTimeoutMs: number;
  /** Open MQTT connections (TCP and TLS together); more are closed at accept. */
  maxConnections: number;
  /** Messages a device may publish per second on average, and in one burst; the excess is dropped and counted. */
  deviceRatePerSec: number;
  deviceBurst: number;
  /** Orchestration calls (reports, offers) waiting per device; beyond it a message is dropped and counted. */
  deviceQueueDepth: number;
  /**
   * Failed logins per source address per second on average, and in one burst; then logins from it are
   * refused unread. A burst of 0 turns this off (devices behind one NAT or proxy address).
   */
  loginFailuresPerSec: number;
  loginFailureBurst: number;
  /** How long "no such device" is remembered, so repeated logins of unknown devices cost no lookup. */
  unknownDeviceCacheMs: number;
  /** How often live sessions are checked against the registry (deleted devices are disconnected). */
  identityRecheckMs: number;
  /** Bytes waiting to be written to one client before further messages to it are dropped (a client that does not read). */
  maxClientBacklogBytes: number;
}

export const DEFAULT_MQTT_LIMITS: MqttLimits = {
  // The 512 KB payload rule answers 1008 for payloads up to here; beyond, the connection is closed unread.
  maxPacketBytes: 512 * 1024 + 4096,
  maxConnectBytes: 8 * 1024,
  connectTimeoutMs: 10_000,
  maxConnections: 50_000,
  deviceRatePerSec: 20,
  deviceBurst: 100,
  deviceQueueDepth: 100,
  loginFailuresPerSec: 5,
  loginFailureBurst: 50,
  unknownDeviceCacheMs: 10_000,
  identityRecheckMs: 30_000,
  maxClientBacklogBytes: 4 * 1024 * 1024,
};

export interface MqttTlsConfig {
  /** PEM certificate chain and private key of the broker. */
  certFile: string;
  keyFile: string;
  port: number;
  host: string;
  /** PEM CA bundle that device certificates must chain to; unset: no client certificates asked for. */
  clientCaFile: string | undefined;
  /** `required`: a device on the TLS port must present a certificate naming it; `optional`: if it presents one, it must. */
  clientCertificates: 'off' | 'optional' | 'required';
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const ROOT = path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..');

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  // 0 asks the OS for a free port (tests run services side by side this way).
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new ConfigError(`${name} must be a port number between 0 and 65535, got "${raw}"`);
  }
  return n;
}

function count(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return n;
}

function text(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const raw = env[name];
  return raw === undefined || raw === '' ? fallback : raw;
}

function hostPort(name: string, value: string): string {
  if (!/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/.test(value)) {
    throw new ConfigError(`${name} must be host:port, got "${value}"`);
  }
  return value;
}

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** OTA_DEVICE_RECHECK_S when unset. */
export const DEFAULT_DEVICE_RECHECK_S = 60;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = path.resolve(text(env, 'OTA_DATA_DIR', path.join(ROOT, '.data')));
  const embeddedDbPort = port(env, 'OTA_DB_PORT', 27017);
  const mongodbUrl = env.MONGODB_URL ?? '';
  if (mongodbUrl !== '' && !/^mongodb(\+srv)?:\/\//.test(mongodbUrl)) {
    throw new ConfigError(`MONGODB_URL must start with mongodb:// or mongodb+srv://`);
  }
  const logLevel = text(env, 'OTA_LOG_LEVEL', 'info');
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`OTA_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  const logFormat = text(env, 'OTA_LOG_FORMAT', 'json');
  if (logFormat !== 'json' && logFormat !== 'pretty') {
    throw new ConfigError(`OTA_LOG_FORMAT must be json or pretty, got "${logFormat}"`);
  }
  const apiHost = text(env, 'OTA_API_HOST', '127.0.0.1');
  const mqttPort = port(env, 'OTA_MQTT_PORT', 1883);
  const gatewayHttpPort = port(env, 'OTA_GATEWAY_HTTP_PORT', 8081);
  const apiToken = env.OTA_API_TOKEN === '' ? undefined : env.OTA_API_TOKEN;
  if (!apiToken && !isLoopback(apiHost)) {
    throw new ConfigError(
      `OTA_API_HOST=${apiHost} is not a loopback address: set OTA_API_TOKEN so the API is not open to the network`,
    );
  }
  return {
    apiPort: port(env, 'OTA_API_PORT', 8080),
    apiHost,
    apiToken,
    mqttPort,
    mqttHost: text(env, 'OTA_MQTT_HOST', '0.0.0.0'),
    gatewayId: text(env, 'OTA_GATEWAY_ID', defaultGatewayId(mqttPort)),
    gatewayHttpPort,
    gatewayHttpHost: text(env, 'OTA_GATEWAY_HTTP_HOST', '127.0.0.1'),
    gatewayUrl: text(env, 'OTA_GATEWAY_URL', `http://127.0.0.1:${gatewayHttpPort}`),
    gatewayCommandUrl: gatewayCommandUrl(env),
    mqttUrl: text(env, 'OTA_MQTT_URL', `mqtt://127.0.0.1:${mqttPort}`),
    temporalAddress: hostPort(
      'TEMPORAL_ADDRESS',
      text(env, 'TEMPORAL_ADDRESS', `localhost:${port(env, 'OTA_TEMPORAL_PORT', 7233)}`),
    ),
    temporalNamespace: text(env, 'TEMPORAL_NAMESPACE', 'default'),
    temporalTaskQueue: text(env, 'OTA_TASK_QUEUE', 'ota'),
    temporalUiPort: port(env, 'TEMPORAL_UI_PORT', 8233),
    temporalExternal: Boolean(env.TEMPORAL_ADDRESS),
    mongodbUrl: mongodbUrl || `mongodb://127.0.0.1:${embeddedDbPort}/ota`,
    mongodbExternal: mongodbUrl !== '',
    embeddedDbPort,
    dataDir,
    toolsDir: path.resolve(text(env, 'OTA_TOOLS_DIR', path.join(ROOT, '.tools'))),
    serviceMqttUsername: text(env, 'OTA_SERVICE_MQTT_USERNAME', 'ota-service'),
    serviceMqttPassword: env.OTA_SERVICE_MQTT_PASSWORD || readOrCreateServiceSecret(dataDir),
    logLevel: logLevel as Config['logLevel'],
    worker: {
      maxCachedWorkflows: count(env, 'OTA_WORKER_MAX_CACHED_WORKFLOWS', 1000, 0, 100_000),
      workflowTaskSlots: count(env, 'OTA_WORKER_WORKFLOW_TASKS', 200, 2, 1000),
      activityTaskSlots: count(env, 'OTA_WORKER_ACTIVITY_TASKS', 100, 1, 10_000),
      localActivitySlots: count(env, 'OTA_WORKER_LOCAL_ACTIVITIES', 200, 1, 10_000),
      maxPollers: count(env, 'OTA_WORKER_MAX_POLLERS', 100, 2, 1000),
    },
    logFormat,
    workerHttpPort: port(env, 'OTA_WORKER_HTTP_PORT', 8082),
    workerHttpHost: text(env, 'OTA_WORKER_HTTP_HOST', '127.0.0.1'),
    workerSdkMetricsPort: port(env, 'OTA_WORKER_SDK_METRICS_PORT', 8083),
    firmwareFiles: firmwareFilesConfig(env, dataDir, apiHost),
    apiHttp: apiHttpConfig(env),
    mqttLimits: mqttLimits(env),
    mqttTls: mqttTls(env),
    deviceRecheckS: count(env, 'OTA_DEVICE_RECHECK_S', DEFAULT_DEVICE_RECHECK_S, 1, 86_400),
    gatewayOutboxMax: count(env, 'OTA_GATEWAY_OUTBOX_MAX', 100_000, 1, 10_000_000),
    otlpTracesUrl: otlpTracesUrl(env),
  };
}

const FIRMWARE_STORES = ['auto', 'gridfs', 'folder'] as const;
export const DOWNLOAD_SIGNING_KEY_FILE = 'download-signing-key';

function firmwareFilesConfig(env: NodeJS.ProcessEnv, dataDir: string, apiHost: string): Config['firmwareFiles'] {
  const store = text(env, 'OTA_FIRMWARE_STORE', 'auto');
  if (!(FIRMWARE_STORES as readonly string[]).includes(store)) {
    throw new ConfigError(`OTA_FIRMWARE_STORE must be one of ${FIRMWARE_STORES.join(', ')}, got "${store}"`);
  }
  const host = isLoopback(apiHost) || apiHost === '0.0.0.0' || apiHost === '::' ? '127.0.0.1' : apiHost;
  const downloadBaseUrl = text(
    env,
    'OTA_DOWNLOAD_BASE_URL',
    `http://${host.includes(':') ? `[${host}]` : host}:${port(env, 'OTA_API_PORT', 8080)}`,
  ).replace(/\/+$/, '');
  checkHttpUrlWithoutQuery('OTA_DOWNLOAD_BASE_URL', downloadBaseUrl);
  return {
    maxBytes: count(env, 'OTA_FIRMWARE_MAX_BYTES', 512 * 1024 * 1024, 1, 2_147_483_647),
    store: store as Config['firmwareFiles']['store'],
    downloadBaseUrl,
    urlTtlSec: count(env, 'OTA_DOWNLOAD_URL_TTL_SEC', 3600, 10, 7 * 24 * 3600),
    signingKey: env.OTA_DOWNLOAD_SIGNING_KEY || readOrCreateSecret(dataDir, DOWNLOAD_SIGNING_KEY_FILE),
  };
}

/** The API's HTTP settings alone (defaults for an empty environment). */
export function apiHttpConfig(env: NodeJS.ProcessEnv): ApiHttpConfig {
  const tlsCertFile = env.OTA_API_TLS_CERT || undefined;
  const tlsKeyFile = env.OTA_API_TLS_KEY || undefined;
  if ((tlsCertFile === undefined) !== (tlsKeyFile === undefined)) {
    throw new ConfigError('OTA_API_TLS_CERT and OTA_API_TLS_KEY go together: set both for HTTPS, or neither');
  }
  const hosts = text(env, 'OTA_API_ALLOWED_HOSTS', 'localhost,127.0.0.1,[::1]')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
  return {
    maxBodyBytes: count(env, 'OTA_API_MAX_BODY_BYTES', 16 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    // Every request schema nests 6 levels at most; 8 is the floor so none can be refused.
    maxJsonDepth: count(env, 'OTA_API_MAX_JSON_DEPTH', 32, 8, 10_000),
    // An asset tree has up to 100,000 nodes: the default admits it.
    maxArrayItems: count(env, 'OTA_API_MAX_ARRAY_ITEMS', 100_000, 100, 10_000_000),
    allowedHosts: hosts,
    tlsCertFile,
    tlsKeyFile,
  };
}

function mqttLimits(env: NodeJS.ProcessEnv): MqttLimits {
  const d = DEFAULT_MQTT_LIMITS;
  const limits: MqttLimits = {
    maxPacketBytes: count(env, 'OTA_MQTT_MAX_PACKET_BYTES', d.maxPacketBytes, 1024, 256 * 1024 * 1024),
    maxConnectBytes: count(env, 'OTA_MQTT_MAX_CONNECT_BYTES', d.maxConnectBytes, 256, 1024 * 1024),
    connectTimeoutMs: count(env, 'OTA_MQTT_CONNECT_TIMEOUT_MS', d.connectTimeoutMs, 100, 600_000),
    maxConnections: count(env, 'OTA_MQTT_MAX_CONNECTIONS', d.maxConnections, 1, 10_000_000),
    deviceRatePerSec: count(env, 'OTA_MQTT_DEVICE_RATE', d.deviceRatePerSec, 1, 1_000_000),
    deviceBurst: count(env, 'OTA_MQTT_DEVICE_BURST', d.deviceBurst, 1, 1_000_000),
    deviceQueueDepth: count(env, 'OTA_MQTT_DEVICE_QUEUE', d.deviceQueueDepth, 1, 1_000_000),
    loginFailuresPerSec: count(env, 'OTA_MQTT_LOGIN_FAILURE_RATE', d.loginFailuresPerSec, 1, 1_000_000),
    loginFailureBurst: count(env, 'OTA_MQTT_LOGIN_FAILURE_BURST', d.loginFailureBurst, 0, 1_000_000),
    unknownDeviceCacheMs: count(env, 'OTA_MQTT_UNKNOWN_DEVICE_CACHE_MS', d.unknownDeviceCacheMs, 0, 3_600_000),
    identityRecheckMs: count(env, 'OTA_MQTT_IDENTITY_RECHECK_MS', d.identityRecheckMs, 1000, 3_600_000),
    maxClientBacklogBytes: count(env, 'OTA_MQTT_MAX_CLIENT_BACKLOG_BYTES', d.maxClientBacklogBytes, 65_536, 1 << 30),
  };
  if (limits.maxConnectBytes > limits.maxPacketBytes) {
    throw new ConfigError('OTA_MQTT_MAX_CONNECT_BYTES must not exceed OTA_MQTT_MAX_PACKET_BYTES');
  }
  return limits;
}

const CLIENT_CERT_MODES = ['off', 'optional', 'required'] as const;

function mqttTls(env: NodeJS.ProcessEnv): MqttTlsConfig | undefined {
  const certFile = env.OTA_MQTT_TLS_CERT || undefined;
  const keyFile = env.OTA_MQTT_TLS_KEY || undefined;
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) throw new ConfigError('OTA_MQTT_TLS_CERT and OTA_MQTT_TLS_KEY go together');
  const clientCaFile = env.OTA_MQTT_TLS_CLIENT_CA || undefined;
  const mode = text(env, 'OTA_MQTT_TLS_CLIENT_CERT', clientCaFile ? 'optional' : 'off');
  if (!(CLIENT_CERT_MODES as readonly string[]).includes(mode)) {
    throw new ConfigError(`OTA_MQTT_TLS_CLIENT_CERT must be one of ${CLIENT_CERT_MODES.join(', ')}, got "${mode}"`);
  }
  if (mode !== 'off' && !clientCaFile) {
    throw new ConfigError(
      'OTA_MQTT_TLS_CLIENT_CERT needs OTA_MQTT_TLS_CLIENT_CA (the CA device certificates chain to)',
    );
  }
  return {
    certFile: path.resolve(certFile),
    keyFile: path.resolve(keyFile),
    port: port(env, 'OTA_MQTT_TLS_PORT', 8883),
    host: text(env, 'OTA_MQTT_TLS_HOST', text(env, 'OTA_MQTT_HOST', '0.0.0.0')),
    clientCaFile: clientCaFile && path.resolve(clientCaFile),
    clientCertificates: mode as MqttTlsConfig['clientCertificates'],
  };
}

/**
 * The OTLP/HTTP traces URL from the standard OpenTelemetry variables: the
 * traces-specific one as given, else the base endpoint plus /v1/traces.
 */
function otlpTracesUrl(env: NodeJS.ProcessEnv): string | undefined {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || undefined;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT || undefined;
  const url = traces ?? (base && `${base.replace(/\/+$/, '')}/v1/traces`);
  if (url === undefined) return undefined;
  if (!/^https?:\/\/[^\s/?#]+(\/[^\s]*)?$/.test(url)) {
    const name = traces ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT';
    throw new ConfigError(`${name} must be an http(s) URL (OTLP over HTTP), got "${traces ?? base}"`);
  }
  return url;
}

function gatewayCommandUrl(env: NodeJS.ProcessEnv): string | undefined {
  const url = env.OTA_GATEWAY_COMMAND_URL || undefined;
  if (url !== undefined) checkHttpUrlWithoutQuery('OTA_GATEWAY_COMMAND_URL', url);
  return url;
}

function checkHttpUrlWithoutQuery(name: string, url: string): void {
  if (!/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(url)) {
    throw new ConfigError(`${name} must be an http(s) URL without query, got "${url}"`);
  }
}

/** Stable across restarts of one gateway on one host; two gateways on a host differ by port. */
export function defaultGatewayId(mqttPort: number): string {
  return `${os.hostname()}:${mqttPort}`;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** The project root, for processes that need to find tools and bundles. */
export const PROJECT_ROOT = ROOT;
