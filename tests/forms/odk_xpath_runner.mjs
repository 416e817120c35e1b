// Evaluates XPath expressions with ODK's own engine (@getodk/xpath, from ODK Web Forms) for
// tests/forms/test_xpath_vs_odk.py. Usage: node odk_xpath_runner.mjs ODK_DIR < cases.json
// ODK_DIR holds node_modules with @getodk/xpath, linkedom, temporal-polyfill and crypto-js.
// Input: {"xml": main instance, "context": XPath of the context node,
//         "instances": {id: "<root>…</root>"}, "expressions": [...]}
// Output: [{"value": string()} | {"error": message}, ...] in the same order.
import { createRequire } from 'module';
import { pathToFileURL } from 'url';
import path from 'path';
import fs from 'fs';

const odkDir = process.argv[2];
const req = createRequire(path.join(odkDir, 'package.json'));
globalThis.__dirname = odkDir;
globalThis.require = req;
const { DOMParser, parseHTML } = await import(pathToFileURL(req.resolve('linkedom')).href);

// @getodk/xpath checks for a browser-like DOM: give it linkedom's, with the namespace lookups
// linkedom lacks. linkedom puts every element in the XHTML namespace, so unprefixed names
// resolve there.
const win = parseHTML('<html></html>');
const XHTML = 'http://www.w3.org/1999/xhtml';
const NS = { jr: 'http://openrosa.org/javarosa', odk: 'http://www.opendatakit.org/xforms',
  orx: 'http://openrosa.org/xforms', xml: 'http://www.w3.org/XML/1998/namespace' };
win.Node.prototype.lookupNamespaceURI = function (prefix) {
  return prefix ? (NS[prefix] ?? null) : XHTML;
};
win.Node.prototype.lookupPrefix = function () { return null; };
win.Node.prototype.isDefaultNamespace = function (uri) { return uri === XHTML; };
globalThis.Node = win.Node;
globalThis.document = win.document;
for (const k of ['Element', 'Attr', 'Text', 'Document', 'XMLDocument']) if (win[k]) globalThis[k] = win[k];

const xpath = await import(pathToFileURL(req.resolve('@getodk/xpath')).href);
const input = JSON.parse(fs.readFileSync(0, 'utf8'));
const parser = new DOMParser();
const doc = parser.parseFromString(input.xml, 'text/xml');
const secondary = new Map();
for (const [id, xml] of Object.entries(input.instances ?? {})) {
  const instanceDoc = parser.parseFromString(`<instance id="${id}">${xml}</instance>`, 'text/xml');
  secondary.set(id, instanceDoc.documentElement);
}
const evaluator = new xpath.XFormsXPathEvaluator({
  rootNode: doc,
  domAdapter: xpath.DEFAULT_DOM_ADAPTER,
  itextTranslationsByLanguage: new Map(),
  secondaryInstancesById: secondary,
});
const contextNode = evaluator.evaluate(input.context, doc, null, 9).singleNodeValue;
const out = [];
for (const expression of input.expressions) {
  try {
    const result = evaluator.evaluate(expression, contextNode, null, 2);
    out.push({ value: result.stringValue });
  } catch (error) {
    out.push({ error: String(error && error.message ? error.message : error) });
  }
}
process.stdout.write(JSON.stringify(out));
