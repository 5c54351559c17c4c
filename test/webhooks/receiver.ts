import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';

/** One request as a webhook receiver saw it. */
export interface Received {
  /** The path and query it was sent to. */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Parsed body. */
  message: { type: string; timestamp: string; data: any };
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** What the next requests are answered (200 until set). */
  answer: (received: Received) => Reply;
  close(): Promise<void>;
}

/** A real HTTP receiver on 127.0.0.1, keeping every request it got. */
export async function startReceiver(): Promise<Receiver> {
  const receiver: Receiver = {
    url: '',
    received: [],
    answer: () => ({ status: 200, body: 'ok' }),
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      let message: Received['message'];
      try {
        message = JSON.parse(body);
      } catch {
        message = { type: '', timestamp: '', data: body };
      }
      const received = { url: request.url ?? '', headers: request.headers, body, message };
      receiver.received.push(received);
      const reply = receiver.answer(received);
      response.writeHead(reply.status, reply.headers).end(reply.body ?? '');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  receiver.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks`;
  return receiver;
}

/** The standardwebhooks verifier's headers from a received request. */
export const signedWith = (received: Received) => ({
  'webhook-id': String(received.headers['webhook-id']),
  'webhook-timestamp': String(received.headers['webhook-timestamp']),
  'webhook-signature': String(received.headers['webhook-signature']),
});
