// Hovers and completions for run configs, including text that does not parse yet (the user
// is in the middle of typing a key).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { completionsAt, hoverAt, mappingPathAt } from '../../src/core/config/assist';

/** Text with `|` marking the cursor. */
function at(marked: string): { text: string; offset: number } {
  const offset = marked.indexOf('|');
  assert.ok(offset >= 0);
  return { text: marked.slice(0, offset) + marked.slice(offset + 1), offset };
}

const labels = (marked: string): string[] => {
  const { text, offset } = at(marked);
  return completionsAt(text, offset).map((c) => c.label);
};

describe('completions', () => {
  it('offers the keys of the section being typed in, without those already there', () => {
    const keys = labels('model:\n  base: x\n  fam|\n  dtype: auto\n');
    assert.ok(keys.includes('family'));
    assert.ok(keys.includes('quantization'));
    assert.ok(!keys.includes('base') && !keys.includes('dtype'), 'present keys are not offered again');
    assert.ok(!keys.includes('epochs'), 'keys of other sections are not offered');
  });

  it('offers top-level sections at column 0, required ones first', () => {
    const { text, offset } = at('|');
    const items = completionsAt(text, offset);
    assert.deepEqual(items.slice(0, 2).map((c) => c.label), ['model', 'data']);
    assert.equal(items.find((c) => c.label === 'train')?.kind, 'section');
    assert.equal(items.find((c) => c.label === 'train')?.insertText, 'train:\n  $0');
  });

  it('inserts enum keys with a choice snippet, the default first', () => {
    const { text, offset } = at('train:\n  opt|\n');
    const item = completionsAt(text, offset).find((c) => c.label === 'optimizer')!;
    assert.equal(item.insertText, 'optimizer: ${1|adamw_torch,adamw_torch_fused,adamw_8bit,paged_adamw_8bit|}');
    assert.deepEqual(item.replace, { start: offset - 3, end: offset });
    assert.match(item.documentation, /\*\*train\.optimizer\*\*/);
  });

  it('offers enum values, booleans and null for the key on the line', () => {
    assert.deepEqual(labels('model:\n  base: x\n  family: q|\n'), ['auto', 'qwen2_5_vl', 'medgemma', 'generic']);
    assert.deepEqual(labels('train:\n  use_cpu: |\n'), ['true', 'false']);
    assert.deepEqual(labels('data:\n  image:\n    window: |\n'), ['ct_soft_tissue', 'ct_bone', 'mr', 'null']);
    assert.deepEqual(labels('logging:\n  report_to:\n    - |\n'), ['wandb', 'tensorboard']);
  });

  it('understands list items, indented or not', () => {
    const indentless = labels('data:\n  sources:\n  - records: a\n    |\n');
    assert.ok(indentless.includes('tasks') && !indentless.includes('records'));
    const newItem = labels('data:\n  sources:\n    - records: a\n      tasks: b\n    - |\n');
    assert.ok(newItem.includes('records') && newItem.includes('tasks'), 'a new item has none of the previous item’s keys');
    assert.deepEqual(mappingPathAt('data:\n  sources:\n    - records: a\n    - records: b\n      tasks: c\n', 4, 6), ['data', 'sources', 1]);
  });

  it('offers nothing inside comments or unknown sections', () => {
    assert.deepEqual(labels('# a comment |\n'), []);
    assert.deepEqual(labels('nonsense:\n  |\n'), []);
  });
});

describe('hover', () => {
  it('describes the key under the cursor from the schema', () => {
    const { text, offset } = at('train:\n  learn|ing_rate: 1.0e-4\n');
    const hover = hoverAt(text, offset)!;
    assert.deepEqual(hover.path, ['train', 'learning_rate']);
    assert.match(hover.markdown, /^\*\*train\.learning_rate\*\*: a number above 0 and at most 1/);
    assert.match(hover.markdown, /Default: `0\.0002`/);
    assert.match(hover.markdown, /MedVision reference uses 2e-4/);
    assert.equal(text.slice(hover.range.start, hover.range.end), 'learning_rate');
  });

  it('works on values, list items, and in text that does not parse', () => {
    const value = at('train:\n  optimizer: adamw_8|bit\n');
    assert.deepEqual(hoverAt(value.text, value.offset)?.path, ['train', 'optimizer']);
    const item = at('data:\n  sources:\n  - rec|ords: a\n  broken: [\n');
    assert.deepEqual(hoverAt(item.text, item.offset)?.path, ['data', 'sources', 0, 'records']);
    const unknown = at('train:\n  nothing|here: 1\n');
    assert.equal(hoverAt(unknown.text, unknown.offset), undefined);
  });
});
