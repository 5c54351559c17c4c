import { parseArgs } from 'node:util';
import { loadConfig, withConfigFile } from '../core/config.ts';

export const SERVE_USAGE = `onair serve [--config FILE]            start onair; settings from ONAIR_* environment variables and from
                                       FILE or ONAIR_CONFIG (NAME=value lines; the environment wins)`;

/** `onair serve`: runs until SIGTERM or SIGINT, then stops cleanly and exits. */
export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' } } });
  const config = loadConfig(withConfigFile(process.env, values.config));
  // Loaded only here, so that the other commands do not load the whole server.
  const { createOnair } = await import('../onair.ts');
  const onair = await createOnair(config);
  const shutdown = (signal: string) => {
    onair.logger.info({ signal }, 'stopping');
    onair.stop().then(() => process.exit(0), (err: unknown) => {
      onair.logger.error({ err }, 'unclean stop');
      process.exit(1);
    });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  await onair.start();
  return 0;
}
