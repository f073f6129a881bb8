// The log tail's error highlighting: tracebacks whole, exception and error-level lines, and
// nothing that merely mentions errors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyLog } from '../../webview/runPanel/logTail';

const errorLines = (text: string): string[] =>
  classifyLog(text)
    .filter((segment) => segment.error)
    .flatMap((segment) => segment.text.split('\n').filter((line) => line !== ''));

describe('log tail highlighting', () => {
  it('marks a traceback from its first line through the exception line', () => {
    const text = [
      'step 3 loss 2.1',
      'Traceback (most recent call last):',
      '  File "train.py", line 10, in <module>',
      '    main()',
      'torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB',
      'saving checkpoint',
      '',
    ].join('\n');
    assert.deepEqual(errorLines(text), [
      'Traceback (most recent call last):',
      '  File "train.py", line 10, in <module>',
      '    main()',
      'torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB',
    ]);
    assert.equal(classifyLog(text).map((s) => s.text).join(''), text, 'segments cover the text exactly');
  });

  it('follows chained tracebacks and rank prefixes', () => {
    const text = [
      '[rank0]: Traceback (most recent call last):',
      '[rank0]:   File "x.py", line 1, in f',
      '[rank0]: KeyError: \'pixel_values\'',
      '',
      'During handling of the above exception, another exception occurred:',
      '',
      'Traceback (most recent call last):',
      '  File "y.py", line 2, in g',
      'RuntimeError: boom',
      'done',
    ].join('\n');
    assert.deepEqual(errorLines(text), [
      '[rank0]: Traceback (most recent call last):',
      '[rank0]:   File "x.py", line 1, in f',
      "[rank0]: KeyError: 'pixel_values'",
      'During handling of the above exception, another exception occurred:',
      'Traceback (most recent call last):',
      '  File "y.py", line 2, in g',
      'RuntimeError: boom',
    ]);
  });

  it('marks error-level log lines and tool errors, not lines that mention errors', () => {
    const text = [
      '2025-11-27 12:00:01 ERROR medvlm_sft: data check failed',
      'CRITICAL: disk full',
      'error: unrecognized arguments: --fast',
      'ValueError',
      '[warn] 0 errors, 2 warnings',
      'eval mean error 0.31',
      'error_rate=0.1',
      'Error handling is fine here',
    ].join('\n');
    assert.deepEqual(errorLines(text), [
      '2025-11-27 12:00:01 ERROR medvlm_sft: data check failed',
      'CRITICAL: disk full',
      'error: unrecognized arguments: --fast',
      'ValueError',
    ]);
  });

  it('returns nothing for an empty log and one segment for a clean one', () => {
    assert.deepEqual(classifyLog(''), []);
    assert.deepEqual(classifyLog('a\nb\n'), [{ text: 'a\nb\n', error: false }]);
  });
});
