import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig, withConfigFile } from '../../src/core/config.ts';
import { HOOK_METHODS } from '../../src/core/hook-apps.ts';
import { tempDir } from '../support/onair.ts';

const URL = 'http://10.0.0.5:8081/rest/my_api';
const hooks = (apps?: unknown, keepAlive?: string) =>
  loadConfig({ ONAIR_HOOK_APPS: apps === undefined || typeof apps === 'string' ? apps : JSON.stringify(apps), ONAIR_HOOKS_KEEPALIVE: keepAlive }).hooks;

test('no hook application by default; keep-alives every 10 s', () => {
  assert.deepEqual(hooks(), { apps: [], keepAliveMs: 10_000 });
  assert.equal(hooks(undefined, 'PT30S').keepAliveMs, 30_000);
});

test('an app without methods gets every method, with the real server\'s defaults; methods: [] gets none', () => {
  const [app] = hooks([{ name: 'station', url: `${URL}/` }]).apps;
  assert.equal(app!.appKey, 'defaultApp');
  assert.equal(app!.url, URL);
  assert.deepEqual(app!.methods, [...HOOK_METHODS]);
  assert.equal(app!.timeoutMs, 15_000);
  assert.deepEqual(app!.restClientConfig.connect, { restExclude: [], clientExclude: [], restOnError: 'LOG', restPolicy: 'NOTIFY', restOverwrite: [], cacheTtlMs: 0 });
  assert.equal(app!.restClientConfig.playStream.cacheTtlMs, 5_000);
  assert.deepEqual(hooks([{ name: 'quiet', url: URL, methods: [] }]).apps[0]!.methods, []);
});

test('restClientConfig as the real server writes it: comma-separated fields, DISABLE for DISABLED; timeouts in ms or ISO 8601', () => {
  const [app] = hooks([{
    name: 'station', appKey: 'radio', url: URL, timeout: 'PT2S', methods: ['connect', 'playStream'],
    restClientConfig: { connect: { restExclude: 'metadata, client', restPolicy: 'OVERWRITE', restOverwrite: 'record', restOnError: 'FAIL' }, playStream: { restPolicy: 'DISABLE', cacheTtl: 'PT30S' } },
  }, { name: 'other', appKey: 'tv', url: URL, timeout: 500 }]).apps;
  assert.equal(app!.timeoutMs, 2000);
  assert.deepEqual(app!.restClientConfig.connect, { restExclude: ['metadata', 'client'], clientExclude: [], restOnError: 'FAIL', restPolicy: 'OVERWRITE', restOverwrite: ['record'], cacheTtlMs: 0 });
  assert.equal(app!.restClientConfig.playStream.restPolicy, 'DISABLED');
  assert.equal(app!.restClientConfig.playStream.cacheTtlMs, 30_000);
  assert.equal(hooks([{ name: 'other', url: URL, timeout: 500 }]).apps[0]!.timeoutMs, 500);
});

test('a bad ONAIR_HOOK_APPS or ONAIR_HOOKS_KEEPALIVE stops onair naming the setting and what is wrong', () => {
  const app = { name: 'station', url: URL };
  const cases: Array<[unknown, RegExp]> = [
    ['[{', /must be JSON/],
    [{ name: 'station' }, /must be a JSON array/],
    [['station'], /\[0\] must be an object/],
    [[{ url: URL }], /\[0\]\.name must be/],
    [[{ ...app, name: 'a b' }], /\[0\]\.name must be/],
    [[{ ...app, appKey: '' }], /\[0\]\.appKey must be/],
    [[{ name: 'station' }], /\[0\]\.url must be an http/],
    [[{ ...app, url: 'ftp://host/x' }], /\[0\]\.url must be an http/],
    [[{ ...app, methods: ['connect', 'StreamEvent'] }], /\[0\]\.methods must be a list of connect/],
    [[{ ...app, hooks: [] }], /\[0\]\.hooks is not a field/],
    [[{ ...app, restClientConfig: { StreamEvent: {} } }], /\[0\]\.restClientConfig\.StreamEvent is not a field/],
    [[{ ...app, restClientConfig: { connect: { restOnError: 'IGNORE' } } }], /\[0\]\.restClientConfig\.connect\.restOnError must be one of LOG, FAIL/],
    [[{ ...app, restClientConfig: { connect: { restPolicy: 'ALWAYS' } } }], /connect\.restPolicy must be one of NOTIFY, OVERWRITE, DISABLED, DISABLE/],
    [[{ ...app, restClientConfig: { connect: { restExclude: [1] } } }], /connect\.restExclude must be field names/],
    [[{ ...app, restClientConfig: { connect: 'FAIL' } }], /restClientConfig\.connect must be an object/],
    [[{ ...app, timeout: 'PT0S' }], /\[0\]\.timeout must be whole milliseconds from 1/],
    [[{ ...app, timeout: 'P1M' }], /\[0\]\.timeout must be/],
    [[{ ...app, timeout: 'PT61S' }], /\[0\]\.timeout must be whole milliseconds from 1 to 60000/],
    [[{ ...app, timeout: 3_600_000 }], /\[0\]\.timeout must be whole milliseconds from 1 to 60000/],
    [[app, { ...app, appKey: 'other' }], /two applications with the same name/],
    [[app, { ...app, name: 'other' }], /two applications with the same appKey/],
  ];
  for (const [apps, message] of cases) {
    assert.throws(() => hooks(apps),
      (error: Error) => error instanceof ConfigError && error.message.startsWith('ONAIR_HOOK_APPS ') && message.test(error.message) || assert.fail(error.message), JSON.stringify(apps));
  }
  for (const bad of ['soon', 'P1M', 'PT0.01S']) assert.throws(() => hooks(undefined, bad), /ONAIR_HOOKS_KEEPALIVE/, bad);
});

test('both settings may be in the configuration file', () => {
  const file = join(tempDir(), 'onair.conf');
  writeFileSync(file, `ONAIR_HOOK_APPS='[{"name":"station","url":"${URL}"}]'\nONAIR_HOOKS_KEEPALIVE=PT5S\n`);
  assert.equal(loadConfig(withConfigFile({}, file)).hooks.apps[0]!.name, 'station');
  assert.equal(loadConfig(withConfigFile({}, file)).hooks.keepAliveMs, 5000);
});
