import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from '../support/onair.ts';

/** One call a backend received: the method is the last part of the path. */
export interface Call {
  method: string;
  /** The path and query it was posted to. */
  path: string;
  body: Record<string, any>;
}

/** How a backend answers a method: a status and JSON body, after a delay or once `until` resolves; `hang-up`: it closes the connection unanswered. */
export type Answer = { status?: number; body?: unknown; delayMs?: number; until?: Promise<void> } | 'hang-up';

/**
 * A hook backend: a real HTTP server on 127.0.0.1 that records every call and answers as told (200 {} by default).
 * `url` is where an app points: methods are posted to `${url}/{Method}`.
 */
export class Backend {
  readonly calls: Call[] = [];
  #answers = new Map<string, (body: Record<string, any>, n: number) => Answer>();
  #server: Server;
  url = '';

  constructor() {
    this.#server = createServer(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const method = request.url!.split('/').pop()!;
      const body = JSON.parse(Buffer.concat(chunks).toString() || '{}');
      this.calls.push({ method, path: request.url!, body });
      const answer = this.#answers.get(method)?.(body, this.calls.filter((c) => c.method === method).length) ?? {};
      if (answer === 'hang-up') return request.socket.destroy();
      if (answer.delayMs) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
      await answer.until;
      if (response.destroyed) return;
      response.writeHead(answer.status ?? 200, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body ?? {}));
    });
  }

  static async start(): Promise<Backend> {
    const backend = new Backend();
    backend.#server.listen(0, '127.0.0.1');
    await once(backend.#server, 'listening');
    backend.url = `http://127.0.0.1:${(backend.#server.address() as AddressInfo).port}/rest/my_api`;
    return backend;
  }

  /** A URL where nothing listens: a port that was just free. */
  static async down(): Promise<string> {
    const backend = await Backend.start();
    await backend.close();
    return backend.url;
  }

  /** Answers `method` so from now on; `n` counts the calls of that method, this one included. */
  answer(method: string, answer: Answer | ((body: Record<string, any>, n: number) => Answer)): void {
    this.#answers.set(method, typeof answer === 'function' ? answer : () => answer);
  }

  /** Every method answered 200 {} again. */
  reset(): void {
    this.#answers.clear();
  }

  of(method: string): Array<Record<string, any>> {
    return this.calls.filter((call) => call.method === method).map((call) => call.body);
  }

  /** The statuses of the StreamStatusEvents received so far about one stream or listener. */
  statuses(mediaSessionId: string): string[] {
    return this.of('StreamStatusEvent').filter((body) => body.mediaSessionId === mediaSessionId).map((body) => body.status);
  }

  async until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
    await waitFor(check, what, timeoutMs);
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

/** ONAIR_HOOK_APPS with one app per backend given. */
export function appsSetting(...apps: Array<Record<string, unknown>>): string {
  return JSON.stringify(apps);
}
