import { ConfigError } from './core/config.ts';
import { runCli } from './cli/cli.ts';

try {
  process.exitCode = await runCli(process.argv.slice(2));
} catch (error) {
  const message = error instanceof ConfigError ? `configuration: ${error.message}` : (error as Error).message;
  process.stderr.write(`onair: ${message}\n`);
  process.exit(1);
}
