import { OutboundError, type Outbound, type OutboundRequest } from '../../src/core/outbound/contract.ts';

/** Stand-in until core/outbound is merged: real requests with fetch, the contract's failures. */
export function standInOutbound(): Outbound & { sent: OutboundRequest[] } {
  const sent: OutboundRequest[] = [];
  return {
    sent,
    check: async () => {},
    async send(request) {
      sent.push(request);
      const started = Date.now();
      try {
        const response = await fetch(request.url, {
          method: request.method ?? 'POST', headers: request.headers, body: request.body, redirect: 'manual',
          signal: AbortSignal.timeout(request.timeoutMs ?? 15_000),
        });
        return { status: response.status, headers: Object.fromEntries(response.headers), body: await response.text(), durationMs: Date.now() - started, delivery: undefined };
      } catch (error) {
        const failure = (error as Error).name === 'TimeoutError' ? 'timeout' : 'send';
        throw new OutboundError(failure, (error as Error).message, Date.now() - started);
      }
    },
    deliveries: async () => [],
    delivery: async () => undefined,
  };
}
