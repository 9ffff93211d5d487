import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ServerLogLeveler } from '../serverLog';

test("each record is shown at its own level, without the server's time and level", () => {
  const leveler = new ServerLogLeveler();
  const lines = [
    '2026-12-06 12:00:01,234 INFO starcoder_ls.completion.service: suggestion accepted (id 3)',
    '2026-12-06 12:00:01,300 DEBUG starcoder_ls.engine: prefill 12 tokens',
    '2026-12-06 12:00:02,000 WARNING starcoder_ls.config: unknown setting foo',
    '2026-12-06 12:00:03,000 ERROR starcoder_ls.completion.lifecycle: loading nope failed',
    '2026-12-06 12:00:03,000 CRITICAL starcoder_ls: out of memory',
  ].map((line) => leveler.line(line));
  assert.deepEqual(lines, [
    { level: 'info', text: 'starcoder_ls.completion.service: suggestion accepted (id 3)' },
    { level: 'debug', text: 'starcoder_ls.engine: prefill 12 tokens' },
    { level: 'warn', text: 'starcoder_ls.config: unknown setting foo' },
    { level: 'error', text: 'starcoder_ls.completion.lifecycle: loading nope failed' },
    { level: 'error', text: 'starcoder_ls: out of memory' },
  ]);
});

test("a traceback is at the level of the record it belongs to", () => {
  const leveler = new ServerLogLeveler();
  leveler.line('2026-12-06 12:00:03,000 ERROR starcoder_ls.completion.lifecycle: loading nope failed');
  assert.equal(leveler.line('Traceback (most recent call last):').level, 'error');
  assert.equal(leveler.line('  File "x.py", line 1, in <module>').level, 'error');
  leveler.line('2026-12-06 12:00:04,000 INFO starcoder_ls.completion.lifecycle: model x: ready');
  assert.deepEqual(leveler.line('  second line of the message'), {
    level: 'info',
    text: '  second line of the message',
  });
});

test('a Python warning is a warning; output before any record is an error', () => {
  const leveler = new ServerLogLeveler();
  assert.equal(leveler.line('ModuleNotFoundError: No module named torch').level, 'error');
  const warning = leveler.line('/x/torch/nn.py:12: UserWarning: TypedStorage is deprecated');
  assert.equal(warning.level, 'warn');
  assert.equal(leveler.line('  return self.fget.__get__(instance, owner)()').level, 'warn');
});
