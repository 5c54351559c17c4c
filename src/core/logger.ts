import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.ts';

/** Paths that may carry secrets; pino replaces them before a line is written. */
const REDACT = [
  'req.headers["x-api-key"]', 'req.headers.authorization', '*.token', '*.passphrase', '*.password',
  '*.apiKey', '*.credentials', 'config.apiKey', 'config.databaseUrl',
];

export function createLogger(level: LogLevel): Logger {
  return pino({ level, redact: { paths: REDACT, censor: '[secret]' } });
}
