import { readFileSync } from 'node:fs';

/** The version of package.json: what `onair --version`, /ping's header and the start banner say. */
export const VERSION: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;
