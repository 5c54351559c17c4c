import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { notFound, TimedOut } from '../../src/core/errors.ts';
import type { Gate, StreamInfo } from '../../src/gate/contract.ts';
import { StreamApi } from '../../src/hooks/service.ts';

function stream(channel: string): StreamInfo {
  return {
    channel, session: randomUUID(), appKey: 'defaultApp', mode: 'reservation', state: 'publishing', instance: null, format: 'ogg',
    record: false, metadata: {}, node: 'n1', reservedAt: 0, publishedAt: 0,
  };
}

/** A gate listing `streams`, whose terminate does what `end` says for each session. */
function gate(streams: StreamInfo[], end: (session: string) => Promise<void>): Gate {
  return { streams: async () => streams, terminate: end } as unknown as Gate;
}

test('terminate: a stream that ended meanwhile does not turn the others\' end into a 404', async () => {
  const [live, gone] = [stream('main'), stream('other')];
  const ended: string[] = [];
  const api = new StreamApi(gate([live, gone], async (session) => {
    if (session === gone.session) throw notFound(`No session ${session} holds a channel`);
    ended.push(session);
  }));
  const answered = await api.terminate({ published: true });
  assert.deepEqual(answered.map((s) => s.name), ['main', 'other']);
  assert.deepEqual(ended, [live.session]);
});

test('terminate: every stream is asked to end before another failure is answered', async () => {
  const [slow, late] = [stream('main'), stream('other')];
  const ended: string[] = [];
  const api = new StreamApi(gate([slow, late], async (session) => {
    if (session === slow.session) throw new TimedOut('Node n2 did not end it');
    await new Promise((resolve) => setImmediate(resolve));
    ended.push(session);
  }));
  await assert.rejects(api.terminate({ published: true }), TimedOut);
  assert.deepEqual(ended, [late.session]);
});
