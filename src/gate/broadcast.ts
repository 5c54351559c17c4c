import type { ServerResponse } from 'node:http';

// A listener this far behind is dropped rather than buffered for ever.
const MAX_BEHIND = 2 * 1024 * 1024;
const OGG_HEADER = 27;

/** Splits an Ogg byte stream into whole pages. */
export class OggPages {
  #buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const pages: Buffer[] = [];
    for (;;) {
      const start = this.#buffer.indexOf('OggS');
      if (start === -1) {
        this.#buffer = this.#buffer.subarray(Math.max(0, this.#buffer.length - 3));
        return pages;
      }
      if (start > 0) this.#buffer = this.#buffer.subarray(start);
      if (this.#buffer.length < OGG_HEADER) return pages;
      const segments = this.#buffer[26];
      if (this.#buffer.length < OGG_HEADER + segments) return pages;
      let size = OGG_HEADER + segments;
      for (let i = 0; i < segments; i++) size += this.#buffer[OGG_HEADER + i];
      if (this.#buffer.length < size) return pages;
      pages.push(this.#buffer.subarray(0, size));
      this.#buffer = this.#buffer.subarray(size);
    }
  }
}

/** Granule position of an Ogg page: 0 on header pages, -1 when no packet ends on the page. */
export function granule(page: Buffer): bigint {
  return page.readBigInt64LE(6);
}

/**
 * Fans one live stream out to HTTP listeners. For Ogg, a listener first gets the header pages
 * (OpusHead, OpusTags) and then joins at the next page boundary; other formats pass through as they come.
 */
export class Broadcast {
  readonly contentType: string;
  readonly #listeners = new Set<ServerResponse>();
  readonly #pages: OggPages | undefined;
  readonly #headers: Buffer[] = [];
  #inHeaders = true;
  #ended = false;
  bytes = 0;

  constructor(contentType: string, ogg: boolean) {
    this.contentType = contentType;
    this.#pages = ogg ? new OggPages() : undefined;
  }

  get listeners(): number {
    return this.#listeners.size;
  }

  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (!this.#pages) return this.#send(chunk);
    for (const page of this.#pages.push(chunk)) {
      if (this.#inHeaders) {
        const position = granule(page);
        if (position === 0n || position === -1n) this.#headers.push(page);
        else this.#inHeaders = false;
      }
      this.#send(page);
    }
  }

  add(res: ServerResponse): void {
    if (this.#ended) {
      res.end();
      return;
    }
    res.writeHead(200, {
      'Content-Type': this.contentType,
      'Cache-Control': 'no-store',
      'X-Accel-Buffering': 'no',
      'Access-Control-Allow-Origin': '*',
    });
    res.flushHeaders();
    for (const page of this.#headers) res.write(page);
    this.#listeners.add(res);
    res.on('close', () => this.#listeners.delete(res));
  }

  end(): void {
    this.#ended = true;
    for (const res of this.#listeners) res.end();
    this.#listeners.clear();
  }

  #send(data: Buffer): void {
    for (const res of this.#listeners) {
      if (res.writableLength > MAX_BEHIND) res.destroy();
      else res.write(data);
    }
  }
}
