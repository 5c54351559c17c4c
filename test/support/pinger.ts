import { fork, type ChildProcess } from 'node:child_process';
import { Agent, get } from 'node:http';
import { once } from 'node:events';

/**
 * Asks a server's /ping over and over from a process of its own, as an outside client would: a client in the
 * server's own process would wait for its own turns on the event loop too, and count them against the server.
 */
export class Pinger {
  readonly #child: ChildProcess;

  private constructor(child: ChildProcess) {
    this.#child = child;
  }

  static async start(): Promise<Pinger> {
    const child = fork(import.meta.filename, ['--pinger'], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await once(child, 'message');
    return new Pinger(child);
  }

  /** Runs `request` while pinging `base`; answers its answer, how long it took and the slowest /ping meanwhile (ms). */
  async during<T>(base: string, request: () => Promise<T>): Promise<{ answer: T; ms: number; slowestPing: number }> {
    this.#child.send({ ping: base });
    await once(this.#child, 'message');
    const sent = performance.now();
    const answer = await request();
    const ms = performance.now() - sent;
    this.#child.send({ stop: true });
    const [slowest] = await once(this.#child, 'message') as [{ slowestPing: number }];
    return { answer, ms, slowestPing: slowest.slowestPing };
  }

  async stop(): Promise<void> {
    const exited = once(this.#child, 'exit');
    this.#child.kill();
    await exited;
  }
}

function pingOnce(base: string, agent: Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    get(`${base}/ping`, { agent }, (response) => {
      response.resume();
      response.on('end', resolve);
    }).on('error', reject);
  });
}

/** The child: pings from a `ping` message until a `stop` one, then answers the slowest round trip. */
function serve(): void {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let pinging: Promise<number> | undefined;
  let stopping = false;
  const loop = async (base: string) => {
    let slowest = 0;
    while (!stopping) {
      const sent = performance.now();
      await pingOnce(base, agent);
      slowest = Math.max(slowest, performance.now() - sent);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    return slowest;
  };
  process.on('message', async (message: { ping?: string; stop?: boolean }) => {
    if (message.ping !== undefined) {
      stopping = false;
      // The first round trip opens the connection: the server is pinged from a warm socket only.
      await pingOnce(message.ping, agent);
      pinging = loop(message.ping);
      process.send!({ started: true });
    } else if (message.stop) {
      stopping = true;
      process.send!({ slowestPing: await pinging });
    }
  });
  process.send!({ ready: true });
}

if (process.argv[2] === '--pinger') serve();
