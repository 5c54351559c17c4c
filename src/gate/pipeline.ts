import type { ChannelConfig } from '../core/config.ts';

export type Format = 'ogg' | 'mpegts';

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

/**
 * ffmpeg arguments for one session: listen for the source over SRT, copy its streams without re-encoding
 * and fan them out with the tee muxer: stdout (onair's HTTP listeners), HLS, the recording and push outputs.
 */
export function relayArgs(plan: RelayPlan): string[] {
  const own = plan.format === 'ogg' ? OGG : MPEGTS;
  const slaves = [`[${own}]pipe\\:1`];
  if (plan.hlsPlaylist) {
    slaves.push(`[f=hls:hls_time=2:hls_list_size=6:hls_flags=delete_segments+omit_endlist:onfail=ignore]${teeEscape(plan.hlsPlaylist)}`);
  }
  // Flushed packet by packet (Ogg: a page a second), so that a crash of onair loses at most the last second.
  // Short Ogg pages in recordings too: a replay that joins late can then start within 20 ms of the right position.
  if (plan.recordFile) slaves.push(`[${plan.format === 'ogg' ? OGG : 'f=mpegts:flush_packets=1'}:onfail=ignore]${teeEscape(plan.recordFile)}`);
  for (const output of plan.channel.outputs) {
    const slave = pushSlave(output, plan.format);
    if (slave) slaves.push(slave);
  }
  // Ogg/Opus is known from its first page; MPEG-TS needs some video to learn the picture size.
  const probe = plan.format === 'ogg' ? ['-probesize', '4096', '-analyzeduration', '0'] : ['-probesize', '1000000', '-analyzeduration', '1000000'];
  const metadata = Object.entries(plan.metadata).flatMap(([key, value]) => ['-metadata', `${key}=${value}`]);
  // tee hands the MPEG-TS stream tags to every slave and FLV refuses them: give FLV's own (7 H.264, 10 AAC).
  const flvTags = plan.format === 'mpegts' && plan.channel.outputs.some((o) => o.type === 'rtmp') ? ['-tag:v', '7', '-tag:a', '10'] : [];
  return [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info',
    '-fflags', 'nobuffer', ...probe,
    ...listenerInput(plan),
    '-map', '0', '-c', 'copy', ...flvTags, ...metadata,
    '-f', 'tee', slaves.join('|'),
  ];
}

/** Removes the passphrase from ffmpeg output before it is kept or logged. */
export function redact(text: string, passphrase: string): string {
  return text.replaceAll(passphrase, '***').replace(/passphrase=[^&\s:]*/g, 'passphrase=***');
}
