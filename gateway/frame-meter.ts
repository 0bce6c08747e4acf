/**
 * Reads MQTT fixed headers (packet type byte, then the 1-4 byte remaining
 * length) as bytes arrive, and skips the bodies without keeping them (pure).
 * The gateway feeds it every chunk before the broker's parser buffers it, so a
 * packet announcing more than the limit is refused on its header: a client
 * that announces 200 MB and streams it never gets more than one read's worth
 * held in memory.
 */
export type FrameVerdict =
  { ok: true } | { ok: false; reason: 'too_large'; length: number } | { ok: false; reason: 'bad_length' };

export class FrameMeter {
  /** Bytes of the current packet's body still to skip. */
  private remaining = 0;
  private inHeader = true;
  private lengthBytes = 0;
  private length = 0;
  private multiplier = 1;

  constructor(private limit: number) {}

  /** Raised once the client logged in (the limit before login is a CONNECT's). */
  setLimit(limit: number): void {
    this.limit = limit;
  }

  feed(chunk: Buffer): FrameVerdict {
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const skip = Math.min(this.remaining, chunk.length - i);
        this.remaining -= skip;
        i += skip;
        continue;
      }
      if (this.inHeader) {
        // The type byte; the parser itself checks the flags.
        this.inHeader = false;
        this.lengthBytes = 0;
        this.length = 0;
        this.multiplier = 1;
        i += 1;
        continue;
      }
      const byte = chunk[i];
      i += 1;
      this.length += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lengthBytes += 1;
      if (byte & 0x80) {
        if (this.lengthBytes === 4) return { ok: false, reason: 'bad_length' };
        continue;
      }
      // The remaining length counts the variable header and payload, so the packet is at most 5 bytes more.
      if (this.length > this.limit) return { ok: false, reason: 'too_large', length: this.length };
      this.remaining = this.length;
      this.inHeader = true;
    }
    return { ok: true };
  }
}
