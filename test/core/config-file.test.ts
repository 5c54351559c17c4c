import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError, loadConfig, withConfigFile } from '../../src/core/config.ts';
import { tempDir } from '../support/onair.ts';
import { freePort, ONAIR, runOnairWith, untilAnswering } from '../support/process.ts';

describe('configuration file (ONAIR_CONFIG, onair serve --config)', () => {
  const dir = tempDir();
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  test('NAME=value lines, comments, blank lines and quotes; the environment wins over the file', () => {
    const path = file('onair.env', [
      '# onair at the station', '', 'ONAIR_HTTP_PORT=10900', '  ONAIR_REGION = eu-central', "ONAIR_CHANNELS='[{\"name\":\"studio\",\"port\":10400}]'",
      'ONAIR_DATA_DIR="/var/lib/onair radio"', 'ONAIR_LOG_LEVEL=warn', 'ONAIR_API_KEY=',
    ].join('\n'));
    const config = loadConfig(withConfigFile({ ONAIR_CONFIG: path, ONAIR_LOG_LEVEL: 'debug', ONAIR_API_KEY: '' }));
    assert.equal(config.http.port, 10900);
    assert.equal(config.node.region, 'eu-central');
    assert.deepEqual(config.gate.channels.map((c) => [c.name, c.port]), [['studio', 10400]]);
    assert.equal(config.dataDir, '/var/lib/onair radio');
    assert.equal(config.logLevel, 'debug', 'the environment wins');
    assert.equal(config.apiKey, undefined, 'empty in both: unset');
    assert.equal(loadConfig(withConfigFile({ ONAIR_CONFIG: 'ignored' }, path)).http.port, 10900, 'a path given (--config) before ONAIR_CONFIG');
    assert.deepEqual(withConfigFile({ ONAIR_HTTP_PORT: '1' }), { ONAIR_HTTP_PORT: '1' }, 'no file: the environment alone');
  });

  test('a missing file or a bad line stops onair naming the file and the line, never the value', () => {
    const cases: Array<[string, RegExp]> = [
      [join(dir, 'missing.env'), /cannot read the configuration file .*missing\.env: no such file/],
      [dir, /cannot read the configuration file .*: a directory, not a file/],
      [file('words.env', '# fine\nONAIR_API_KEY secret-words-here\n'), /words\.env line 2: not a setting: write NAME=value/],
      [file('quote.env', 'ONAIR_API_KEY="secret-words-here\n'), /quote\.env line 1: not a setting/],
      [file('other.env', 'ONAIR_HTTP_PORT=10900\nPORT=80\n'), /other\.env line 2: PORT is not a setting of onair \(their names start with ONAIR_\)/],
      [file('misspelt.env', 'ONAIR_HTTP_PORT=10900\nONAIR_HTTP_PROT=10901\n'), /misspelt\.env line 2: ONAIR_HTTP_PROT is not a setting of onair \(a misspelt name\?\)/],
    ];
    for (const [path, message] of cases) {
      assert.throws(() => withConfigFile({}, path), (e: Error) => e instanceof ConfigError && message.test(e.message) && !e.message.includes('secret'), path);
    }
    assert.throws(() => loadConfig(withConfigFile({}, file('bad.env', 'ONAIR_HTTP_PORT=eighty'))), /ONAIR_HTTP_PORT/, 'values are checked as in the environment');
  });

  test('onair serve --config FILE starts with its settings; a bad file stops it with exit 1 naming the file', async () => {
    const port = await freePort();
    const settings = `ONAIR_HTTP_PORT=${port}\nONAIR_DATA_DIR=${join(dir, 'data')}\nONAIR_SRT_PORT_START=${await freePort()}\n`;
    const served = spawn(ONAIR, ['serve', '--config', file('serve.env', settings)], { stdio: 'ignore' });
    try {
      await untilAnswering(`http://127.0.0.1:${port}`);
    } finally {
      served.kill('SIGTERM');
      await once(served, 'exit');
    }
    const bad = await runOnairWith({}, 'serve', '--config', file('bad-level.env', `${settings}ONAIR_LOG_LEVEL=loud\n`));
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, 'onair: configuration: ONAIR_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"\n');
    const missing = await runOnairWith({ ONAIR_CONFIG: join(dir, 'nowhere.env') }, 'serve');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read the configuration file .*nowhere\.env: no such file/);
  });
});
