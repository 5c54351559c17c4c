import { request as httpRequest } from 'node:http';
import { granule, OggPages } from '../../src/gate/broadcast.ts';
import { waitFor } from '../support/onair.ts';

// What a listener of a channel receives across its sources (links of a chained Ogg stream), page by page with the
// time each arrived: for the fallback and edge tests, bench/gate.ts and bench/directory.ts.

/** Opus always counts granule positions at 48 kHz. */
export const RATE = 48_000;

export interface Arrival {
  at: number;
  page: Buffer;
}

/** A listener that keeps every Ogg page it receives with the time it arrived, until closed. */
export function capture(url: string) {
  const arrivals: Arrival[] = [];
  const pages = new OggPages();
  let ended = false;
  let close = () => {};
  const answered = new Promise<{ status: number; type: string | undefined }>((resolve, reject) => {
    const req = httpRequest(url, (res) => {
      resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] });
      res.on('data', (chunk: Buffer) => {
        const at = performance.now();
        for (const page of pages.push(chunk)) arrivals.push({ at, page });
      });
      res.on('close', () => {
        ended = true;
      });
    });
    req.on('error', reject);
    req.end();
    close = () => req.destroy();
  });
  return {
    answered, arrivals, close: () => close(),
    /** Whether the server ended the stream (the test closing it does not count: `close` comes after). */
    ended: () => ended,
  };
}

/** A capture of `url`, with how long its first page of audio took from the request, in ms. */
export function audioListener(url: string) {
  const asked = performance.now();
  const heard = capture(url);
  const firstAudio = waitFor(() => heard.arrivals.find((a) => granule(a.page) > 0n), `audio at ${url}`, 10_000).then((a) => a.at - asked);
  return { ...heard, firstAudio };
}

/** Pages of the capture grouped into links of the chained stream (each begins with a BOS page). */
export function links(arrivals: Arrival[]): Arrival[][] {
  const found: Arrival[][] = [];
  for (const arrival of arrivals) {
    if (arrival.page[5]! & 0x02) found.push([]);
    found.at(-1)?.push(arrival);
  }
  return found;
}

/**
 * The audio a listener has been sent, against the wall clock: at each page that ends a packet, the time since the
 * capture began minus the seconds of audio received so far (granule positions within each link, less its pre-skip).
 * It stays level while audio arrives in real time; a switch that leaves audio out raises it by the missing time.
 */
function deficits(arrivals: Arrival[]): Array<{ at: number; deficit: number; link: number }> {
  const start = arrivals[0]!.at;
  let before = 0;
  const out: Array<{ at: number; deficit: number; link: number }> = [];
  links(arrivals).forEach((link, index) => {
    const preSkip = link[0]!.page.readUInt16LE(27 + link[0]!.page[26]! + 10);
    let heard = 0;
    for (const { at, page } of link) {
      const position = granule(page);
      if (position <= 0n) continue;
      heard = Math.max(0, Number(position) - preSkip) / RATE;
      out.push({ at, deficit: (at - start) / 1000 - (before + heard), link: index });
    }
    before += heard;
  });
  return out;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * What a listener gets where link `to` takes over, in ms: `pause`, how long no page arrived between the last page of the
 * link before and the first audio page of this one (20 ms is the usual spacing of pages); `missing`, how much more audio
 * the listener lacks against the wall clock in the second after than at the last page before (a negative figure is audio
 * sent ahead, which a player buffers). What a source does before its last page (the test's ffmpeg sends its last page
 * up to a second after the audio before it, as it closes) is the source's, not the switch's, and is left out.
 */
export function switchAt(arrivals: Arrival[], to: number): { pause: number; missing: number } {
  const all = links(arrivals);
  const firstAudio = all[to]!.find((a) => granule(a.page) > 0n)!.at;
  const points = deficits(arrivals);
  const before = points.filter((p) => p.link === to - 1).at(-1)!.deficit;
  const after = points.filter((p) => p.link === to && p.at < firstAudio + 1000).map((p) => p.deficit);
  return { pause: firstAudio - all[to - 1]!.at(-1)!.at, missing: (median(after) - before) * 1000 };
}

/** When the first page of audio (granule position above 0) comes out of an Ogg stream: performance.now(). */
export function firstAudioPage(stream: NodeJS.ReadableStream): Promise<number> {
  const pages = new OggPages();
  return new Promise((resolve, reject) => {
    const read = (chunk: Buffer) => {
      if (!pages.push(chunk).some((page) => granule(page) > 0n)) return;
      stream.off('data', read);
      resolve(performance.now());
    };
    stream.on('data', read);
    stream.once('end', () => reject(new Error('the stream ended before its first audio page')));
  });
}
