/**
 * A JSON POST over Node's own http/https client with kept-alive connections: what the worker
 * sends a gateway for every device's command. `fetch` costs several times the CPU per call
 * (its web streams and abort signals), which a rollout pays once per device.
 */
import * as http from 'node:http';
import * as https from 'node:https';

const agents = {
  'http:': new http.Agent({ keepAlive: true }),
  'https:': new https.Agent({ keepAlive: true }),
};

/** Answers above this size are not read whole (a JSON answer of ours is a few dozen bytes). */
const MAX_ANSWER_BYTES = 64 * 1024;

export interface JsonAnswer {
  status: number;
  /** The parsed answer; null when it was empty, too large or not JSON. */
  body: unknown;
}

export function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<JsonAnswer> {
  const target = new URL(url);
  const client = target.protocol === 'https:' ? https : http;
  const agent = agents[target.protocol as keyof typeof agents];
  if (!agent) return Promise.reject(new Error(`not an http(s) URL: ${url}`));
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = client.request(
      target,
      {
        method: 'POST',
        agent,
        timeout: timeoutMs,
        headers: { ...headers, 'content-type': 'application/json', 'content-length': String(payload.length) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_ANSWER_BYTES) chunks.push(chunk);
        });
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: parse(size, chunks) }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function parse(size: number, chunks: Buffer[]): unknown {
  if (size === 0 || size > MAX_ANSWER_BYTES) return null;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return null;
  }
}
