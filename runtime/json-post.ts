/**
 * A JSON POST over Node's own http/https client with kept-alive connections: what the worker
 * sends a gateway for every device's command. `fetch` costs several times the CPU per call
 * (its web streams and abort signals), which a rollout pays once per device.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { BodyTooLarge, readBody } from './http-body';

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
        const status = res.statusCode ?? 0;
        readBody(res, MAX_ANSWER_BYTES, 'an answer').then(
          (text) => resolve({ status, body: parse(text) }),
          (err: Error) => (err instanceof BodyTooLarge ? resolve({ status, body: null }) : reject(err)),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function parse(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
