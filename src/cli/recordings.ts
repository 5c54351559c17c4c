import { constants, createWriteStream, openAsBlob } from 'node:fs';
import { access } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadable } from 'node:stream/web';
import { parseArgs } from 'node:util';
import { answer, OnairClient, print } from './client.ts';

export const RECORDINGS_USAGE = `onair recordings|prerecordings list EVENT [--after T] [--before T] [--limit N] [--offset N]
                                       the files of an event (T: naive local start, or ISO 8601 with an offset)
onair recordings|prerecordings upload EVENT START FILE [--type MEDIA-TYPE]
                                       store FILE (streamed) for the instance of EVENT starting at START
onair recordings|prerecordings download EVENT START [FILE]
                                       fetch a file (to FILE, or standard output)
onair recordings|prerecordings delete EVENT START
                                       delete a file`;

const TYPES: Record<string, string> = { ogg: 'audio/ogg', opus: 'audio/ogg', mp3: 'audio/mpeg', wav: 'audio/wav', flac: 'audio/flac', mp4: 'video/mp4', m4a: 'audio/mp4', mkv: 'video/x-matroska', webm: 'video/webm', ts: 'video/mp2t' };

async function upload(client: OnairClient, path: string, file: string, type: string | undefined): Promise<number> {
  // openAsBlob defers opening the file: check now, so that a missing file is named before anything is sent.
  await access(file, constants.R_OK).catch((error: NodeJS.ErrnoException) => {
    throw new Error(`cannot read ${file}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
  });
  const blob = await openAsBlob(file);
  const headers = { 'content-type': type ?? TYPES[file.split('.').at(-1)!.toLowerCase()] ?? 'application/octet-stream' };
  return print(await answer(await client.fetch('PUT', path, { headers, body: blob })));
}

async function download(client: OnairClient, path: string, file: string | undefined): Promise<number> {
  const response = await client.fetch('GET', path);
  if (response.status >= 400 || !response.body) return print(await answer(response));
  const out: Writable = file ? createWriteStream(file) : process.stdout;
  await pipeline(Readable.fromWeb(response.body as WebReadable<Uint8Array>), out);
  return 0;
}

/** `onair recordings ...` and `onair prerecordings ...`: the same commands for both kinds. */
export function recordingsCommand(kind: 'recordings' | 'prerecordings') {
  return async (args: string[], client = new OnairClient()): Promise<number> => {
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
        return print(await client.request('GET', `/${kind}/${encodeURIComponent(event)}${query.size ? `?${query}` : ''}`));
      }
      case 'upload':
        if (!event || !start || !file) break;
        return upload(client, key, file, values.type);
      case 'download':
        if (!event || !start) break;
        return download(client, key, file);
      case 'delete':
        if (!event || !start) break;
        return print(await client.request('DELETE', key));
    }
    process.stderr.write(`${RECORDINGS_USAGE}\n`);
    return 2;
  };
}
