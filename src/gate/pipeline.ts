import type { ChannelConfig } from '../core/config.ts';
import type { Format } from './contract.ts';

export const FORMATS: Record<Format, { contentType: string; extension: string }> = {
  ogg: { contentType: 'audio/ogg', extension: 'ogg' },
  mpegts: { contentType: 'video/mp2t', extension: 'ts' },
};

export interface RelayPlan {
  channel: ChannelConfig;
  format: Format;
  passphrase: string;
  /** Microseconds the listener waits for its source; undefined waits for ever (static mode). */
  listenTimeoutUs: number | undefined;
  /** Staged recording file, when recording. */
  recordFile: string | undefined;
  /** HLS playlist path, for mpegts (audio+video). */
  hlsPlaylist: string | undefined;
  metadata: Record<string, string>;
  /**
   * The source waits for its admission before anything of it goes out: the relay leaves the push outputs to a pusher
   * that onair feeds once the source is let through (HTTP listeners and HLS are held back by onair itself).
   */
  held: boolean;
}

// Stream tags go into ffmpeg's arguments and the database: names of a few characters, values of plain text.
export const METADATA_KEY = /^[A-Za-z0-9_.-]{1,64}$/;
export const METADATA_VALUE = /^[^\u0000-\u001f\u007f]*$/;
export const METADATA_LIMITS = { values: 32, length: 1000 };

/** What is wrong with stream tags that did not come through the API's validation (an admission's), if anything. */
export function metadataProblem(metadata: Record<string, string>): string | undefined {
  const entries = Object.entries(metadata);
  if (entries.length > METADATA_LIMITS.values) return `more than ${METADATA_LIMITS.values} tags`;
  const wrong = entries.find(([key, value]) => !METADATA_KEY.test(key) || typeof value !== 'string' || !METADATA_VALUE.test(value) || value.length > METADATA_LIMITS.length);
  return wrong && `tag ${JSON.stringify(wrong[0])} must be named with 1 to 64 letters, digits, ., _ or - and be plain text of at most ${METADATA_LIMITS.length} characters`;
}

// Ogg pages of about 20 ms keep the added delay low; every packet is flushed at once.
const OGG = 'f=ogg:page_duration=20000:flush_packets=1';
const MPEGTS = 'f=mpegts:flush_packets=1';

/** Escapes a slave name for the tee muxer (its list is split on '|' with backslash escapes). */
export function teeEscape(name: string): string {
  return name.replace(/[\\'|[\]]/g, (c) => `\\${c}`);
}

function pushSlave(output: ChannelConfig['outputs'][number], format: Format): string | undefined {
  const base = format === 'ogg' ? OGG : MPEGTS;
  switch (output.type) {
    case 'icecast':
      // Icecast takes Ogg as is; of an MPEG-TS stream it takes the AAC audio.
      return format === 'ogg'
        ? `[${base}:onfail=ignore:content_type=audio/ogg]${teeEscape(output.url)}`
        : `[f=adts:select=a:onfail=ignore:content_type=audio/aac]${teeEscape(output.url)}`;
    case 'srt':
      return `[${base}:onfail=ignore]${teeEscape(output.url)}`;
    case 'rtmp':
      // FLV carries H.264 and AAC, not Opus: RTMP restreaming needs the mpegts format.
      return format === 'mpegts' ? `[f=flv:bsfs/a=aac_adtstoasc:onfail=ignore]${teeEscape(output.url)}` : undefined;
  }
}

// A source that stops sending for this long has left: ffmpeg ends its read (exit 0) well before SRT's own 5 s peer
// idle timeout. Senders with Ogg's default 1 s pages send a burst a second, so this leaves them room.
export const SOURCE_IDLE_US = 3_000_000;

/**
 * ffmpeg input options of the SRT listener. The passphrase (token or stream key) is an option, not part of the URL:
 * ffmpeg 5.1 does not URL-decode it, and ffmpeg prints its input URL. A wrong passphrase is refused in the handshake.
 */
export function listenerInput(plan: RelayPlan): string[] {
  const wait = plan.listenTimeoutUs === undefined ? [] : ['-listen_timeout', String(plan.listenTimeoutUs)];
  return [
    '-mode', 'listener', '-passphrase', plan.passphrase, '-pbkeylen', '32', ...wait, '-timeout', String(SOURCE_IDLE_US),
    '-i', `srt://0.0.0.0:${plan.channel.port}`,
  ];
}

/** Push outputs a session of this format skips (RTMP cannot carry Ogg/Opus). */
export function skippedOutputs(channel: ChannelConfig, format: Format): ChannelConfig['outputs'] {
  return channel.outputs.filter((output) => pushSlave(output, format) === undefined);
}

/** One slave of the tee muxer; `output` is the index of the channel's push output it feeds, if it is one. */
export interface Slave {
  spec: string;
  output?: number;
}

/**
 * The tee muxer's slaves of a session, in ffmpeg's order (its "Slave muxer #N" messages count from 0 in this list):
 * stdout (onair's HTTP listeners), HLS, the recording and push outputs.
 */
export function teeSlaves(plan: RelayPlan): Slave[] {
  const own = plan.format === 'ogg' ? OGG : MPEGTS;
  const slaves: Slave[] = [{ spec: `[${own}]pipe\\:1` }];
  if (plan.hlsPlaylist) {
    slaves.push({ spec: `[f=hls:hls_time=2:hls_list_size=6:hls_flags=delete_segments+omit_endlist:onfail=ignore]${teeEscape(plan.hlsPlaylist)}` });
  }
  // Flushed packet by packet (Ogg: a page a second), so that a crash of onair loses at most the last second.
  // Short Ogg pages in recordings too: a replay that joins late can then start within 20 ms of the right position.
  if (plan.recordFile) slaves.push({ spec: `[${plan.format === 'ogg' ? OGG : 'f=mpegts:flush_packets=1'}:onfail=ignore]${teeEscape(plan.recordFile)}` });
  return plan.held ? slaves : [...slaves, ...pushSlaves(plan)];
}

/** The tee muxer's slaves of the channel's push outputs that a session of this format can go to. */
export function pushSlaves(plan: Pick<RelayPlan, 'channel' | 'format'>): Slave[] {
  return plan.channel.outputs.flatMap((output, index) => {
    const spec = pushSlave(output, plan.format);
    return spec ? [{ spec, output: index }] : [];
  });
}

// Ogg/Opus is known from its first page; MPEG-TS needs some video to learn the picture size. No `-fflags nobuffer`:
// it drops the packets read while probing, so every recording (and listener) lost the source's first packet (Ogg:
// 20 ms, the recording starting at pts 648 instead of -312; MPEG-TS: up to the 1 s analysed).
const probeOf = (format: Format) => (format === 'ogg' ? ['-probesize', '4096', '-analyzeduration', '0'] : ['-probesize', '1000000', '-analyzeduration', '1000000']);

/**
 * ffmpeg arguments for one session: listen for the source over SRT, copy its streams without re-encoding
 * and fan them out with the tee muxer (`teeSlaves`).
 */
export function relayArgs(plan: RelayPlan): string[] {
  const metadata = Object.entries(plan.metadata).flatMap(([key, value]) => ['-metadata', `${key}=${value}`]);
  return [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info',
    ...probeOf(plan.format),
    ...listenerInput(plan),
    '-map', '0', '-c', 'copy', ...flvTags(plan), ...metadata,
    '-f', 'tee', teeSlaves(plan).map((slave) => slave.spec).join('|'),
  ];
}

/**
 * ffmpeg arguments of a pusher: the relay's own output (what listeners hear, tags included) read from stdin and copied
 * to the push outputs (`pushSlaves`), for a source that waited for its admission.
 */
export function pusherArgs(plan: Pick<RelayPlan, 'channel' | 'format'>): string[] {
  return [
    '-hide_banner', '-nostats', '-loglevel', 'info', ...probeOf(plan.format), '-f', plan.format, '-i', 'pipe:0',
    '-map', '0', '-c', 'copy', ...flvTags(plan), '-f', 'tee', pushSlaves(plan).map((slave) => slave.spec).join('|'),
  ];
}

// tee hands the MPEG-TS stream tags to every slave and FLV refuses them: give FLV's own (7 H.264, 10 AAC).
const flvTags = (plan: Pick<RelayPlan, 'channel' | 'format'>) =>
  (plan.format === 'mpegts' && plan.channel.outputs.some((o) => o.type === 'rtmp') ? ['-tag:v', '7', '-tag:a', '10'] : []);

/** The fallback's source: silence, or a file played in a loop. */
export function fallbackInput(file: string | undefined): string[] {
  return file === undefined ? ['-f', 'lavfi', '-i', 'anullsrc=r=48000:cl=stereo'] : ['-stream_loop', '-1', '-i', file];
}

/**
 * ffmpeg arguments of a channel's fallback: its source in real time (`-re`), as Ogg/Opus in pages of 20 ms on stdout
 * like a relay's, so that the switch between the two falls within 20 ms of any moment. At a constant bitrate: silence
 * at a variable one is 1.7 KB/s, and Chromium's <audio> had not started playing it after 20 s (at 96 kb/s it does at once).
 */
export function fallbackArgs(input: string[]): string[] {
  return [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', '-re', ...input, '-map', '0:a:0',
    '-c:a', 'libopus', '-b:a', '96k', '-vbr', 'off', '-ar', '48000', '-ac', '2', '-f', 'ogg', '-page_duration', '20000', '-flush_packets', '1', 'pipe:1',
  ];
}

/** ffmpeg's report of a tee slave it dropped (onfail=ignore): the slave's number and the error. */
export function failedSlave(line: string): { slave: number; error: string } | undefined {
  const found = /Slave muxer #(\d+) failed: (.*?), continuing with/.exec(line);
  return found ? { slave: Number(found[1]), error: found[2] } : undefined;
}

type Output = ChannelConfig['outputs'][number];

/** The credentials in an output URL: Icecast's password, an SRT passphrase or stream id, an RTMP stream key (its last path segment). */
function secretsOf(output: Output): string[] {
  const url = new URL(output.url);
  const secrets = [url.password, url.searchParams.get('passphrase') ?? '', url.searchParams.get('streamid') ?? ''];
  if (output.type === 'rtmp') secrets.push(url.pathname.split('/').at(-1) ?? '');
  return secrets.filter((secret) => secret.length > 0).flatMap((secret) => [secret, decodeURIComponent(secret)]);
}

/** An output's URL as it may be shown, logged and stored: no user or password, its other credentials replaced by ***. */
export function publicUrl(output: Output): string {
  const url = new URL(output.url);
  url.username = '';
  url.password = '';
  for (const name of ['passphrase', 'streamid']) if (url.searchParams.has(name)) url.searchParams.set(name, '***');
  if (output.type === 'rtmp') url.pathname = url.pathname.replace(/[^/]+$/, '***');
  return url.toString().replaceAll('%2A%2A%2A', '***');
}

/**
 * Removes the passphrase and every output credential from ffmpeg output before it is kept or logged: output URLs
 * (as given and as escaped for tee) become their public form, and any credential left anywhere becomes ***.
 */
export function redactor(plan: Pick<RelayPlan, 'passphrase' | 'channel'>): (text: string) => string {
  const urls = plan.channel.outputs.flatMap((output) => [output.url, teeEscape(output.url)].map((url) => [url, publicUrl(output)] as const));
  const secrets = [plan.passphrase, ...plan.channel.outputs.flatMap(secretsOf)].flatMap((secret) => [secret, teeEscape(secret)]);
  return (text) => {
    const shown = urls.reduce((line, [url, shownUrl]) => line.replaceAll(url, shownUrl), text);
    return secrets.reduce((line, secret) => line.replaceAll(secret, '***'), shown).replace(/passphrase=[^&\s:]*/g, 'passphrase=***');
  };
}
