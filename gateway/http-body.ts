/** A request body read whole, up to a limit: past it the rest is drained and dropped, so the answer still reaches the caller. */
import type * as http from 'node:http';

export class BodyTooLarge extends Error {
  override readonly name = 'BodyTooLarge';
}

export function readBody(req: http.IncomingMessage, maxBytes: number, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () =>
      size > maxBytes
        ? reject(new BodyTooLarge(`${what} is at most ${maxBytes} bytes`))
        : resolve(Buffer.concat(chunks).toString('utf8')),
    );
  });
}
