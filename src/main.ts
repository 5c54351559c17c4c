import { ConfigError, loadConfig } from './core/config.ts';
import { runCli } from './cli/cli.ts';
import { createOnair } from './onair.ts';

async function serve(): Promise<void> {
  const config = loadConfig();
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
}

const [command, ...rest] = process.argv.slice(2);
try {
  if (command === 'serve') await serve();
  else process.exitCode = await runCli(command, rest);
} catch (error) {
  const message = error instanceof ConfigError ? `configuration: ${error.message}` : (error as Error).message;
  process.stderr.write(`onair: ${message}\n`);
  process.exit(1);
}
