/**
 * Simulator CLI: run a fleet of EnOS devices against a gateway until Ctrl-C
 * (or --duration), printing a summary every few seconds. The devices must be
 * registered (e.g. POST /v1/devices:batch) with the secrets given here.
 */
import { parseArgs } from 'node:util';
import { Fleet, fleetSpecs } from './fleet';
import type { Behaviour, SimSignMethod } from './types';

const HELP = `Usage: node dist/simulator/cli.js [options]

  --url URL              gateway MQTT URL (default mqtt://127.0.0.1:1883, or OTA_MQTT_URL)
  --product KEY          productKey of every device (required)
  --count N              number of devices, 1..10000+ (default 10)
  --prefix P             deviceKey prefix; devices are P0, P1, … (default sim-)
  --start N              first index (default 0)
  --secret S             deviceSecret of every device; "{dk}" is replaced by the deviceKey (default secret-{dk})
  --version V            firmware version the devices run at start (default 1.0.0)
  --behaviour B          succeed | fail:CODE | decline | silent | request | slow:MS | drop:MS:old|new | offline:MS
                         (default succeed)
  --step-delay MS        delay before each progress step (default 200)
  --sign-method M        sha256 | hmacsha256 | sha1 | hmacsha1 | md5 | hmacmd5 (default sha256)
  --upper                send the signature in upper-case hex (Java 1.x style with hmacsha1)
  --concurrency N        concurrent CONNECTs (default 200)
  --duration S           stop after S seconds (default: run until Ctrl-C)
  --help                 this text
`;

export function parseBehaviour(text: string, stepDelayMs: number): Behaviour {
  const [kind, a, b] = text.split(':');
  const num = (v: string | undefined, what: string) => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n)) throw new Error(`--behaviour ${kind} needs ${what}`);
    return n;
  };
  switch (kind) {
    case 'succeed':
      return { kind, stepDelayMs };
    case 'fail':
      return { kind, code: num(a, 'a negative code, e.g. fail:-2'), stepDelayMs };
    case 'decline':
    case 'silent':
      return { kind };
    case 'request':
      return { kind, stepDelayMs };
    case 'slow':
      return { kind, downloadMs: num(a, 'a download time in ms, e.g. slow:30000'), stepDelayMs };
    case 'drop':
      if (b !== 'old' && b !== 'new') throw new Error('--behaviour drop needs drop:MS:old or drop:MS:new');
      return { kind, reconnectAfterMs: num(a, 'a reconnect delay in ms'), comeBackOn: b, stepDelayMs };
    case 'offline':
      return { kind, forMs: num(a, 'a period in ms, e.g. offline:60000'), then: { kind: 'succeed', stepDelayMs } };
    default:
      throw new Error(`unknown behaviour "${text}"`);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: process.env.OTA_MQTT_URL ?? 'mqtt://127.0.0.1:1883' },
      product: { type: 'string' },
      count: { type: 'string', default: '10' },
      prefix: { type: 'string', default: 'sim-' },
      start: { type: 'string', default: '0' },
      secret: { type: 'string', default: 'secret-{dk}' },
      version: { type: 'string', default: '1.0.0' },
      behaviour: { type: 'string', default: 'succeed' },
      'step-delay': { type: 'string', default: '200' },
      'sign-method': { type: 'string', default: 'sha256' },
      upper: { type: 'boolean', default: false },
      concurrency: { type: 'string', default: '200' },
      duration: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  if (!values.product) throw new Error('--product is required (see --help)');
  const signMethods: SimSignMethod[] = ['sha256', 'hmacsha256', 'sha1', 'hmacsha1', 'md5', 'hmacmd5'];
  const signMethod = values['sign-method'] as SimSignMethod;
  if (!signMethods.includes(signMethod)) throw new Error(`--sign-method must be one of ${signMethods.join(', ')}`);
  const behaviour = parseBehaviour(values.behaviour, Number(values['step-delay']));
  const secretTemplate = values.secret;
  const specs = fleetSpecs({
    productKey: values.product,
    count: Number(values.count),
    prefix: values.prefix,
    start: Number(values.start),
    version: values.version,
    behaviour,
    secret: (dk) => secretTemplate.replaceAll('{dk}', dk),
  }).map((s) => ({ ...s, signMethod, upperCaseSign: values.upper }));

  const fleet = new Fleet({ url: values.url, maxConcurrentConnects: Number(values.concurrency) }, specs);
  const print = () => process.stdout.write(`${JSON.stringify({ at: new Date().toISOString(), ...fleet.summary() })}\n`);
  const ticker = setInterval(print, 5000);
  const stop = async () => {
    clearInterval(ticker);
    print();
    await fleet.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  const accepted = await fleet.connect();
  process.stdout.write(`${accepted} of ${specs.length} devices logged in\n`);
  if (values.duration) setTimeout(() => void stop(), Number(values.duration) * 1000);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`simulator: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
