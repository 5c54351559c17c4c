/** Talks to a running onair over HTTP, as any other client would. */
export class OnairClient {
  readonly base: string;
  readonly #apiKey: string | undefined;

  constructor(env: Record<string, string | undefined> = process.env) {
    this.base = (env.ONAIR_URL ?? `http://127.0.0.1:${env.ONAIR_HTTP_PORT ?? 10800}`).replace(/\/$/, '');
    this.#apiKey = env.ONAIR_API_KEY || undefined;
  }

  async request(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
    return answer(await this.fetch(method, path, { headers, body: body === undefined ? undefined : JSON.stringify(body) }));
  }

  /** Sends any body (a file stream, say) with the API key; answers the response unread. */
  async fetch(method: string, path: string, init: { headers?: Record<string, string>; body?: RequestInit['body']; duplex?: 'half' } = {}): Promise<Response> {
    const headers = { ...init.headers, ...(this.#apiKey ? { 'x-api-key': this.#apiKey } : {}) };
    try {
      return await fetch(`${this.base}${path}`, { ...init, method, headers } as RequestInit);
    } catch (error) {
      throw new Error(`cannot reach onair at ${this.base} (${(error as Error & { cause?: Error }).cause?.message ?? (error as Error).message}); is it running? set ONAIR_URL to point elsewhere`);
    }
  }
}

/** Reads a response as JSON when it is JSON. */
export async function answer(response: Response): Promise<{ status: number; body: unknown }> {
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch { /* not JSON: keep the text */ }
  return { status: response.status, body: parsed };
}
