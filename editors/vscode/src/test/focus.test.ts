import assert from 'node:assert/strict';
import { test } from 'node:test';

import { FocusParams, FocusReporter, landed } from '../focus';

test('a focus is sent with the document and the cursor, once per place', () => {
  const sent: FocusParams[] = [];
  const reporter = new FocusReporter((params) => sent.push(params));
  reporter.focus('file', 'file:///a.py', 3, 7);
  reporter.focus('file', 'file:///a.py', 3, 7);
  reporter.focus('file', 'file:///b.py', 0, 0);
  assert.deepEqual(sent, [
    { textDocument: { uri: 'file:///a.py' }, position: { line: 3, character: 7 } },
    { textDocument: { uri: 'file:///b.py' }, position: { line: 0, character: 0 } },
  ]);
  reporter.forget();
  reporter.focus('file', 'file:///b.py', 0, 0);
  assert.equal(sent.length, 3);
});

test('documents the client does not sync are not reported', () => {
  const sent: FocusParams[] = [];
  const reporter = new FocusReporter((params) => sent.push(params));
  assert.equal(reporter.focus('output', 'output:extension-output', 0, 0), undefined);
  assert.equal(reporter.focus('git', 'git:/a.py', 0, 0), undefined);
  assert.ok(reporter.focus('untitled', 'untitled:Untitled-1', 0, 0));
  assert.equal(sent.length, 1);
});

test('clicks and jumps land the cursor; typing and arrow keys do not', () => {
  assert.ok(landed(2));
  assert.ok(landed(3));
  assert.ok(!landed(1));
  assert.ok(!landed(undefined));
});
