import { cooperate } from '../core/cooperate.ts';
import type { Schedule } from './service.ts';
import type { Show } from './model.ts';

/**
 * The schedule as an RFC 5545 calendar. Each instance is its own VEVENT with DTSTART/DTEND in UTC, so that
 * no VTIMEZONE is needed and every calendar application places it right; its UID is stable per (event, start).
 */

const utc = (epoch: number) => new Date(epoch).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');

/** TEXT values: backslash, semicolon, comma and newlines escaped; other control characters dropped. */
export function escapeText(text: string): string {
  return text.replace(/[\\;,]/g, (c) => `\\${c}`).replace(/\r\n|\r|\n/g, '\\n').replace(/[\u0000-\u0008\u000a-\u001f\u007f]/g, '');
}

/** Folds a content line so that no line exceeds 75 octets, never splitting a UTF-8 character. */
export function fold(line: string): string {
  if (line.length <= 75 && Buffer.byteLength(line) <= 75) return line;
  const parts: string[] = [];
  let current = '';
  let octets = 0;
  for (const char of line) {
    const size = Buffer.byteLength(char);
    if (octets + size > 75) {
      parts.push(current);
      current = ' ';
      octets = 1;
    }
    current += char;
    octets += size;
  }
  parts.push(current);
  return parts.join('\r\n');
}

const CHUNK = 64 * 1024;

/** The calendar, in chunks of about 64 KiB, letting the event loop breathe between them. */
export async function* calendar(schedules: Schedule[], shows: Map<string, Show>, now: number): AsyncGenerator<string> {
  const breathe = cooperate();
  let chunk = [
    'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//onair//programme//EN', 'CALSCALE:GREGORIAN', 'METHOD:PUBLISH',
    'X-WR-CALNAME:onair programme', 'REFRESH-INTERVAL;VALUE=DURATION:PT1H', 'X-PUBLISHED-TTL:PT1H',
  ].map((line) => `${line}\r\n`).join('');
  for (const { event, instances } of schedules) {
    const show = shows.get(event.showId);
    const summary = `${show?.title ?? 'Show'} (${event.type})`;
    for (const instance of instances) {
      chunk += [
        'BEGIN:VEVENT',
        `UID:${event.id}-${instance.start.replace(/[-:]/g, '')}@onair`,
        `DTSTAMP:${utc(now)}`,
        `DTSTART:${utc(instance.startsAt)}`,
        `DTEND:${utc(instance.endsAt)}`,
        `SUMMARY:${escapeText(summary)}`,
        ...(show?.description ? [`DESCRIPTION:${escapeText(show.description)}`] : []),
        `CATEGORIES:${event.type.toUpperCase()}`,
        'END:VEVENT',
      ].map((line) => `${fold(line)}\r\n`).join('');
      if (chunk.length < CHUNK) continue;
      yield chunk;
      chunk = '';
      await breathe();
    }
  }
  yield `${chunk}END:VCALENDAR\r\n`;
}
