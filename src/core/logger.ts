import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogFormat, LogLevel } from './config.ts';

/** Paths that may carry secrets; pino replaces them before a line is written. */
const REDACT = [
  'req.headers["x-api-key"]', 'req.headers.authorization', '*.token', '*.passphrase', '*.password',
  '*.apiKey', '*.credentials', 'config.apiKey', 'config.databaseUrl', '*.adminToken', '*.accessToken', 'config.directory.adminToken',
];

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** What every line has, or what the line's head already shows. */
const HEAD = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'err']);

function text(value: unknown): string {
  const plain = typeof value === 'string' ? value : JSON.stringify(value);
  return typeof value === 'string' && /^[^\s"=]*$/.test(value) ? plain : JSON.stringify(plain === undefined ? null : value);
}

/**
 * One JSON line of pino as a person reads it: time (UTC), level, message, then the other fields as key=value;
 * an error's stack on the lines below. pino has redacted the secrets before this sees the line.
 */
export function pretty(line: string): string {
  const { level, time, msg, err, ...fields } = JSON.parse(line) as Record<string, unknown> & { err?: { stack?: string; message?: string } };
  const pairs = Object.entries(fields).filter(([name]) => !HEAD.has(name)).map(([name, value]) => `${name}=${text(value)}`);
  const clock = new Date(time as number).toISOString().slice(11, 23);
  const head = [clock, (LEVELS[level as number] ?? String(level)).padEnd(5), msg ?? '', ...pairs].join(' ');
  const stack = err ? `\n    ${(err.stack ?? err.message ?? JSON.stringify(err)).split('\n').join('\n    ')}` : '';
  return `${head}${stack}\n`;
}

/** Writes pino's lines to `out` in the readable form, in this thread. */
function prettyTo(out: NodeJS.WritableStream): DestinationStream {
  return { write: (line: string) => out.write(pretty(line)) };
}

/** JSON lines on standard output, or readable ones on a terminal (format auto) or when asked (pretty). */
export function createLogger(level: LogLevel, format: LogFormat): Logger {
  const options = { level, redact: { paths: REDACT, censor: '[secret]' } };
  const readable = format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true);
  return readable ? pino(options, prettyTo(process.stdout)) : pino(options);
}
