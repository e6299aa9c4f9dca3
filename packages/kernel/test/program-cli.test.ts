// The program command line is derived from the config schema: every field that names a flag is an
// option whose commander attribute is that flag, whose help names the env variable and default;
// fields without a flag are not options.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { field } from '../src/index.js';
import { schemaOptions } from '../src/program-cli.js';

const schema = {
  bind: field.string('127.0.0.1:0', { env: ['X_BIND'], flag: 'bind', doc: 'listener' }),
  'limits.max_body_bytes': field.size(1024, {
    env: ['X_MAX_BODY_BYTES'],
    flag: 'maxBodyBytes',
    doc: 'body cap',
  }),
  dev_ready: field.bool(false, { env: ['X_DEV_READY'], flag: 'devReady', doc: 'force ready' }),
  level: field.enum(['info', 'debug'], 'info', { env: ['LOG_LEVEL'], flag: 'logLevel', doc: 'level' }),
  token: field.string('s3cret', { env: ['X_TOKEN'], flag: 'token', secret: true, doc: 'admin token' }),
  'gc.interval': field.duration(1000, { env: ['X_GC_INTERVAL'], doc: 'no flag: env and file only' }),
};

test('every flagged field becomes one option named after its flag, help from the schema', () => {
  const opts = schemaOptions(schema);
  assert.deepEqual(
    opts.map((o) => o.attributeName()),
    ['bind', 'maxBodyBytes', 'devReady', 'logLevel', 'token'],
  );
  const by = new Map(opts.map((o) => [o.long, o]));
  assert.equal(by.get('--bind')?.flags, '--bind <value>');
  assert.equal(by.get('--bind')?.description, 'listener (env: X_BIND; default 127.0.0.1:0)');
  assert.equal(by.get('--max-body-bytes')?.flags, '--max-body-bytes <size>');
  assert.equal(by.get('--dev-ready')?.flags, '--dev-ready', 'a bool takes no value');
  assert.equal(by.get('--dev-ready')?.description, 'force ready (env: X_DEV_READY)');
  assert.equal(by.get('--log-level')?.flags, '--log-level <info|debug>');
  assert.ok(!by.get('--token')!.description.includes('s3cret'), 'a secret default is never shown');
  assert.equal(by.has('--gc-interval'), false);
});
