import { spawn } from 'node:child_process';

export interface Probed {
  /** ffprobe's format name, e.g. "ogg" or "mov,mp4,m4a,3gp,3g2,mj2". */
  format: string;
  /** Seconds. */
  duration: number;
  hasVideo: boolean;
}

export class NotMedia extends Error {}

interface FfprobeOutput {
  format?: { format_name?: string; duration?: string; probe_score?: number };
  streams?: Array<{ codec_type?: string; disposition?: { attached_pic?: number } }>;
}

// Below a quarter of the maximum score ffmpeg itself warns of a possible misdetection (random bytes land there).
const MIN_PROBE_SCORE = 25;
const MAX_OUTPUT = 1024 * 1024;

function run(file: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', file], {
      stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL',
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (out.length < MAX_OUTPUT) out += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      if (err.length < 4096) err += chunk;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve(out);
      else if (signal) reject(new Error(`ffprobe was killed (${signal}) after ${timeoutMs} ms`));
      else reject(new NotMedia(err.trim().split('\n').at(-1)?.replace(`${file}: `, '') || `ffprobe exited with ${code}`));
    });
  });
}

/** Reads format and duration with ffprobe; throws NotMedia unless the file holds audio or video of some length. */
export async function probe(file: string, timeoutMs = 60_000): Promise<Probed> {
  let parsed: FfprobeOutput;
  try {
    parsed = JSON.parse(await run(file, timeoutMs)) as FfprobeOutput;
  } catch (error) {
    if (error instanceof SyntaxError) throw new NotMedia('ffprobe gave no readable answer');
    throw error;
  }
  const format = parsed.format;
  const media = (parsed.streams ?? []).filter((s) => (s.codec_type === 'audio' || s.codec_type === 'video') && !s.disposition?.attached_pic);
  const duration = Number(format?.duration);
  if (!format?.format_name || (format.probe_score ?? 0) < MIN_PROBE_SCORE) throw new NotMedia('the format is not recognised');
  if (media.length === 0) throw new NotMedia(`the ${format.format_name} file has no audio or video stream`);
  if (!Number.isFinite(duration) || duration <= 0) throw new NotMedia(`the ${format.format_name} file has no duration`);
  return { format: format.format_name, duration, hasVideo: media.some((s) => s.codec_type === 'video') };
}

const TYPES: Record<string, [audio: string, video: string]> = {
  ogg: ['audio/ogg', 'video/ogg'],
  mp3: ['audio/mpeg', 'audio/mpeg'],
  wav: ['audio/wav', 'audio/wav'],
  flac: ['audio/flac', 'audio/flac'],
  aac: ['audio/aac', 'audio/aac'],
  'mov,mp4,m4a,3gp,3g2,mj2': ['audio/mp4', 'video/mp4'],
  'matroska,webm': ['audio/webm', 'video/webm'],
  mpegts: ['video/mp2t', 'video/mp2t'],
};

/** The media type to serve a probed file with: known formats by name, else what the uploader declared if it is media. */
export function contentTypeOf(probed: Probed, declared: string | undefined): string {
  const known = TYPES[probed.format];
  if (known) return known[probed.hasVideo ? 1 : 0];
  const type = declared?.split(';')[0].trim().toLowerCase();
  return type && /^(audio|video)\/[\w.+-]+$/.test(type) ? type : 'application/octet-stream';
}

/** A file name extension for a probed format, so that files on disk open in ordinary players. */
export function extensionOf(format: string): string {
  const first = format.split(',')[0];
  return ({ mov: 'mp4', matroska: 'mkv', mpegts: 'ts' } as Record<string, string>)[first] ?? (first.replace(/[^a-z0-9]/g, '') || 'bin');
}
