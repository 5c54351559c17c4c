import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Runs every bench/<area>.ts in its own child process, one after another, so one crash does not stop the rest. */
const HERE = fileURLToPath(new URL('.', import.meta.url));
const NOT_AREAS = new Set(['run.ts', 'support.ts']);
const passOn = process.argv.slice(2);

const scripts = readdirSync(HERE).filter((f) => f.endsWith('.ts') && !NOT_AREAS.has(f)).sort();

function runScript(file: string): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [`${HERE}${file}`, ...passOn], { stdio: 'inherit' });
    child.once('error', (error) => resolve(`could not start: ${error.message}`));
    child.once('exit', (code, signal) => resolve(signal ? `killed by ${signal}` : code === 0 ? 'ok' : `exit code ${code}`));
  });
}

const outcomes: Array<{ script: string; outcome: string; seconds: string }> = [];
for (const script of scripts) {
  process.stdout.write(`\n=== bench/${script} ${passOn.join(' ')}\n`);
  const start = performance.now();
  const outcome = await runScript(script);
  outcomes.push({ script, outcome, seconds: ((performance.now() - start) / 1000).toFixed(1) });
}

process.stdout.write('\n=== summary\n');
for (const { script, outcome, seconds } of outcomes) process.stdout.write(`${script.padEnd(20)} ${outcome.padEnd(20)} ${seconds} s\n`);
if (outcomes.some((o) => o.outcome !== 'ok')) process.exitCode = 1;
