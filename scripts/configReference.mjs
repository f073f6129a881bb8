// Renders the README's configuration reference from media/run-config.schema.json, so the
// documentation cannot drift from the pydantic model. `--check` fails when README is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './pythonEnv.mjs';

const START = '<!-- config-reference:start -->';
const END = '<!-- config-reference:end -->';

function resolve(schema, node) {
  let current = node;
  while (current && current.$ref) {
    current = schema.$defs[current.$ref.replace('#/$defs/', '')];
  }
  if (current && Array.isArray(current.allOf) && current.allOf.length === 1) {
    return { ...resolve(schema, current.allOf[0]), ...current, allOf: undefined };
  }
  return current;
}

function typeOf(schema, node) {
  const n = resolve(schema, node);
  if (n.enum) return n.enum.map((v) => `\`${JSON.stringify(v)}\``).join(' \\| ');
  if (n.const !== undefined) return `\`${JSON.stringify(n.const)}\``;
  if (n.anyOf) return n.anyOf.map((a) => typeOf(schema, a)).join(' \\| ');
  if (n.type === 'array') return `list of ${n.items ? typeOf(schema, n.items) : 'any'}`;
  if (n.properties) return 'section';
  return n.type ?? 'any';
}

function cell(text) {
  return String(text).replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function rows(schema, node, prefix, required) {
  const n = resolve(schema, node);
  const out = [];
  for (const [key, prop] of Object.entries(n.properties ?? {})) {
    const name = prefix ? `${prefix}.${key}` : key;
    const target = resolve(schema, prop);
    const isList = target.type === 'array' && target.items && resolve(schema, target.items).properties;
    const def = 'default' in prop ? `\`${JSON.stringify(prop.default)}\`` : (n.required ?? []).includes(key) ? 'required' : '';
    if (target.properties) {
      out.push(`| **\`${name}\`** | section | ${def === 'required' ? 'required' : ''} | ${cell(prop.description ?? target.description ?? '')} |`);
      out.push(...rows(schema, target, name, required));
    } else if (isList) {
      out.push(`| **\`${name}[]\`** | list | ${def} | ${cell(prop.description ?? '')} |`);
      out.push(...rows(schema, target.items, `${name}[]`, required));
    } else {
      out.push(`| \`${name}\` | ${typeOf(schema, prop)} | ${def} | ${cell(prop.description ?? '')} |`);
    }
  }
  return out;
}

export function renderReference(schema) {
  return ['| key | type | default | meaning |', '| --- | --- | --- | --- |', ...rows(schema, schema, '', [])].join('\n');
}

export function updateReadme(readme, schema) {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md lacks the ${START} ... ${END} markers`);
  return `${readme.slice(0, start + START.length)}\n${renderReference(schema)}\n${readme.slice(end)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const readmePath = path.join(repoRoot, 'README.md');
  const schema = JSON.parse(readFileSync(path.join(repoRoot, 'media', 'run-config.schema.json'), 'utf8'));
  const readme = readFileSync(readmePath, 'utf8');
  const updated = updateReadme(readme, schema);
  if (process.argv.includes('--check')) {
    if (updated !== readme) {
      console.error('README.md configuration reference is stale: run `npm run schema`');
      process.exit(1);
    }
  } else if (updated !== readme) {
    writeFileSync(readmePath, updated);
    console.error('updated the configuration reference in README.md');
  }
}
