import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseValidationOutput } from '../../src/core/validation';

const problem = {
  path: 'train.learning_rate',
  message: 'must be greater than 0',
  severity: 'error',
  code: 'value-error',
  line: 12,
  column: 18,
  end_line: 12,
  end_column: 22,
};

test('a report with problems', () => {
  const stdout = JSON.stringify({ ok: false, problems: [problem, { ...problem, severity: 'warning', code: 'limit', message: 'limit larger than the data' }] });
  const result = parseValidationOutput(stdout, '', 1);
  assert.equal(result.kind, 'report');
  assert.ok(result.kind === 'report');
  assert.equal(result.ok, false);
  assert.deepEqual(result.problems[0], {
    path: 'train.learning_rate',
    message: 'must be greater than 0',
    severity: 'error',
    code: 'value-error',
    line: 12,
    column: 18,
    endLine: 12,
    endColumn: 22,
  });
  assert.equal(result.problems[1]?.severity, 'warning');
});

test('a clean report, with stray lines around the JSON', () => {
  const result = parseValidationOutput('Some library warning\n{"ok": true, "problems": []}\n', '', 0);
  assert.deepEqual(result, { kind: 'report', ok: true, problems: [] });
});

test('missing positions fall back to the top of the file', () => {
  const result = parseValidationOutput(JSON.stringify({ ok: false, problems: [{ message: 'config unreadable', severity: 'error' }] }), '', 1);
  assert.ok(result.kind === 'report');
  assert.deepEqual(result.problems[0], {
    path: '',
    message: 'config unreadable',
    severity: 'error',
    code: 'invalid',
    line: 1,
    column: 1,
    endLine: 1,
    endColumn: 2,
  });
});

test('garbage output becomes a clear message naming the cause', () => {
  const result = parseValidationOutput('', "Traceback (most recent call last):\nModuleNotFoundError: No module named 'pydantic'\n", 1);
  assert.deepEqual(result, {
    kind: 'unreadable',
    message: "The trainer's validate command printed no report (exited with code 1): ModuleNotFoundError: No module named 'pydantic'",
  });
  const killed = parseValidationOutput('{"ok": tr', '', undefined);
  assert.ok(killed.kind === 'unreadable');
  assert.match(killed.message, /did not exit normally/);
});

test('the dataset sizes of --check-data reach the editor; malformed counts become unknown', () => {
  const data = {
    train: 120,
    val: 12,
    exact: true,
    sources: [
      { name: 'angle', records: 100, train: 90, val: 10 },
      { name: 'big', records: null, train: 'many', val: -3 },
      'not a source',
    ],
  };
  const result = parseValidationOutput(JSON.stringify({ ok: true, problems: [], data }), '', 0);
  assert.ok(result.kind === 'report');
  assert.deepEqual(result.data, {
    train: 120,
    val: 12,
    exact: true,
    sources: [
      { name: 'angle', records: 100, train: 90, val: 10 },
      { name: 'big', records: null, train: null, val: null },
    ],
  });
  const without = parseValidationOutput('{"ok": true, "problems": []}', '', 0);
  assert.ok(without.kind === 'report' && !('data' in without));
});
