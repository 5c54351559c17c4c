import type { TStringOptions } from 'typebox';
import { invalid } from '../core/errors.ts';
import { Text } from '../core/http/validation.ts';

/** Where a page ended: the time the list is ordered by (epoch ms) and the id that breaks ties. */
export interface PageCursor {
  at: number;
  id: string;
}

export interface PageTokens {
  /** The next_token after `cursor`: opaque to clients. */
  write(cursor: PageCursor): string;
  /** The cursor of a token this list gave; any other (another list's too) is refused naming `field`. */
  read(token: string, field?: string): PageCursor;
}

/** The page tokens of one list: `kind` is written into each, so that one list refuses another's tokens. */
export function pageTokens(kind: string, id: RegExp = /^[0-9a-f]{32}$/): PageTokens {
  return {
    write: (cursor) => Buffer.from(JSON.stringify([kind, cursor.at, cursor.id])).toString('base64url'),
    read(token, field = 'querystring.start_token') {
      try {
        const [written, at, found] = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown[];
        if (written === kind && Number.isSafeInteger(at) && typeof found === 'string' && id.test(found)) return { at: at as number, id: found };
      } catch { /* refused below */ }
      throw invalid(field, 'is not a next_token this list gave');
    },
  };
}

/** A query parameter of `values` separated by commas (`state=pending,cancelled`); `words` names what they are. */
export function commaList(values: readonly string[], words: string, options: TStringOptions = {}) {
  const one = `(${values.join('|')})`;
  return Text(`^${one}(,${one})*$`, `${words} separated by commas (${values.join(', ')})`, options);
}
