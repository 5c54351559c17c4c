import assert from 'node:assert/strict';
import type { Onair } from '../../src/onair.ts';
import { pushTone } from '../gate/harness.ts';
import { waitFor, type Answer } from '../support/onair.ts';

/**
 * Every example of the seeds, copied character for character, with what onair must answer. seeds.test.ts runs each
 * with the program it names against onair on the ports it names, in this order, and checks the copies against the
 * seeds' texts when they are beside the repository. A later seed's examples are rows added here.
 */

/** The ids the examples name: they are made to exist before the examples that need them. */
export const TASK = '85478e12-fd0d-4de3-a26b-cd1ec7f94f2b';
export const EVENT = '747c31a8-74d2-497f-ba89-cdd85b243e5d';

/** What the examples run against: onair in this process, and a client of its API for what the examples need. */
export interface World {
  onair: Onair;
  api(method: string, path: string, body?: unknown): Promise<Answer>;
  /** The UDP port of the default channel: the one the examples name, unless this machine has it taken. */
  srtPort: number;
  /** A reservation's one-time token not used yet, put in place of the X's of an SRT example. */
  token: string | undefined;
  /** seed 004: the station's hook backend (ONAIR_HOOK_APPS points at it), with what it received. */
  backend: HookBackend;
}

/** A request as a hook backend receives it. */
export interface Received {
  line: string;
  headers: Record<string, string>;
  body: any;
}

export interface HookBackend {
  received: Received[];
  /** The status it answers StreamStatusEvent with (200: the seed's answer, the body sent back). */
  statusEventAnswer: number;
}

export type Given = (world: World) => Promise<void>;

/** A program's answer: curl runs with --include (from its config file), so that status and headers come with the body. */
export interface Output {
  status: number;
  headers: Record<string, string>;
  body: any;
  text: string;
}

export type Expect =
  | { answer(output: Output, world: World): void | Promise<void> }
  /** A command that runs until stopped (a stream, an encoder): it is stopped once `until` holds. */
  | { stream: { meanwhile?: Given; until(world: World, text: string): Promise<boolean>; then?: Given } }
  /** A request onair sends (seed 004's hooks), the example's text: checked where it arrives. */
  | { request(world: World, seen: string): Promise<void> };

export interface Example {
  seed: string;
  title: string;
  command: string;
  /** A program beyond curl that the command needs, and how to tell it can run the example; without it, a skip. */
  needs?: { what: string; shell: string; says: RegExp };
  /** Sends SRT to the port it names: skipped when onair could not take that port. */
  srt?: true;
  given?: Given[];
  expect: Expect;
}

const answers = (status: number, check: (output: Output, world: World) => void | Promise<void> = () => {}): Expect => ({
  async answer(output, world) {
    assert.equal(output.status, status, output.text);
    await check(output, world);
  },
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** TASK exists and has failed: it depends on a task that is cancelled. */
const failedTask: Given = async ({ onair: { tasks } }) => {
  const first = await tasks.service.submit({ operation: { type: 'delay', parameters: { milliseconds: 3_600_000 } }, condition: { type: 'now', parameters: {} } });
  await tasks.service.submit({ operation: { type: 'test', parameters: {} }, dependencies: { first: first.task.id } }, TASK);
  await tasks.service.cancel(first.task.id);
  assert.equal((await tasks.service.get(TASK))?.status, 'failed');
};

/** TASK exists and waits for its time: the finished tasks are cleaned first, the failed TASK with them. */
const waitingTask: Given = async ({ onair: { tasks }, api }) => {
  assert.equal((await api('POST', '/tasks/clean', { strategy: { type: 'all' } })).status, 200);
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
  await tasks.service.submit({ operation: { type: 'test', parameters: {} }, condition: { type: 'at', parameters: { datetime: tomorrow } } }, TASK);
};

/** EVENT is a live event on air now (one hour from a minute ago, UTC). */
const liveEvent: Given = async ({ onair: { programme }, api }) => {
  const show = await api('POST', '/shows', { title: 'The seeds\' examples' });
  const start = new Date(Date.now() - 60_000).toISOString().slice(0, 19);
  await programme.service.createEvent({ showId: show.body.id, type: 'live', start, duration: 3600, timezone: 'UTC' }, EVENT);
};

/** A reservation of EVENT whose token no source used yet. */
const reservation: Given = async (world) => {
  if (world.token !== undefined) return;
  const reserved = await world.api('POST', '/reserve', { event: EVENT, record: true });
  assert.equal(reserved.status, 201, JSON.stringify(reserved.body));
  world.token = reserved.body.credentials.token;
};

const checkState = async ({ api }: World) => (await api('GET', '/check')).body.state as string;

/** An SRT source of seed 002: on air once /check says publishing; stopped, its recording lands in the archive. */
const publishes: Expect = {
  stream: {
    until: async (world) => (await checkState(world)) === 'publishing',
    async then(world) {
      world.token = undefined;
      await waitFor(async () => (await checkState(world)) === 'idle', 'the session to end', 15_000, 50);
      const recordings = await waitFor(async () => (await world.api('GET', `/recordings/${EVENT}`)).body.recordings?.length, 'the recording', 15_000, 50);
      assert.ok(recordings >= 1);
    },
  },
};

/** The seed's request: its request line, its headers and its JSON body. */
function seedRequest(text: string): Received {
  const [head = '', json = ''] = text.split(/\n(?=\{)/);
  const [line = '', ...headers] = head.split('\n');
  return { line, headers: Object.fromEntries(headers.map((h) => [h.slice(0, h.indexOf(':')).toLowerCase(), h.slice(h.indexOf(':') + 1).trim()])), body: JSON.parse(json) };
}

/** A source on air on the default channel for a few seconds, its session returned; the channel is idle again after. */
async function sourceOnAir(world: World, seconds: number): Promise<string> {
  const reserved = await world.api('POST', '/reserve', { event: EVENT });
  assert.equal(reserved.status, 201, JSON.stringify(reserved.body));
  const [session] = (await world.api('GET', '/channels/main/sessions')).body;
  assert.equal(await pushTone(reserved.body.url, { seconds }).exited, 0);
  await waitFor(async () => (await checkState(world)) === 'idle', 'the session to end', 15_000, 50);
  return session.id;
}

/**
 * seed 004: onair tells its hook backend a stream is PUBLISHING as the seed's example shows: the same request line,
 * the headers that say what it is, and every field of the body but WebRTC's `sdp`, of the same type; an SRT stream of
 * Opus audio has mediaProvider SRT and no video.
 */
const tellsPublishing = (answered: number, then: (world: World, session: string) => Promise<void>): Expect => ({
  async request(world, seen) {
    const seed = seedRequest(seen);
    world.backend.statusEventAnswer = answered;
    const session = await sourceOnAir(world, 2);
    const sent = world.backend.received.find((r) => r.body.mediaSessionId === session && r.body.status === 'PUBLISHING' && r.line.includes('StreamStatusEvent'));
    assert.ok(sent, `no PUBLISHING StreamStatusEvent for ${session}`);
    assert.equal(sent.line, seed.line);
    for (const header of ['accept', 'content-type']) assert.equal(sent.headers[header], seed.headers[header], header);
    const { sdp: _, ...fields } = seed.body;
    for (const [field, value] of Object.entries(fields)) assert.equal(typeof sent.body[field], typeof value, field);
    assert.deepEqual([sent.body.appKey, sent.body.published, sent.body.hasAudio, sent.body.hasVideo, sent.body.mediaProvider], ['defaultApp', true, true, false, 'SRT']);
    await then(world, session);
  },
});

export const examples: Example[] = [
  {
    seed: '000', title: 'List tasks',
    command: 'curl \\\n--request GET \\\nhttp://localhost:10800/tasks',
    expect: answers(200, ({ body }) => assert.ok(Object.values(body).every(Array.isArray), JSON.stringify(body))),
  },
  {
    seed: '000', title: 'Get generic task details',
    command: 'curl \\\n--request GET \\\nhttp://localhost:10800/tasks/85478e12-fd0d-4de3-a26b-cd1ec7f94f2b',
    given: [failedTask],
    expect: answers(200, ({ body }) => assert.deepEqual([body.task.id, body.status], [TASK, 'failed'])),
  },
  {
    seed: '000', title: 'Get details about a task with a specific status',
    command: 'curl \\\n--request GET \\\nhttp://localhost:10800/tasks/failed/85478e12-fd0d-4de3-a26b-cd1ec7f94f2b',
    expect: answers(200, ({ body }) => assert.match(body.error, /Dependency .* finished with status cancelled/)),
  },
  {
    seed: '000', title: 'Schedule a task manually',
    command: 'curl \\\n--request POST \\\n--header "Content-Type: application/json" \\\n--data \'{\n"operation": {"type": "test", "parameters": {}},\n'
      + '"condition": {"type": "now", "parameters": {}},\n"dependencies": {}\n}\' \\\nhttp://localhost:10800/tasks',
    expect: answers(201, ({ body }) => assert.match(body.task.id, UUID)),
  },
  {
    seed: '000', title: 'Cancel a task',
    command: 'curl \\\n--request DELETE \\\nhttp://localhost:10800/tasks/85478e12-fd0d-4de3-a26b-cd1ec7f94f2b',
    given: [waitingTask],
    expect: answers(200, ({ body }) => assert.ok(body.task.id === TASK && body.cancelled, JSON.stringify(body))),
  },
  {
    seed: '000', title: 'Clean stale tasks',
    command: 'curl \\\n--request POST \\\n--header "Content-Type: application/json" \\\n--data \'{\n"strategy": {"type": "all", "parameters": {}}\n}\' \\\n'
      + 'http://localhost:10800/tasks/clean',
    expect: answers(200, ({ body }) => assert.ok(body.removed.includes(TASK), JSON.stringify(body))),
  },
  {
    seed: '000', title: 'Ping',
    command: 'curl \\\n--request HEAD \\\n--head \\\nhttp://localhost:10800/ping',
    expect: answers(204),
  },
  {
    seed: '002', title: 'Checking availability',
    command: 'curl \\\n--request GET \\\nhttp://localhost:10300/check',
    expect: answers(200, ({ body }) => assert.deepEqual([body.channel, body.state, body.instance], ['main', 'idle', null])),
  },
  {
    seed: '002', title: 'Reserving the stream',
    command: 'curl \\\n--request POST \\\n--header "Content-Type: application/json" \\\n--data \'{\n"event": "747c31a8-74d2-497f-ba89-cdd85b243e5d",\n'
      + '"record": true\n}\' \\\nhttp://localhost:10300/reserve',
    given: [liveEvent],
    expect: answers(201, ({ body }, world) => {
      assert.equal(body.port, world.srtPort);
      assert.ok(body.url.startsWith(`srt://127.0.0.1:${world.srtPort}?`), body.url);
      world.token = body.credentials.token;
    }),
  },
  {
    seed: '002', title: 'Sending audio: Liquidsoap',
    command: 'liquidsoap \\\n\'output.srt(\nhost="127.0.0.1",\nport=10300,\npassphrase="XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",\n%ogg(%opus),\nsine()\n)\'',
    needs: { what: 'a Liquidsoap with output.srt', shell: 'liquidsoap -h output.srt', says: /^Type:/m },
    srt: true,
    given: [reservation],
    expect: publishes,
  },
  {
    seed: '002', title: 'Sending audio: ffmpeg',
    command: 'ffmpeg \\\n-re \\\n-f lavfi \\\n-i sine \\\n-c libopus \\\n-f ogg \\\n-passphrase "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX" \\\nsrt://127.0.0.1:10300',
    needs: { what: 'ffmpeg with libopus and SRT', shell: 'ffmpeg -hide_banner -protocols; ffmpeg -hide_banner -encoders', says: /^\s+srt$[\s\S]*libopus/m },
    srt: true,
    given: [reservation],
    expect: publishes,
  },
  {
    seed: '002', title: 'Ping',
    command: 'curl \\\n--request HEAD \\\n--head \\\nhttp://localhost:10300/ping',
    expect: answers(204),
  },
  {
    seed: '002', title: 'Server-Sent Events',
    command: 'curl \\\n--request GET \\\n--no-buffer \\\nhttp://localhost:10300/sse',
    expect: {
      stream: {
        meanwhile: async (world) => {
          assert.equal((await world.api('POST', '/channels', { name: 'seeds' })).status, 201);
        },
        until: async (_world, text) => /^HTTP\/1\.1 200 [\s\S]*content-type: text\/event-stream[\s\S]*^event: channel-created$/im.test(text),
      },
    },
  },
  {
    seed: '004', title: 'Workflow example using StreamStatusEvent',
    command: 'POST /rest/my_api/StreamStatusEvent HTTP/1.1\n' + 'Accept: application/json\n' + 'Content-Type: application/json;charset=UTF-8\n' + 'User-Agent: Java/1.8.0_111\n'
      + 'Host: 192.168.1.101\n' + 'Connection: keep-alive\n' + 'Content-Length: 3614\n' + '{\n'
      + '"nodeId":"Hw47CFMBEchVOpBMDr29IxjudnJ1sjOY@192.168.1.101",\n' + '"appKey":"defaultApp",\n' + '"sessionId":"/192.168.1.102:4388/192.168.1.101:8443",\n' + '"mediaSessionId":"56141d10-fddc-11e6-ac3a-4d67d5b3360d",\n'
      + '"name":"b4e7",\n' + '"published":true,\n' + '"hasVideo":true,\n' + '"hasAudio":true,\n'
      + '"status":"PUBLISHING",\n' + '"sdp":".....",\n' + '"record":false,\n' + '"width":0,\n'
      + '"height":0,\n' + '"bitrate":0,\n' + '"quality":0,\n' + '"mediaProvider":"WebRTC"\n'
      + '}',
    expect: tellsPublishing(200, async () => {}),
  },
  {
    seed: '004', title: 'Error handling: restOnError FAIL',
    command: 'POST /rest/my_api/StreamStatusEvent HTTP/1.1\n' + 'Accept: application/json\n' + 'Content-Type: application/json;charset=UTF-8\n' + 'User-Agent: Java/1.8.0_111\n'
      + 'Host: 192.168.1.101\n' + 'Connection: keep-alive\n' + 'Content-Length: 3624\n' + '{\n'
      + '"nodeId":"Hw47CFMBEchVOpBMDr29IxjudnJ1sjOY@192.168.1.101",\n' + '"appKey":"defaultApp",\n' + '"sessionId":"/192.168.1.102:25301/192.168.1.101:8443",\n' + '"mediaSessionId":"e9c002d0-fde2-11e6-a2bf-c99492323844",\n'
      + '"name":"dc6a",\n' + '"published":true,\n' + '"hasVideo":true,\n' + '"hasAudio":true,\n'
      + '"status":"PUBLISHING",\n' + '"sdp":".....",\n' + '"record":false,\n' + '"width":0,\n'
      + '"height":0,\n' + '"bitrate":0,\n' + '"quality":0,\n' + '"mediaProvider":"WebRTC"\n'
      + '}',
    expect: tellsPublishing(500, async ({ onair }, session) => {
      await waitFor(async () => (await onair.bus.since(0, 10_000)).events.some((e) => e.type === 'hook-error'
        && (e.data as { session: string }).session === session), 'the ErrorEvent');
    }),
  },
];
