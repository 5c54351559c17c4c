// TEMPORARY: a stand-in for the outbound branch's client, removed when it is merged.
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { OutboundError, type DeliveryAttempt, type Outbound } from './contract.ts';

export function standinOutbound(clock: Clock): Outbound {
  const log: DeliveryAttempt[] = [];
  return {
    async check(url, field) {
      if (!/^https?:\/\//.test(url)) throw new (await import('../errors.ts')).InvalidInput(field, 'must be an http or https URL');
    },
    async send(request) {
      const started = performance.now();
      const id = randomUUID();
      const at = clock.now();
      const entry = (status: number | null, error: string | null, headers: Record<string, string>, excerpt: string | null): void => {
        if (request.log) log.push({ ...request.log, id, at, url: request.url, requestHeaders: request.headers ?? {}, status, durationMs: performance.now() - started, error, responseHeaders: headers, excerpt });
      };
      try {
        const response = await fetch(request.url, { method: request.method ?? 'POST', headers: request.headers, body: request.body, redirect: 'manual', signal: AbortSignal.timeout(request.timeoutMs ?? 15_000) });
        const body = await response.text();
        const headers = Object.fromEntries(response.headers);
        entry(response.status, response.ok ? null : `answered ${response.status}`, headers, body.slice(0, 1024));
        return { status: response.status, headers, body, durationMs: performance.now() - started, delivery: request.log ? id : undefined };
      } catch (error) {
        entry(null, String(error), {}, null);
        throw new OutboundError('send', String(error), performance.now() - started, request.log ? id : undefined);
      }
    },
    async deliveries(filter) {
      const found = log.filter((a) => a.kind === filter.kind && (filter.subscriber === undefined || a.subscriber === filter.subscriber)
        && (filter.message === undefined || a.message === filter.message) && (filter.since === undefined || a.at >= filter.since)
        && (!filter.failed || a.status === null || a.status >= 300)).reverse();
      const from = filter.before === undefined ? 0 : found.findIndex((a) => a.id === filter.before) + 1;
      return found.slice(from, from + filter.limit);
    },
    async delivery(id) {
      return log.find((a) => a.id === id);
    },
  };
}
