/**
 * Structured logs through pino: one JSON line per event on stderr, so the
 * launcher can prefix lines per process and operators can grep or ship them;
 * with OTA_LOG_FORMAT=pretty (the launcher sets it when its output is a
 * terminal) one readable line per event instead. Fields that carry
 * credentials are replaced by "[redacted]" wherever a caller passes them, so a
 * careless `log.info('...', { device })` cannot leak a device secret.
 */
import pino from 'pino';
import pretty from 'pino-pretty';

type Level = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: readonly string[] = ['debug', 'info', 'warn', 'error'];

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

/** Field names that hold credentials anywhere in this code base (and the HTTP header that carries the API token). */
export const SECRET_FIELDS = [
  'deviceSecret',
  'productSecret',
  'password',
  'serviceMqttPassword',
  'secret',
  'token',
  'apiToken',
  'authorization',
  'cookie',
] as const;

/** At the top level of a log line and up to three levels down (`{ device: { deviceSecret } }`, `req.headers.authorization`). */
export const REDACT_PATHS: string[] = SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`, `*.*.*.${f}`]);

export type LogFormat = 'json' | 'pretty';

export interface LoggerOptions {
  /** Where lines go; stderr by default. Tests pass a stream to read what would have been written. */
  destination?: NodeJS.WritableStream;
  format?: LogFormat;
}

let stderr: pino.DestinationStream | undefined;

/** Synchronous stderr writes: a crash right after a log call still leaves the line behind. */
function destinationFor(format: LogFormat, to: NodeJS.WritableStream | undefined): pino.DestinationStream {
  if (format === 'pretty') {
    return pretty({
      destination: to ?? 2,
      sync: true,
      colorize: true,
      singleLine: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,component',
    });
  }
  if (to) return to;
  stderr ??= pino.destination({ dest: 2, sync: true });
  return stderr;
}

function envFormat(): LogFormat {
  return process.env.OTA_LOG_FORMAT === 'pretty' ? 'pretty' : 'json';
}

export function createLogger(
  component: string,
  level: Level = (process.env.OTA_LOG_LEVEL as Level | undefined) ?? 'info',
  base: Record<string, unknown> = {},
  options: LoggerOptions = {},
): Logger {
  const format = options.format ?? envFormat();
  const root = pino(
    {
      level: LEVELS.includes(level) ? level : 'info',
      base: { component },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // `err` is the convention here; `error` shows up too. Both print name, message and stack.
      serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    destinationFor(format, options.destination),
  );
  return wrap(Object.keys(base).length > 0 ? root.child(base) : root);
}

function wrap(p: pino.Logger): Logger {
  return {
    debug: (msg, fields) => p.debug(fields ?? {}, msg),
    info: (msg, fields) => p.info(fields ?? {}, msg),
    warn: (msg, fields) => p.warn(fields ?? {}, msg),
    error: (msg, fields) => p.error(fields ?? {}, msg),
    child: (fields) => wrap(p.child(fields)),
  };
}

/** A logger that drops everything, for tests that assert on behaviour rather than logs. */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};
