import { constants, createWriteStream, openAsBlob } from 'node:fs';
import { access } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadable } from 'node:stream/web';
import { parseArgs } from 'node:util';
import { answer, OnairClient } from './client.ts';
import { progress, type Output } from './output.ts';

export const RECORDINGS_USAGE = `onair recordings|prerecordings list EVENT [--after T] [--before T] [--limit N] [--offset N]
                                       the files of an event (T: naive local start, or ISO 8601 with an offset)
onair recordings|prerecordings upload EVENT START FILE [--type MEDIA-TYPE]
                                       store FILE (streamed) for the instance of EVENT starting at START
onair recordings|prerecordings download EVENT START [FILE]
                                       fetch a file (to FILE, or standard output)
onair recordings|prerecordings delete EVENT START
                                       delete a file`;

const TYPES: Record<string, string> = { ogg: 'audio/ogg', opus: 'audio/ogg', mp3: 'audio/mpeg', wav: 'audio/wav', flac: 'audio/flac', mp4: 'video/mp4', m4a: 'audio/mp4', mkv: 'video/x-matroska', webm: 'video/webm', ts: 'video/mp2t' };

/** A stored file in a sentence. */
const stored = (file: { event: string; start: string; part: number; size: number; format: string; duration: number }) =>
  `stored ${file.event} ${file.start} (part ${file.part}): ${file.size} bytes, ${file.format}, ${file.duration.toFixed(1)} s`;

async function upload(client: OnairClient, out: Output, path: string, file: string, type: string | undefined): Promise<number> {
  // openAsBlob defers opening the file: check now, so that a missing file is named before anything is sent.
  await access(file, constants.R_OK).catch((error: NodeJS.ErrnoException) => {
    throw new Error(`cannot read ${file}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
  });
  const blob = await openAsBlob(file);
  const headers = {
    'content-type': type ?? TYPES[file.split('.').at(-1)!.toLowerCase()] ?? 'application/octet-stream',
    'content-length': String(blob.size),
  };
  const body = Readable.fromWeb(blob.stream() as WebReadable<Uint8Array>).pipe(progress(`uploading ${file}`, blob.size));
  return out.print(await answer(await client.fetch('PUT', path, { headers, body: Readable.toWeb(body) as ReadableStream, duplex: 'half' })), stored);
}

async function download(client: OnairClient, out: Output, path: string, file: string | undefined): Promise<number> {
  const response = await client.fetch('GET', path);
  if (response.status >= 400 || !response.body) return out.print(await answer(response));
  const length = Number(response.headers.get('content-length') ?? Number.NaN);
  const bar = progress(`downloading ${file ?? path}`, Number.isNaN(length) ? undefined : length);
  await pipeline(Readable.fromWeb(response.body as WebReadable<Uint8Array>), bar, file ? createWriteStream(file) : process.stdout);
  return 0;
}

/** `onair recordings ...` and `onair prerecordings ...`: the same commands for both kinds. */
export function recordingsCommand(kind: 'recordings' | 'prerecordings') {
  return async (args: string[], out: Output, client = new OnairClient()): Promise<number> => {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { after: { type: 'string' }, before: { type: 'string' }, limit: { type: 'string' }, offset: { type: 'string' }, type: { type: 'string' } },
    });
    const [verb, event, start, file] = positionals;
    const key = `/${kind}/${encodeURIComponent(event ?? '')}/${encodeURIComponent(start ?? '')}`;
    switch (verb) {
      case 'list': {
        if (!event) break;
        const query = new URLSearchParams(Object.entries(values).filter(([name, v]) => name !== 'type' && typeof v === 'string') as [string, string][]);
        return out.print(await client.request('GET', `/${kind}/${encodeURIComponent(event)}${query.size ? `?${query}` : ''}`));
      }
      case 'upload':
        if (!event || !start || !file) break;
        return upload(client, out, key, file, values.type);
      case 'download':
        if (!event || !start) break;
        return download(client, out, key, file);
      case 'delete':
        if (!event || !start) break;
        return out.print(await client.request('DELETE', key), () => `deleted the ${kind.slice(0, -1)} of ${event} ${start}`);
    }
    process.stderr.write(`${RECORDINGS_USAGE}\n`);
    return 2;
  };
}
