/**
 * The pino logger keeps the old line shape (level as a word, component, msg)
 * and never lets a credential through, whatever path a caller puts it under.
 */
import { PassThrough } from 'node:stream';
import { createLogger, type LogFormat, type Logger } from '../../runtime/log';

const SECRET = 'S3cr3t-value-never-logged';

function capture(format: LogFormat, level: 'debug' | 'info' = 'debug'): { log: Logger; text: () => string } {
  const out = new PassThrough();
  const chunks: string[] = [];
  out.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  const log = createLogger('test', level, {}, { destination: out, format });
  return { log, text: () => chunks.join('') };
}

/** Every way a secret has reached a log call in this code base, or could. */
function logSecretsEverywhere(log: Logger): void {
  log.info('device registered', { productKey: 'pk', deviceKey: 'dk', deviceSecret: SECRET });
  log.warn('product', { product: { productKey: 'pk', productSecret: SECRET } });
  log.error('login refused', { username: 'dk&pk', password: SECRET, client: { id: 'c', password: SECRET } });
  log.debug('request', { req: { headers: { authorization: `Bearer ${SECRET}`, cookie: SECRET } } });
  log.info('config', { config: { apiToken: SECRET, serviceMqttPassword: SECRET, worker: { token: SECRET } } });
  log.child({ deviceSecret: SECRET, deviceKey: 'dk' }).info('child bindings');
  log
    .child({ session: { secret: SECRET } })
    .child({ token: SECRET })
    .warn('nested children');
}

describe('runtime/log on pino', () => {
  it('writes one JSON line per event with level, component, msg, time and the fields', () => {
    const { log, text } = capture('json');
    log.info('hello', { deviceKey: 'dk', n: 3 });
    log.child({ taskId: 't1' }).warn('from a child', { step: 20 });
    const lines = text()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 'info', component: 'test', msg: 'hello', deviceKey: 'dk', n: 3 });
    expect(typeof lines[0].time).toBe('string');
    expect(lines[1]).toMatchObject({ level: 'warn', msg: 'from a child', taskId: 't1', step: 20 });
  });

  it('drops events below the configured level', () => {
    const { log, text } = capture('json', 'info');
    log.debug('not shown');
    log.info('shown');
    expect(text()).not.toContain('not shown');
    expect(text()).toContain('shown');
  });

  it('prints an error under err with its message and stack', () => {
    const { log, text } = capture('json');
    log.error('failed', { err: new Error('boom') });
    const line = JSON.parse(text()) as { err: { message: string; stack: string; type: string } };
    expect(line.err).toMatchObject({ message: 'boom', type: 'Error' });
    expect(line.err.stack).toContain('boom');
  });

  it.each<LogFormat>(['json', 'pretty'])('never writes a secret (%s)', (format) => {
    const { log, text } = capture(format);
    logSecretsEverywhere(log);
    const out = text();
    expect(out).toContain('[redacted]');
    expect(out).toContain('nested children');
    expect(out).not.toContain(SECRET);
  });
});
