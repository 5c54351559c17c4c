import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { testDatabases } from '../support/databases.ts';
import { startOnair, tempDir, waitFor, type Running } from '../support/onair.ts';
import { examples, type Example, type HookBackend, type Output, type World } from './examples.ts';

const SEEDS = join(fileURLToPath(new URL('../..', import.meta.url)), '..', 'shared', 'seeds');
/** The ports the examples name: ONAIR_HTTP_PORT's default, and the default channel's (TCP for HTTP, UDP for SRT). */
const NAMED = { http: 10800, gate: 10300, srt: 10300 };
/** curl's options beside the example's own: status and headers with the body, no progress meter. */
const CURLRC = 'include\nsilent\nshow-error\n';
const PLACEHOLDER = /X{32}/;

/** The port when this machine has it free, else a free one (0: any). */
async function portOr(kind: 'tcp' | 'udp', port: number): Promise<number> {
  const holder = kind === 'tcp' ? createServer().listen(port, '127.0.0.1') : createSocket('udp4').bind(port);
  try {
    await once(holder, 'listening');
    return (holder.address() as { port: number }).port;
  } catch {
    return portOr(kind, 0);
  } finally {
    holder.close();
  }
}

/**
 * onair takes the ports the examples name. Where this machine has one taken (CI has them free), onair takes another
 * and curl's config points the named one there; an SRT example cannot be pointed elsewhere, and is skipped.
 */
async function ports(): Promise<typeof NAMED> {
  return { http: await portOr('tcp', NAMED.http), gate: await portOr('tcp', NAMED.gate), srt: await portOr('udp', NAMED.srt) };
}

function curlConfig(chosen: typeof NAMED): string {
  const moved = (['http', 'gate'] as const).filter((port) => chosen[port] !== NAMED[port]);
  return CURLRC + moved.map((port) => `connect-to = localhost:${NAMED[port]}:127.0.0.1:${chosen[port]}\n`).join('');
}

/**
 * seed 004's hook backend: answers each method with what it received, as the seed's backend does (StreamStatusEvent
 * with the status asked for), and keeps every request.
 */
async function hookBackend(): Promise<{ backend: HookBackend; url: string; close(): Promise<void> }> {
  const backend: HookBackend = { received: [], statusEventAnswer: 200 };
  const server = createHttpServer(async (request, response) => {
    let text = '';
    for await (const chunk of request) text += chunk;
    const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, String(value)]));
    backend.received.push({ line: `${request.method} ${request.url} HTTP/${request.httpVersion}`, headers, body: JSON.parse(text) });
    const status = request.url!.endsWith('/StreamStatusEvent') ? backend.statusEventAnswer : 200;
    response.writeHead(status, { 'content-type': 'application/json' }).end(text);
  }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    backend, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/rest/my_api`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

interface Command {
  output(): string;
  errors(): string;
  ended(): boolean;
  exited: Promise<unknown>;
  stop(): Promise<unknown>;
}

/** Runs an example as a shell runs it; curl reads its config file from CURL_HOME. */
function run(command: string, curlHome: string): Command {
  const child = spawn('bash', ['-c', command], { env: { ...process.env, CURL_HOME: curlHome }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let errors = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (errors += chunk));
  const exited = once(child, 'exit');
  const ended = () => child.exitCode !== null || child.signalCode !== null;
  return {
    output: () => output, errors: () => errors, ended, exited,
    async stop() {
      if (!ended()) process.kill(-child.pid!, 'SIGTERM');
      return exited;
    },
  };
}

function parse(text: string): Output {
  const split = text.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = (split === -1 ? text : text.slice(0, split)).split('\r\n');
  const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  const rest = split === -1 ? '' : text.slice(split + 4);
  let body: unknown = rest;
  try {
    body = rest === '' ? null : JSON.parse(rest);
  } catch { /* not JSON */ }
  return { status: Number(statusLine.split(' ')[1]), headers, body, text };
}

async function cannotRun(example: Example, world: World, curlHome: string): Promise<string | undefined> {
  if (example.srt && world.srtPort !== NAMED.srt) {
    // CI runs alone: there the port is free, and a skip would hide the example.
    if (process.env.CI) throw new Error(`UDP ${NAMED.srt} is taken: CI must run the example that sends there`);
    return `UDP ${NAMED.srt} is taken on this machine, and the example sends there`;
  }
  if (!example.needs) return undefined;
  const probe = run(example.needs.shell, curlHome);
  await probe.exited;
  return example.needs.says.test(probe.output()) ? undefined : `needs ${example.needs.what} (\`${example.needs.shell}\` says otherwise)`;
}

async function perform(example: Example, world: World, curlHome: string): Promise<void> {
  for (const given of example.given ?? []) await given(world);
  if ('request' in example.expect) return example.expect.request(world, example.command);
  const command = PLACEHOLDER.test(example.command) ? example.command.replace(PLACEHOLDER, world.token!) : example.command;
  const started = run(command, curlHome);
  const said = () => `${started.output()}\n${started.errors()}`;
  try {
    if ('answer' in example.expect) {
      await waitFor(started.ended, `${example.title} to end: ${said()}`, 30_000);
      await example.expect.answer(parse(started.output()), world);
      return;
    }
    const { meanwhile, until, then } = example.expect.stream;
    if (meanwhile) {
      await waitFor(() => started.output() !== '', `${example.title} to answer: ${said()}`, 30_000, 20);
      await meanwhile(world);
    }
    await waitFor(() => until(world, started.output()), `${example.title} to do what the seed says: ${said()}`, 30_000, 50);
    await started.stop();
    await then?.(world);
  } finally {
    await started.stop();
  }
}

describe('the seeds\' examples, verbatim', () => {
  test('are the seeds\' text character for character, and none is left out', { skip: !existsSync(SEEDS) && `no ${SEEDS} beside the repository` }, () => {
    for (const seed of new Set(examples.map((example) => example.seed))) {
      const file = readdirSync(SEEDS).find((name) => name.startsWith(`${seed}_`));
      assert.ok(file, `seed ${seed} in ${SEEDS}`);
      const text = readFileSync(join(SEEDS, file), 'utf8');
      const ours = examples.filter((example) => example.seed === seed);
      for (const example of ours) {
        // Whole lines, the last one not continued: a copy cut short does not pass.
        const whole = `\n${text}\n`.includes(`\n${example.command}\n`) && !example.command.endsWith('\\');
        assert.ok(whole, `seed ${seed}, ${example.title}: the copy differs from ${file}`);
      }
      const theirs = text.match(/^(curl|ffmpeg|liquidsoap) \\$|^POST \S+ HTTP\/1\.1$/gm) ?? [];
      assert.equal(ours.length, theirs.length, `seed ${seed} has ${theirs.length} examples, the table ${ours.length}`);
    }
  });

  describe('run against onair on the ports they name', () => {
    const curlHome = tempDir('onair-curl-');
    let server: Running | undefined;
    let world: World;
    let hooks: Awaited<ReturnType<typeof hookBackend>> | undefined;

    before(async () => {
      const chosen = await ports();
      writeFileSync(join(curlHome, '.curlrc'), curlConfig(chosen));
      hooks = await hookBackend();
      const apps = [{ name: 'seeds', url: hooks.url, restClientConfig: { StreamStatusEvent: { restOnError: 'FAIL' } } }];
      server = await startOnair({
        database: testDatabases[0]!,
        env: {
          ONAIR_HTTP_PORT: String(chosen.http), ONAIR_SRT_PORT_START: String(chosen.srt), ONAIR_GATE_HTTP_PORT: String(chosen.gate),
          ONAIR_HOOK_APPS: JSON.stringify(apps),
        },
      });
      world = { onair: server.onair, api: server.request, srtPort: chosen.srt, token: undefined, backend: hooks.backend };
    });

    after(async () => {
      await server?.stop();
      await hooks?.close();
      rmSync(curlHome, { recursive: true, force: true });
    });

    for (const example of examples) {
      test(`seed ${example.seed}: ${example.title}`, async (t) => {
        const reason = await cannotRun(example, world, curlHome);
        if (reason) return t.skip(reason);
        await perform(example, world, curlHome);
      });
    }
  });
});
