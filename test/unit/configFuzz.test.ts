// Fuzz test of the config editor's validation (issue: "a fuzz test over thousands of
// generated and mutated configs"). From the example configs it generates thousands of
// cases: planted defects of every kind the editor reports (wrong type, out of range, bad
// choice, unknown key, missing key, duplicate key, tab indentation), valid edits, aliases,
// hostile input (deep nesting, alias bombs, huge values, binary text) and blind text
// mutations. It checks that
//   1. validation never throws, and stays bounded on hostile input;
//   2. every planted defect gets an error whose range covers it;
//   3. the editor and the real `medvlm-sft validate` (one batch call on all cases) agree on
//      accept/reject: the editor rejects exactly when the trainer reports a schema or YAML
//      error (cross-field rules are the trainer's alone, so the editor takes those from it).
// Seeded, so a failure names a case that can be replayed.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Node as YamlNode } from 'yaml';
import { checkConfigText, hasErrors, RUN_CONFIG_SCHEMA, STRUCTURAL_CODES } from '../../src/core/config/validateConfig';
import type { ConfigPath, NumberSchema, SchemaNode } from '../../src/shared/configSchema';
import { enumChoices, options, schemaAt } from '../../src/shared/configSchema';
import { repoRoot, seededRandom, tempDir } from './testUtil';

const SEED = Number(process.env.MEDVLM_FUZZ_SEED ?? 20261127);
const CASES_PER_KIND = Number(process.env.MEDVLM_FUZZ_CASES ?? 220);

interface Planted {
  readonly start: number;
  readonly end: number;
  readonly what: string;
}

interface Case {
  readonly name: string;
  readonly text: string;
  /** A defect the editor must report with a covering range. */
  readonly planted?: Planted;
  /** The kind's expectation when it is certain (valid edits must be accepted). */
  readonly expect?: 'accept' | 'reject';
}

const random = seededRandom(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));

interface Leaf {
  readonly path: ConfigPath;
  readonly schema: SchemaNode;
  readonly start: number;
  readonly end: number;
  readonly keyStart: number;
  readonly keyEnd: number;
}

interface Entry {
  readonly path: ConfigPath;
  readonly keyStart: number;
  readonly keyEnd: number;
  readonly lineStart: number;
  readonly indent: number;
  readonly required: boolean;
  readonly blockEnd: number;
}

/** Scalars and mapping entries of a valid base config, located with the `yaml` package itself. */
function survey(text: string): { leaves: Leaf[]; entries: Entry[] } {
  const doc = parseDocument(text);
  const leaves: Leaf[] = [];
  const entries: Entry[] = [];
  const walk = (node: YamlNode | null, at: ConfigPath): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = pair.key as YamlNode & { value: unknown; range: [number, number, number] };
        const value = pair.value as YamlNode | null;
        const child = [...at, String(key.value)];
        const lineStart = text.lastIndexOf('\n', key.range[0] - 1) + 1;
        const parentSchema = schemaAt(RUN_CONFIG_SCHEMA, at);
        const object = parentSchema ? options(parentSchema).find((o) => o.kind === 'object') : undefined;
        const required = object !== undefined && object.kind === 'object' && object.required.has(String(key.value));
        const blockEnd = value && value.range ? value.range[2] : key.range[2];
        if (text.slice(lineStart, key.range[0]).trim() === '') {
          entries.push({ path: child, keyStart: key.range[0], keyEnd: key.range[1], lineStart, indent: key.range[0] - lineStart, required, blockEnd });
        }
        const schema = schemaAt(RUN_CONFIG_SCHEMA, child);
        if (isScalar(value) && schema && value.range) {
          leaves.push({ path: child, schema, start: value.range[0], end: value.range[1], keyStart: key.range[0], keyEnd: key.range[1] });
        }
        walk(value, child);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item as YamlNode, [...at, i]));
    }
  };
  walk(doc.contents as YamlNode, []);
  return { leaves, entries };
}

const splice = (text: string, start: number, end: number, insert: string): string => text.slice(0, start) + insert + text.slice(end);

function numeric(schema: SchemaNode): NumberSchema | undefined {
  return options(schema).find((o): o is NumberSchema => o.kind === 'integer' || o.kind === 'number');
}

const typo = (word: string): string => {
  if (word.length < 3) return `${word}x`;
  const i = int(0, word.length - 2);
  return pick([word.slice(0, i) + word.slice(i + 1), word.slice(0, i) + word[i + 1] + word[i] + word.slice(i + 2), `${word}s`]);
};

type Generator = (name: string, text: string, s: ReturnType<typeof survey>) => Case | undefined;

const generators: Record<string, Generator> = {
  wrongType(name, text, { leaves }) {
    const leaf = pick(leaves);
    const kinds = options(leaf.schema).map((o) => o.kind);
    const candidates: string[] = [];
    if (!kinds.includes('string')) candidates.push('abc', '"12"', "'true'", 'hello world');
    if (!kinds.includes('integer') && !kinds.includes('number')) candidates.push('7', '2.5');
    if (kinds.includes('integer') && !kinds.includes('number')) candidates.push('2.0', '1e3', '"4"');
    if (!kinds.includes('boolean')) candidates.push('true', 'false');
    if (kinds.includes('boolean')) candidates.push('yes', 'on', '1', '"false"');
    if (!kinds.includes('array')) candidates.push('[1, 2]');
    if (!kinds.includes('object')) candidates.push('{a: 1}');
    if (!kinds.includes('null') && !leaf.schema.hasDefault) candidates.push('null', '~');
    const value = pick(candidates);
    return { name, text: splice(text, leaf.start, leaf.end, value), planted: { start: leaf.start, end: leaf.start + value.length, what: `${leaf.path.join('.')} = ${value}` }, expect: 'reject' };
  },
  outOfRange(name, text, { leaves }) {
    const pool = leaves.filter((l) => {
      const n = numeric(l.schema);
      return n !== undefined && (n.minimum ?? n.maximum ?? n.exclusiveMinimum ?? n.exclusiveMaximum) !== undefined;
    });
    const leaf = pick(pool);
    const n = numeric(leaf.schema)!;
    const step = n.kind === 'integer' ? 1 : 0.5;
    const values: number[] = [];
    if (n.minimum !== undefined) values.push(n.minimum - step);
    if (n.maximum !== undefined) values.push(n.maximum + step);
    if (n.exclusiveMinimum !== undefined) values.push(n.exclusiveMinimum);
    if (n.exclusiveMaximum !== undefined) values.push(n.exclusiveMaximum);
    const value = String(pick(values));
    return { name, text: splice(text, leaf.start, leaf.end, value), planted: { start: leaf.start, end: leaf.start + value.length, what: `${leaf.path.join('.')} = ${value}` }, expect: 'reject' };
  },
  badChoice(name, text, { leaves }) {
    const pool = leaves.filter((l) => enumChoices(l.schema).length > 0);
    const leaf = pick(pool);
    let value = typo(pick(enumChoices(leaf.schema)));
    if (enumChoices(leaf.schema).includes(value)) value = `${value}_x`;
    return { name, text: splice(text, leaf.start, leaf.end, value), planted: { start: leaf.start, end: leaf.start + value.length, what: `${leaf.path.join('.')} = ${value}` }, expect: 'reject' };
  },
  unknownKey(name, text, { entries }) {
    const entry = pick(entries);
    const key = pick([typo(String(entry.path[entry.path.length - 1])), 'learning_rte', 'batch_size', 'foo']);
    const siblings = entries.filter((e) => e.path.length === entry.path.length && e.path.slice(0, -1).join('.') === entry.path.slice(0, -1).join('.')).map((e) => String(e.path[e.path.length - 1]));
    if (siblings.includes(key) || schemaAt(RUN_CONFIG_SCHEMA, [...entry.path.slice(0, -1), key]) !== undefined) return undefined;
    const line = `${' '.repeat(entry.indent)}${key}: 1\n`;
    const at = text.slice(entry.lineStart, entry.keyStart).includes('-') ? undefined : entry.lineStart;
    if (at === undefined) return undefined;
    return { name, text: splice(text, at, at, line), planted: { start: at + entry.indent, end: at + entry.indent + key.length, what: `unknown ${key}` }, expect: 'reject' };
  },
  missingKey(name, text, { entries }) {
    const pool = entries.filter((e) => e.required && e.path.length >= 2 && !text.slice(e.lineStart, e.keyStart).includes('-'));
    if (pool.length === 0) return undefined;
    const entry = pick(pool);
    const parent = entries.find((e) => e.path.join('.') === entry.path.slice(0, -1).join('.'));
    if (parent === undefined) return undefined;
    let end = text.indexOf('\n', entry.blockEnd - 1);
    end = end < 0 ? text.length : end + 1;
    if (entry.blockEnd <= entry.keyEnd) return undefined;
    const removed = splice(text, entry.lineStart, Math.max(end, text.indexOf('\n', entry.keyStart) + 1), '');
    return { name, text: removed, planted: { start: parent.keyStart, end: parent.keyEnd, what: `missing ${entry.path.join('.')}` }, expect: 'reject' };
  },
  duplicateKey(name, text, { entries, leaves }) {
    const leaf = pick(leaves.filter((l) => entries.some((e) => e.keyStart === l.keyStart && !text.slice(e.lineStart, e.keyStart).includes('-'))));
    const entry = entries.find((e) => e.keyStart === leaf.keyStart)!;
    const lineEnd = text.indexOf('\n', leaf.end) + 1;
    const line = text.slice(entry.lineStart, lineEnd);
    return { name, text: splice(text, lineEnd, lineEnd, line), planted: { start: lineEnd + entry.indent, end: lineEnd + entry.indent + (leaf.keyEnd - leaf.keyStart), what: `duplicate ${leaf.path.join('.')}` }, expect: 'reject' };
  },
  tabIndent(name, text, { entries }) {
    const entry = pick(entries.filter((e) => e.indent > 0 && !text.slice(e.lineStart, e.keyStart).includes('-')));
    return { name, text: splice(text, entry.lineStart, entry.lineStart + 1, '\t'), planted: { start: entry.lineStart, end: entry.lineStart + 1, what: `tab before ${entry.path.join('.')}` }, expect: 'reject' };
  },
  validValue(name, text, { leaves }) {
    const leaf = pick(leaves);
    const n = numeric(leaf.schema);
    const choices = enumChoices(leaf.schema);
    let value: string | undefined;
    if (choices.length > 0) value = pick(choices);
    else if (n !== undefined) {
      const lo = n.minimum ?? (n.exclusiveMinimum !== undefined ? n.exclusiveMinimum + 1e-3 : 0);
      const hi = Math.min(n.maximum ?? (n.exclusiveMaximum !== undefined ? n.exclusiveMaximum - 1e-3 : lo + 1000), lo + 1000);
      value = n.kind === 'integer' ? String(int(Math.ceil(lo), Math.floor(hi))) : String(Number((lo + random() * (hi - lo)).toFixed(4)) || hi);
    } else if (options(leaf.schema).some((o) => o.kind === 'boolean')) value = pick(['true', 'false']);
    if (value === undefined) return undefined;
    return { name, text: splice(text, leaf.start, leaf.end, value) };
  },
  alias(name, text, { leaves }) {
    const a = pick(leaves);
    const sameKind = leaves.filter((l) => l !== a && l.start > a.end && options(l.schema).map((o) => o.kind).join() === options(a.schema).map((o) => o.kind).join());
    if (sameKind.length === 0) return undefined;
    const b = pick(sameKind);
    const withAlias = splice(text, b.start, b.end, '*shared');
    return { name, text: splice(withAlias, a.start, a.start, '&shared ') };
  },
  blind(name, text) {
    const ops = [
      (): string => {
        const lines = text.split('\n');
        lines.splice(int(0, lines.length - 1), 1);
        return lines.join('\n');
      },
      (): string => {
        const lines = text.split('\n');
        const i = int(0, lines.length - 1);
        lines.splice(i, 0, lines[i]!);
        return lines.join('\n');
      },
      (): string => {
        const at = int(0, text.length);
        return splice(text, at, at, pick([':', '- ', '[', ']', '{', '}', '"', "'", '#', '&a ', '*a', '!x ', '|', '>', '%', '@', '`', '\t', ' ', '\n', ',', '?', '<<: ', '---\n', '\\', 'é', '😀']));
      },
      (): string => text.slice(0, int(0, text.length)),
      (): string => {
        const at = int(0, text.length - 1);
        const end = Math.min(text.length, at + int(1, 20));
        return splice(text, at, end, '');
      },
    ];
    return { name, text: pick(ops)() };
  },
};

function hostileCases(): Case[] {
  const deep = (n: number, open: string, close: string): string => `model: ${open.repeat(n)}1${close.repeat(n)}\n`;
  let indented = 'model:\n';
  for (let i = 1; i <= 80; i += 1) indented += `${'  '.repeat(i)}k${i}:\n`;
  const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i <= 8; i += 1) bomb.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
  const demo = readFileSync(path.join(repoRoot, 'python/configs/demo.sft.yaml'), 'utf8');
  const full = readFileSync(path.join(repoRoot, 'python/configs/medgemma-4b-qlora.sft.yaml'), 'utf8');
  const edit = (from: RegExp, to: string): string => {
    assert.match(full, from, 'the hostile cases edit medgemma-4b-qlora.sft.yaml');
    return full.replace(from, to);
  };
  return [
    { name: 'hostile/empty', text: '', expect: 'reject' },
    { name: 'hostile/comment-only', text: '# nothing\n', expect: 'reject' },
    { name: 'hostile/list', text: '- a\n- b\n', expect: 'reject' },
    { name: 'hostile/scalar', text: 'hello\n', expect: 'reject' },
    { name: 'hostile/deep-flow-list', text: deep(200, '[', ']'), expect: 'reject' },
    { name: 'hostile/deep-flow-map', text: deep(200, '{a: ', '}'), expect: 'reject' },
    { name: 'hostile/deep-block', text: indented, expect: 'reject' },
    { name: 'hostile/alias-bomb', text: `${bomb.join('\n')}\n`, expect: 'reject' },
    { name: 'hostile/long-value', text: `${demo}\nhub:\n  repo_id: ${'x'.repeat(70_000)}\n`, expect: 'reject' },
    { name: 'hostile/huge-file', text: `${demo}\n${'# padding line\n'.repeat(80_000)}`, expect: 'reject' },
    { name: 'hostile/binary', text: `${demo}\u0000\u0001`, expect: 'reject' },
    { name: 'hostile/two-documents', text: `${demo}\n---\nmodel: {base: x}\n`, expect: 'reject' },
    { name: 'hostile/custom-tag', text: edit(/epochs: (\d+)/, 'epochs: !custom $1'), expect: 'reject' },
    { name: 'hostile/str-tag-number', text: edit(/epochs: (\d+)/, 'epochs: !!str $1'), expect: 'reject' },
    { name: 'hostile/float-tag-int', text: edit(/epochs: (\d+)/, 'epochs: !!float 3'), expect: 'accept' },
    { name: 'hostile/int-tag-float', text: edit(/save_steps: (\d+)/, 'save_steps: !!int 3.5'), expect: 'reject' },
    { name: 'hostile/huge-int', text: edit(/save_steps: (\d+)/, `save_steps: ${'9'.repeat(150)}`), expect: 'reject' },
    { name: 'hostile/big-int', text: edit(/save_steps: (\d+)/, `save_steps: ${'9'.repeat(30)}`), expect: 'accept' },
    { name: 'hostile/nan', text: edit(/max_grad_norm: ([\d.]+)/, 'max_grad_norm: .nan'), expect: 'reject' },
    { name: 'hostile/inf', text: edit(/max_grad_norm: ([\d.]+)/, 'max_grad_norm: .inf'), expect: 'reject' },
    { name: 'hostile/overflow', text: edit(/max_grad_norm: ([\d.]+)/, 'max_grad_norm: 1e400'), expect: 'reject' },
    { name: 'hostile/hex', text: edit(/save_steps: (\d+)/, 'save_steps: 0x20'), expect: 'accept' },
    { name: 'hostile/quoted-key', text: edit(/save_steps: (\d+)/, '"save_steps": 20'), expect: 'accept' },
    { name: 'hostile/anchor-section', text: `${full}\nx: 1\n`, expect: 'reject' },
    { name: 'hostile/merge-key', text: `${demo}\nx-common: &common {per_device_batch_size: 2}\n`, expect: 'reject' },
    { name: 'hostile/merge-into-section', text: demo.replace(/^train:\n/m, 'train:\n  <<: {gradient_accumulation_steps: 2}\n'), expect: 'accept' },
    { name: 'hostile/crlf', text: demo.replace(/\n/g, '\r\n'), expect: 'accept' },
    { name: 'hostile/bom-less-unicode-key', text: `${demo}\nmodèle: 1\n`, expect: 'reject' },
  ];
}

test('config validation: generated and mutated configs never throw, planted defects are covered, and the trainer agrees', { timeout: 600_000 }, (t) => {
  const python = process.env.MEDVLM_PYTHON;
  assert.ok(python, 'MEDVLM_PYTHON must name the trainer environment (npm test sets it)');
  const configsDir = path.join(repoRoot, 'python/configs');
  const bases = readdirSync(configsDir)
    .filter((f) => f.endsWith('.sft.yaml'))
    .map((f) => ({ name: f, text: readFileSync(path.join(configsDir, f), 'utf8') }));
  const cases: Case[] = [...bases.map((b) => ({ name: `base/${b.name}`, text: b.text, expect: 'accept' as const })), ...hostileCases()];
  for (const [kind, generate] of Object.entries(generators)) {
    let made = 0;
    for (let attempt = 0; made < CASES_PER_KIND && attempt < CASES_PER_KIND * 5; attempt += 1) {
      const base = pick(bases);
      const made1 = generate(`${kind}/${cases.length}/${base.name}`, base.text, survey(base.text));
      if (made1 !== undefined) {
        cases.push(made1);
        made += 1;
      }
    }
    assert.ok(made >= CASES_PER_KIND, `generator ${kind} made only ${made} cases`);
  }
  // Mutations of mutations: two defects in one file.
  for (let i = 0; i < CASES_PER_KIND; i += 1) {
    const first = pick(cases.filter((c) => c.planted !== undefined && !c.name.startsWith('tabIndent')));
    const second = generators.blind!(`${first.name}+blind/${cases.length}`, first.text, { leaves: [], entries: [] });
    if (second) cases.push({ name: second.name, text: second.text });
  }
  assert.ok(cases.length >= 2000, `only ${cases.length} cases`);

  // 1 and 2: never throws; planted defects covered; certain expectations hold.
  const verdicts = new Map<string, boolean>();
  const failures: string[] = [];
  for (const c of cases) {
    let problems;
    try {
      problems = checkConfigText(c.text).problems;
    } catch (err) {
      failures.push(`${c.name}: threw ${String(err)}`);
      continue;
    }
    const rejected = hasErrors(problems);
    verdicts.set(c.name, rejected);
    if (c.expect === 'accept' && rejected) failures.push(`${c.name}: rejected a valid config: ${problems.map((p) => p.message).join(' | ')}`);
    if (c.expect === 'reject' && !rejected) failures.push(`${c.name}: accepted a defective config`);
    if (c.planted) {
      const { start, end } = c.planted;
      const covered = problems.some((p) => p.severity === 'error' && p.range.start <= start && p.range.end >= end);
      if (!covered) {
        failures.push(`${c.name}: planted ${c.planted.what} at ${start}-${end} ("${c.text.slice(start, end)}") not covered; got ${problems.map((p) => `${p.code}@${p.range.start}-${p.range.end}`).join(', ') || 'nothing'}`);
      }
    }
  }

  // 3: one batch call of the real trainer CLI on every case.
  const dir = tempDir(t, 'medvlm-fuzz-');
  const files = cases.map((c, i) => {
    const file = path.join(dir, `case-${String(i).padStart(5, '0')}.sft.yaml`);
    writeFileSync(file, c.text, 'utf8');
    return file;
  });
  const result = spawnSync(python, ['-m', 'medvlm_sft', 'validate', '--json', ...files], {
    env: { ...process.env, PYTHONPATH: path.join(repoRoot, 'python/src') },
    maxBuffer: 512 * 1024 * 1024,
    encoding: 'utf8',
  });
  // Exit status 1 means "some configs have errors", which is expected here.
  assert.ok(result.status === 0 || result.status === 1, `validate exited with ${result.status}: ${result.stderr.slice(-2000)}`);
  const reports = new Map<string, { ok: boolean; problems: { code: string; severity: string; message: string }[] }>();
  for (const line of result.stdout.split('\n')) {
    if (line.trim() === '') continue;
    const report = JSON.parse(line) as { config: string; ok: boolean; problems: { code: string; severity: string; message: string }[] };
    reports.set(report.config, report);
  }
  assert.equal(reports.size, cases.length, 'the trainer reported on every case');
  cases.forEach((c, i) => {
    const report = reports.get(files[i]!)!;
    const trainerRejects = report.problems.some((p) => p.severity === 'error' && STRUCTURAL_CODES.has(p.code));
    const editorRejects = verdicts.get(c.name);
    if (editorRejects !== undefined && editorRejects !== trainerRejects) {
      const said = report.problems.map((p) => `${p.code}: ${p.message}`).join(' | ') || 'no problems';
      failures.push(`${c.name}: editor ${editorRejects ? 'rejects' : 'accepts'}, trainer ${trainerRejects ? 'rejects' : 'accepts'} (${said}); case file ${files[i]}`);
    }
  });
  if (failures.length > 0) {
    // Keep the failing cases: the temporary folder goes when the test ends.
    const keep = path.join(repoRoot, 'test-artifacts', 'config-fuzz');
    mkdirSync(keep, { recursive: true });
    writeFileSync(path.join(keep, 'failures.txt'), failures.join('\n'), 'utf8');
    cases.forEach((c, i) => {
      if (failures.some((f) => f.startsWith(`${c.name}:`))) writeFileSync(path.join(keep, path.basename(files[i]!)), c.text, 'utf8');
    });
  }
  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} of ${cases.length} cases failed (seed ${SEED})`);
});
