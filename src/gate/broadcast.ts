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

const BOS = 0x02;
const EOS = 0x04;

/** Whether an Ogg page is the last of its stream. */
export const endsStream = (page: Buffer): boolean => (page[5]! & EOS) !== 0;

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, byte) => {
  let r = byte << 24;
  for (let bit = 0; bit < 8; bit++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
  return r >>> 0;
});

/** Ogg's page checksum (CRC-32, polynomial 0x04c11db7, not reflected), over the page with its checksum field zeroed. */
function checksum(page: Buffer): number {
  let crc = 0;
  for (const byte of page) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ byte) & 0xff]!) >>> 0;
  return crc;
}

/** A copy of an Ogg page as page `sequence` of stream `serial` at granule `position`, with its checksum made again. */
function rewritten(page: Buffer, serial: number, sequence: number, position: bigint): Buffer {
  const copy = Buffer.from(page);
  copy.writeBigInt64LE(position, 6);
  copy.writeUInt32LE(serial, 14);
  copy.writeUInt32LE(sequence, 18);
  copy.writeUInt32LE(0, 22);
  copy.writeUInt32LE(checksum(copy), 22);
  return copy;
}

/**
 * Makes a running Ogg stream (the fallback, which runs on while a live source is on air) a new link of the listeners'
 * chained stream each time it takes over: its header pages under a fresh serial number, then its pages with sequence
 * numbers and granule positions counted from there, as if it had just started.
 */
export class Relink {
  readonly #headers: Buffer[] = [];
  #inHeaders = true;
  /** Granule position of the last page of the stream that ended a packet. */
  #last = 0n;
  #link: { serial: number; sequence: number; base: bigint } | undefined;

  /** Starts a new link, unless one is under way: answers its header pages as far as the stream has sent them. */
  start(): Buffer[] {
    if (this.#link) return [];
    const serial = Math.floor(Math.random() * 0x1_0000_0000);
    this.#link = { serial, sequence: this.#headers.length, base: this.#last };
    return this.#headers.map((page, sequence) => rewritten(page, serial, sequence, 0n));
  }

  stop(): void {
    this.#link = undefined;
  }

  /** Takes the stream's next page; answers it as a page of the link under way, if there is one. */
  page(page: Buffer): Buffer | undefined {
    const position = granule(page);
    if (this.#inHeaders && position > 0n) this.#inHeaders = false;
    if (this.#inHeaders) this.#headers.push(page);
    const link = this.#link;
    const out = link && rewritten(page, link.serial, link.sequence++, position > 0n ? position - link.base : position);
    if (position > 0n) this.#last = position;
    return out;
  }
}

let sent = 0;

/** Bytes written to listeners by every Broadcast of this process since it started. */
export function bytesSent(): number {
  return sent;
}

/**
 * Fans a channel's stream out to HTTP listeners, whichever source feeds it. For Ogg, it is fed whole pages: a page
 * that begins a stream (a new link: the fallback, a live source) makes its header pages (OpusHead, OpusTags) those
 * that a listener joining later gets first, before joining at the next page; other formats pass through as they come.
 */
export class Broadcast {
  readonly contentType: string;
  readonly ogg: boolean;
  readonly #listeners = new Set<ServerResponse>();
  readonly #onIdle: () => void;
  #headers: Buffer[] = [];
  #inHeaders = true;
  #ended = false;

  constructor(contentType: string, ogg: boolean, onIdle: () => void = () => {}) {
    this.contentType = contentType;
    this.ogg = ogg;
    this.#onIdle = onIdle;
  }

  get listeners(): number {
    return this.#listeners.size;
  }

  /** Ogg: one whole page; other formats: any chunk. */
  write(data: Buffer): void {
    if (this.ogg) this.#keepHeaders(data);
    for (const res of this.#listeners) {
      if (res.writableLength > MAX_BEHIND) res.destroy();
      else {
        res.write(data);
        sent += data.length;
      }
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
    res.on('close', () => {
      if (this.#listeners.delete(res) && this.#listeners.size === 0) this.#onIdle();
    });
  }

  end(): void {
    this.#ended = true;
    const listeners = [...this.#listeners];
    this.#listeners.clear();
    for (const res of listeners) res.end();
  }

  #keepHeaders(page: Buffer): void {
    if (page[5]! & BOS) {
      this.#headers = [];
      this.#inHeaders = true;
    }
    if (!this.#inHeaders) return;
    const position = granule(page);
    if (position === 0n || position === -1n) this.#headers.push(page);
    else this.#inHeaders = false;
  }
}
