/**
 * A body read whole, up to a limit: past it the rest is drained and dropped, so a request's
 * answer still reaches its caller. Serves requests the gateway takes and answers the worker gets.
 */
import type * as http from 'node:http';

export class BodyTooLarge extends Error {
  override readonly name = 'BodyTooLarge';
}

export function readBody(message: http.IncomingMessage, maxBytes: number, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    message.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
    });
    message.on('error', reject);
    message.on('end', () =>
      size > maxBytes
        ? reject(new BodyTooLarge(`${what} is at most ${maxBytes} bytes`))
        : resolve(Buffer.concat(chunks).toString('utf8')),
    );
  });
}
