import assert from 'node:assert/strict';
import { test } from 'node:test';

import { shortModelName, statusView } from '../status';

test('loading, ready and error all name the model', () => {
  for (const state of ['loading', 'ready', 'error'] as const) {
    const view = statusView({ state, model: 'bigcode/starcoder', message: 'CUDA out of memory' });
    assert.match(view.text, /bigcode\/starcoder/, state);
    assert.match(view.tooltip, /bigcode\/starcoder/, state);
  }
});

test('each state has its own icon', () => {
  const icons = (['loading', 'ready', 'error', 'disabled'] as const).map(
    (state) => statusView({ state, model: 'm' }).text.split(' ')[0],
  );
  assert.equal(new Set(icons).size, icons.length);
  assert.match(icons[0], /~spin/);
});

test('an error is shown on the error background with its reason', () => {
  const view = statusView({
    state: 'error',
    model: 'bigcode/starcoder',
    message: 'CUDA out of memory loading bigcode/starcoder in bfloat16',
  });
  assert.ok(view.error);
  assert.match(view.tooltip, /CUDA out of memory/);
  assert.ok(!statusView({ state: 'ready', model: 'm' }).error);
});

test('ready says where the model runs and that a click turns completions off', () => {
  const view = statusView({
    state: 'ready',
    model: 'SmolLM2-135M',
    device: 'cpu',
    dtype: 'float32',
    template: 'prefix-only',
  });
  assert.equal(view.text, '$(sparkle) StarCoder: SmolLM2-135M');
  assert.match(view.tooltip, /on cpu, float32/);
  assert.match(view.tooltip, /prefix-only/);
  assert.match(view.tooltip, /turn completions off/);
});

test('ready names the smaller weights a CPU model decodes with', () => {
  const view = statusView({ state: 'ready', model: 'm', device: 'cpu', dtype: 'float32', weights: 'float16' });
  assert.match(view.tooltip, /on cpu, float32, float16 products/);
});

test('disabled reads as off', () => {
  assert.match(statusView({ state: 'disabled', model: 'm' }).text, /off/);
});

test('client-side states: starting, and a server that could not start', () => {
  assert.match(statusView({ state: 'starting' }).text, /~spin/);
  const stopped = statusView({ state: 'stopped', message: 'spawn starcoder-ls ENOENT' });
  assert.ok(stopped.error);
  assert.match(stopped.tooltip, /ENOENT/);
});

test('local model paths are shortened to their folder, hub ids are kept', () => {
  assert.equal(shortModelName('bigcode/starcoder'), 'bigcode/starcoder');
  assert.equal(shortModelName('/home/me/models/tiny-starcoder/'), 'tiny-starcoder');
  assert.equal(shortModelName('./models/starcoder2-3b'), 'starcoder2-3b');
  assert.equal(shortModelName('C:\\models\\codellama'), 'codellama');
  assert.equal(shortModelName(undefined), 'model');
});

test('loading shows progress, not the state word again', () => {
  const plain = statusView({ state: 'loading', model: 'SmolLM2-135M (embedded)', message: 'loading' });
  assert.equal(plain.tooltip, 'Loading SmolLM2-135M (embedded)…');
  const progress = statusView({ state: 'loading', model: 'm', device: 'cpu', message: '2/5 shards' });
  assert.equal(progress.tooltip, 'Loading m on cpu… 2/5 shards');
});

test('a server that ended and is being started again says so, without the error look', () => {
  const view = statusView({ state: 'starting', message: 'the server process ended' });
  assert.equal(view.tooltip, 'Starting starcoder-ls again: the server process ended…');
  assert.ok(!view.error);
  assert.equal(statusView({ state: 'starting' }).tooltip, 'Starting starcoder-ls…');
});
