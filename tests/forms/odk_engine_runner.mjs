// Runs DESIGN §8 `forms eval` steps with ODK Web Forms' own engine (@getodk/xforms-engine) for
// tests/forms/test_session_vs_odk.py. Usage: node odk_engine_runner.mjs ENGINE_DIR < input.json
// ENGINE_DIR holds node_modules with @getodk/xforms-engine and jsdom.
// Input: {"xform": XForm XML, "steps": [...] or "runs": [[...], ...], "attachments": {"file.csv": text}}
// Output: {"nodes": [{path, nodeType, value, relevant, required, readonly, constraint_valid,
//          required_empty, constraint_message}], "errors": [{step, message}]}
import fs from 'fs';
import { createRequire } from 'module';
import path from 'path';
import { pathToFileURL } from 'url';

const engineDir = process.argv[2];
const req = createRequire(path.join(engineDir, 'package.json'));
globalThis.require = req;
// The engine's tree-sitter loader looks for its .wasm beside the bundle through __dirname.
globalThis.__dirname = path.dirname(req.resolve('@getodk/xforms-engine'));
const { JSDOM } = await import(pathToFileURL(req.resolve('jsdom')).href);
const w = new JSDOM('<html></html>').window;
for (const k of ['DOMParser', 'XMLSerializer', 'Node', 'Element', 'Attr', 'Text', 'Document',
  'XMLDocument', 'document', 'NodeFilter', 'CharacterData', 'Comment', 'ProcessingInstruction',
  'CDATASection', 'DocumentFragment', 'XPathResult']) if (w[k]) globalThis[k] = w[k];
const { createInstance } = await import(pathToFileURL(req.resolve('@getodk/xforms-engine')).href);
const input = JSON.parse(fs.readFileSync(0, 'utf8'));
const fetchFormAttachment = async (url) => {
  const name = String(url).split('/').pop();
  const text = (input.attachments ?? {})[name];
  if (text == null) throw new Error('no attachment ' + name);
  const type = name.endsWith('.csv') ? 'text/csv'
    : name.endsWith('.geojson') ? 'application/geo+json' : 'text/xml';
  return new Response(text, { headers: { 'content-type': type } });
};

async function run(steps) {
const inst = await createInstance(input.xform, {
  form: { fetchFormAttachment },
  instance: { stateFactory: (x) => x },
});
const root = inst.root;
const errors = [];
function leaves(node, out) {
  const kids = node.currentState.children;
  if (kids == null) { out.push(node); return out; }
  for (const k of kids) leaves(k, out);
  return out;
}
function ranges(node, out) {
  const kids = node.currentState.children;
  if (kids == null) return out;
  if (node.nodeType && node.nodeType.startsWith('repeat-range')) out.push(node);
  for (const k of kids) ranges(k, out);
  return out;
}
function find(nameOrPath) {
  const all = leaves(root, []);
  const last = (r) => r.split('/').pop().replace(/\[\d+\]$/, '');
  const hits = nameOrPath.startsWith('/')
    ? all.filter((n) => n.currentState.reference === nameOrPath)
    : all.filter((n) => last(n.currentState.reference) === nameOrPath);
  if (hits.length !== 1) throw new Error('not found/unique: ' + nameOrPath);
  return hits[0];
}
steps.forEach((step, i) => {
  try {
    if ('set' in step) {
      const n = find(step.set);
      const v = step.value;
      if (n.nodeType === 'select') {
        if (n.selectValues && n.definition.bodyElement?.type === 'select') n.selectValues(v.split(/\s+/).filter(Boolean));
        else n.selectValue(v === '' ? null : v);
      } else if (n.nodeType === 'rank') n.setValues(v.split(/\s+/).filter(Boolean));
      else if (n.nodeType === 'trigger') n.setValue(v !== '');
      else n.setValue(v);
    } else if ('add_repeat' in step) {
      const r = ranges(root, []).filter((n) => n.currentState.reference.split('/').pop().replace(/\[\d+\]$/, '') === step.add_repeat);
      if (r.length !== 1) throw new Error('no repeat ' + step.add_repeat);
      r[0].addInstances(undefined, step.count ?? 1);
    } else if ('set_language' in step) {
      const lang = root.languages.find((l) => l.language === step.set_language);
      if (!lang) throw new Error('no language');
      root.setLanguage(lang);
    }
  } catch (e) { errors.push({ step: i, message: String(e.message || e) }); }
});
const nodes = leaves(root, []).map((n) => {
  const s = n.currentState;
  const v = n.validationState;
  return {
    path: s.reference, nodeType: n.nodeType,
    value: s.instanceValue ?? '', relevant: s.relevant, required: s.required, readonly: s.readonly,
    constraint_valid: v ? v.constraint.valid : true,
    required_empty: v ? !v.required.valid : false,
    constraint_message: v && v.constraint.message ? v.constraint.message.asString : null,
  };
});
return { nodes, errors };
}

// One run per list of steps: {"steps": [...]} → one result, {"runs": [[...], ...]} → a list.
if (input.runs) {
  const out = [];
  for (const steps of input.runs) out.push(await run(steps));
  process.stdout.write(JSON.stringify(out));
} else {
  process.stdout.write(JSON.stringify(await run(input.steps)));
}
