// Validation of a bundle, stage by stage (spec/README.md, section 8):
// archive, json, schema, semantics, files, onnx, contract, test-vectors.
//
// Each problem is {code, level, location, message}; location is a file of the
// bundle, or "bundle.json#<RFC 6901 pointer>". The codes are those the spec
// lists; where this reader detects a defect the spec's table has no code for,
// the code says so in the same stage:detail form (the spec allows other codes).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';

import { parseStrict, escapePointerToken, MAX_BYTES } from './strict-json.mjs';
import { documentDigest } from './jcs.mjs';
import { inspectModel, ELEM_TYPES, STANDARD_DOMAINS } from './onnx-facts.mjs';
import { openBundle, MAX_FILE, Refusal } from './source.mjs';

// The model is held in memory whole (the runtime needs it so); the spec lets a reader set a
// lower limit than 2 GiB for it (section 9). 512 MiB, as dnnlik: a model of that size loads
// in onnxruntime within the runtime process's 4 GiB address space (runner.mjs).
const MAX_MODEL = 512 * 1024 ** 2;
import { runModel, encodeTensor, decodeToDoubles, RUN_SECONDS } from './runner.mjs';
import { tensorFromJson, compareOutput } from './tensors.mjs';
import { planBehaviour } from './behaviour.mjs';

// Versions this reader implements. A version is read only when its schemas are
// present too (spec section 10: a reader MUST reject any version it has no schema for).
export const IMPLEMENTED_VERSIONS = ['1.0.0', '1.1.0'];
export const SCHEMA_ROOT = fileURLToPath(new URL('../../../spec/schemas/', import.meta.url));

const FILE = 'bundle.json';
// A location inside bundle.json: the pointer in its URI-fragment form, with control characters
// percent-encoded (RFC 6901, section 6) so that a report line stays one line.
const at = (pointer) => (pointer ? `${FILE}#${pointer.replace(/[\x00-\x1f\x7f]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'))}` : FILE);
const ptr = (...tokens) => tokens.map((t) => '/' + escapePointerToken(t)).join('');

class Report {
  constructor() {
    this.problems = [];
  }
  add(code, location, message, level = 'error') {
    this.problems.push({ code, level, location, message });
  }
  get errors() {
    return this.problems.filter((p) => p.level === 'error');
  }
  has(prefix) {
    return this.problems.some((p) => p.level === 'error' && p.code.startsWith(prefix));
  }
}

export function supportedVersions() {
  return IMPLEMENTED_VERSIONS.filter((v) => fs.existsSync(path.join(SCHEMA_ROOT, v, 'bundle.schema.json')));
}

const validators = new Map();
function schemaValidator(version) {
  if (validators.has(version)) return validators.get(version);
  // All schema files of the version, added by their $id; nothing is fetched. The schemas use
  // no "format" keyword, so ajv-formats is not loaded (in strict mode ajv refuses a schema with
  // a format it does not know, so one added later cannot be skipped silently). inlineRefs and
  // optimize off: compiling the schemas then takes about half the time, validating as long.
  const ajv = new Ajv2020({
    allErrors: true, strict: true, strictRequired: false, strictTypes: false, strictTuples: false,
    inlineRefs: false, code: { optimize: false },
  });
  const dir = path.join(SCHEMA_ROOT, version);
  for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
    const parsed = parseStrict(fs.readFileSync(path.join(dir, name)));
    if (parsed.problems.length) throw new Error(`schema ${name} of ${version} is not strict JSON: ${parsed.problems[0].message}`);
    ajv.addSchema(parsed.value);
  }
  const validate = ajv.getSchema(`https://schemas.dnnlik.org/bundle/${version}/bundle.schema.json`);
  if (!validate) throw new Error(`no bundle.schema.json with the expected $id for ${version}`);
  validators.set(version, validate);
  return validate;
}

// ------------------------------------------------------------------ semantics

function num(b, side) {
  return b === null ? (side === 0 ? -Infinity : Infinity) : b;
}

const INPUT_ROLES = { likelihood: ['parameters'], 'spectrum-fit': ['histogram'], classifier: ['features', 'parameters'] };
const OUTPUT_ROLES = { likelihood: ['logpdf', 'grad_logpdf', 'logpdf_spread', 'other'], 'spectrum-fit': ['background', 'other'], classifier: ['score', 'other'] };
const REQUIRED_OUTPUT = { likelihood: 'logpdf', 'spectrum-fit': 'background', classifier: 'score' };

function shapeStr(shape) {
  return '[' + shape.map((d) => (d === null ? 'N' : String(d))).join(', ') + ']';
}

function semanticParameters(doc, r) {
  const seen = new Map();
  doc.parameters.forEach((p, i) => {
    const where = ptr('parameters', i);
    if (seen.has(p.name)) r.add('semantics:duplicate-name', at(where + '/name'), `parameter name ${JSON.stringify(p.name)} is also used by /parameters/${seen.get(p.name)}`);
    else seen.set(p.name, i);
    const lo = num(p.bounds[0], 0), hi = num(p.bounds[1], 1);
    if (!(lo < hi)) {
      r.add('semantics:bounds-order', at(where + '/bounds'), `lower bound ${p.bounds[0]} is not below upper bound ${p.bounds[1]}`);
      return;
    }
    if (!(lo <= p.nominal && p.nominal <= hi)) r.add('semantics:nominal-outside', at(where + '/nominal'), `nominal ${p.nominal} lies outside the bounds [${p.bounds[0]}, ${p.bounds[1]}]`);
    const tr = p.training_range;
    if (tr !== undefined) {
      if (tr[0] > tr[1]) r.add('semantics:range-order', at(where + '/training_range'), `training_range low ${tr[0]} exceeds high ${tr[1]}`);
      else if (tr[0] < lo || tr[1] > hi) r.add('semantics:range-outside', at(where + '/training_range'), `training_range [${tr[0]}, ${tr[1]}] extends outside the bounds [${p.bounds[0]}, ${p.bounds[1]}]`);
    }
    if (p.constraint.type === 'uniform' && (p.bounds[0] === null || p.bounds[1] === null)) {
      r.add('semantics:uniform-unbounded', at(where + '/constraint'), 'a uniform constraint needs both bounds finite');
    }
    if (p.constraint.type === 'gamma' && !(hi > 0)) {
      r.add('semantics:gamma-support', at(where + '/constraint'), `a gamma constraint is -inf for x <= 0, but the bounds [${p.bounds[0]}, ${p.bounds[1]}] allow no x > 0`);
    }
  });
  if (doc.kind === 'likelihood' && !doc.parameters.some((p) => p.role === 'poi')) {
    r.add('semantics:no-poi', at('/parameters'), "no parameter has role 'poi'", 'warning');
  }
}

// fixed_parameters (1.1.0): unique names, none of them also a parameter (an input of the model).
function semanticFixedParameters(doc, r) {
  const free = new Map();
  doc.parameters.forEach((p, i) => { if (!free.has(p.name)) free.set(p.name, i); });
  const seen = new Map();
  doc.fixed_parameters.forEach((f, i) => {
    const where = at(ptr('fixed_parameters', i, 'name'));
    if (free.has(f.name)) r.add('semantics:fixed-parameter-clash', where, `${JSON.stringify(f.name)} is fixed here and also a parameter of the model (/parameters/${free.get(f.name)})`);
    else if (seen.has(f.name)) r.add('semantics:duplicate-name', where, `fixed parameter ${JSON.stringify(f.name)} is also listed at /fixed_parameters/${seen.get(f.name)}`);
    if (!seen.has(f.name)) seen.set(f.name, i);
  });
}

function semanticModel(doc, r) {
  const { model, kind } = doc;
  const P = doc.parameters.length;
  for (const [side, allowed] of [['inputs', INPUT_ROLES[kind]], ['outputs', OUTPUT_ROLES[kind]]]) {
    const names = new Set();
    model[side].forEach((t, i) => {
      if (names.has(t.name)) r.add('semantics:duplicate-tensor', at(ptr('model', side, i, 'name')), `tensor name ${JSON.stringify(t.name)} is used twice in ${side}`);
      names.add(t.name);
      if (!allowed.includes(t.role)) r.add('semantics:tensor-role', at(ptr('model', side, i, 'role')), `role ${JSON.stringify(t.role)} does not fit kind ${JSON.stringify(kind)} (allowed: ${allowed.join(', ')})`);
    });
  }
  const rolesOut = model.outputs.map((t) => t.role);
  if (!rolesOut.includes(REQUIRED_OUTPUT[kind])) r.add('semantics:missing-output', at('/model/outputs'), `kind ${JSON.stringify(kind)} needs an output with role ${JSON.stringify(REQUIRED_OUTPUT[kind])}`);
  for (const role of new Set(rolesOut)) {
    const n = rolesOut.filter((x) => x === role).length;
    if (role !== 'other' && n > 1) r.add('semantics:duplicate-role', at('/model/outputs'), `${n} outputs have role ${JSON.stringify(role)}`);
  }
  if (kind !== 'likelihood') return;
  if (model.inputs.length !== 1 || model.inputs[0].role !== 'parameters') {
    r.add('semantics:inputs', at('/model/inputs'), "a likelihood model takes exactly one input, with role 'parameters'");
  }
  const expected = { parameters: [null, P], logpdf: [null], logpdf_spread: [null], grad_logpdf: [null, P] };
  for (const side of ['inputs', 'outputs']) {
    model[side].forEach((t, i) => {
      const want = expected[t.role];
      if (want && (t.shape.length !== want.length || t.shape.some((d, k) => d !== want[k]))) {
        r.add('semantics:tensor-shape', at(ptr('model', side, i, 'shape')), `role ${JSON.stringify(t.role)} needs shape ${shapeStr(want)} for ${P} parameters, got ${shapeStr(t.shape)}`);
      }
    });
  }
  if (rolesOut.includes('logpdf_spread') && model.ensemble === undefined) {
    r.add('semantics:spread-without-ensemble', at('/model'), "a 'logpdf_spread' output but no 'ensemble' section", 'warning');
  }
  const ens = model.ensemble;
  if (ens && ens.members !== undefined && ens.members.length !== ens.size) {
    r.add('semantics:ensemble-size', at('/model/ensemble'), `size ${ens.size} but ${ens.members.length} members listed`);
  }
  const tr = model.transform || {};
  for (const key of ['input_shift', 'input_scale']) {
    if (tr[key] !== undefined && tr[key].length !== P) r.add('semantics:length', at(ptr('model', 'transform', key)), `${key} has ${tr[key].length} values for ${P} parameters`);
  }
  if ((tr.input_scale || []).some((v) => v === 0)) r.add('semantics:zero-scale', at('/model/transform/input_scale'), 'input_scale contains 0');
  const b = tr.baseline;
  if (b && b.type === 'quadratic') {
    if (b.center.length !== P) r.add('semantics:length', at('/model/transform/baseline/center'), `center has ${b.center.length} values for ${P} parameters`);
    const h = b.hessian;
    if (h.length !== P || h.some((row) => row.length !== P)) {
      r.add('semantics:hessian-shape', at('/model/transform/baseline/hessian'), `hessian must be ${P} x ${P}`);
    } else {
      // spec 3.3.2: symmetric means |H_ij - H_ji| <= 1e-12 + 1e-9 |H_ji| for every i, j (both orders)
      outer: for (let i = 0; i < P; i++) {
        for (let j = i + 1; j < P; j++) {
          const a = h[i][j], c = h[j][i];
          if (!(Math.abs(a - c) <= 1e-12 + 1e-9 * Math.min(Math.abs(a), Math.abs(c)))) {
            r.add('semantics:hessian-asymmetric', at('/model/transform/baseline/hessian'), `hessian is not symmetric: [${i}][${j}] = ${h[i][j]} but [${j}][${i}] = ${h[j][i]}`);
            break outer;
          }
        }
      }
    }
  }
  const best = doc.output && doc.output.best_fit;
  if (best && best.point.length !== P) r.add('semantics:length', at('/output/best_fit/point'), `best_fit point has ${best.point.length} values for ${P} parameters`);
}

function semanticFiles(doc, r) {
  const seen = new Set();
  doc.files.forEach((f, i) => {
    if (seen.has(f.path)) r.add('semantics:duplicate-file', at(ptr('files', i, 'path')), `${JSON.stringify(f.path)} is listed twice`);
    if (f.path === FILE) r.add('semantics:self-listed', at(ptr('files', i, 'path')), 'bundle.json cannot list itself (its digest is document_sha256)');
    seen.add(f.path);
  });
  if (!seen.has(doc.model.file)) r.add('semantics:model-unlisted', at('/model/file'), `model file ${JSON.stringify(doc.model.file)} is not listed in 'files'`);
}

// returns the set of case indices that are malformed (not to be run)
function semanticTestVectors(doc, r) {
  const bad = new Set();
  const inputs = new Map(doc.model.inputs.map((t) => [t.name, t]));
  const outputs = new Map(doc.model.outputs.map((t) => [t.name, t]));
  const tv = doc.test_vectors;
  if (tv.tolerances !== undefined) {
    for (const name of Object.keys(tv.tolerances)) {
      if (!outputs.has(name)) r.add('test-vectors:tolerance-name', at(ptr('test_vectors', 'tolerances', name)), `${JSON.stringify(name)} is not a model output (declared: ${[...outputs.keys()].join(', ')})`);
    }
  }
  tv.cases.forEach((c, i) => {
    const where = ptr('test_vectors', 'cases', i);
    const missing = [...inputs.keys()].filter((n) => !Object.prototype.hasOwnProperty.call(c.inputs, n));
    if (missing.length) { r.add('semantics:test-vector-inputs', at(where + '/inputs'), `inputs ${missing.map((m) => JSON.stringify(m)).join(', ')} are missing`); bad.add(i); }
    for (const [side, declared] of [['inputs', inputs], ['outputs', outputs]]) {
      for (const [name, value] of Object.entries(c[side])) {
        const loc = at(where + ptr(side, name));
        const t = declared.get(name);
        if (!t) { r.add('semantics:test-vector-name', loc, `${JSON.stringify(name)} is not a model ${side.slice(0, -1)} (declared: ${[...declared.keys()].join(', ')})`); bad.add(i); continue; }
        const parsed = tensorFromJson(value, t.dtype, t.shape, doc.format_version);
        if (parsed.ragged) { r.add('semantics:test-vector-ragged', loc, parsed.error); bad.add(i); continue; }
        if (parsed.error) { r.add('test-vectors:bad-array', loc, parsed.error); bad.add(i); continue; }
        const shape = parsed.shape;
        if (shape.length !== t.shape.length || t.shape.some((d, k) => d !== null && d !== shape[k])) {
          r.add('semantics:test-vector-shape', loc, `has shape [${shape.join(', ')}], the model declares ${shapeStr(t.shape)}`);
          bad.add(i);
        }
      }
    }
  });
  return bad;
}

// ------------------------------------------------------------------ contract

const DTYPE_CODES = { float32: 1, float64: 11, int64: 7, int32: 6, bool: 9 };

function contract(doc, facts, r) {
  const model = doc.model;
  const defaults = facts.opsetImports.filter((o) => o.domain === '' || o.domain === 'ai.onnx');
  if (!defaults.length) r.add('contract:opset', at('/model/opset'), 'the model imports no opset of the default ONNX domain');
  for (const o of defaults) {
    if (o.version !== model.opset) r.add('contract:opset', at('/model/opset'), `the model imports opset ${o.version} of the default domain, bundle.json says ${model.opset}`);
  }
  if (facts.irVersion !== model.ir_version) r.add('contract:ir-version', at('/model/ir_version'), `the model has IR version ${facts.irVersion}, bundle.json says ${model.ir_version}`);
  for (const side of ['inputs', 'outputs']) {
    const one = side.slice(0, -1);
    const got = facts[side];
    const declared = model[side];
    const gotNames = got.map((v) => v.name), wantNames = declared.map((t) => t.name);
    if (gotNames.length !== wantNames.length || gotNames.some((n, i) => n !== wantNames[i])) {
      r.add(`contract:${one}-names`, at(ptr('model', side)), `the model's graph ${side} are ${JSON.stringify(gotNames)}, bundle.json declares ${JSON.stringify(wantNames)} (same names, same order)`);
      continue;
    }
    declared.forEach((t, i) => {
      const ty = got[i].type;
      const where = ptr('model', side, i);
      if (!ty || ty.notTensor || ty.elemType !== DTYPE_CODES[t.dtype]) {
        const what = !ty ? 'no type' : ty.notTensor ? 'a non-tensor type' : `element type ${ELEM_TYPES[ty.elemType] || ty.elemType}`;
        r.add(`contract:${one}-dtype`, at(where + '/dtype'), `${JSON.stringify(t.name)} has ${what} in the model, declared ${t.dtype}`);
        return;
      }
      if (ty.shape !== null && (ty.shape.length !== t.shape.length || ty.shape.some((d, k) => d !== t.shape[k]))) {
        r.add(`contract:${one}-shape`, at(where + '/shape'), `${JSON.stringify(t.name)} has shape ${shapeStr(ty.shape)} in the model, declared ${shapeStr(t.shape)}`);
      }
    });
  }
}

// ------------------------------------------------------------------ the validator

function compareVersions(a, b) {
  const pa = a.split(/[-+]/)[0].split('.').map(Number), pb = b.split(/[-+]/)[0].split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] < pb[i] ? -1 : 1;
  return 0;
}

// Validate the bundle at p. Returns {problems, doc, modelBytes, vectorInputs, vectorOutputs, extraResults}:
// vectorInputs[i] / vectorOutputs[i] are the tensors fed to and returned by the model in test-vector case i.
// options: {runSeconds, extraJobs(doc) -> further jobs to run in the same runtime process}
export async function validateBundle(p, options = {}) {
  const r = new Report();
  const result = { problems: r.problems, doc: undefined, modelBytes: undefined, vectorInputs: [], vectorOutputs: [] };
  const opened = await openBundle(p);
  for (const pr of opened.problems) r.add(pr.code, pr.location, pr.message);
  const src = opened.source;
  if (!src) return result;
  try {
    await validateOpened(src, r, result, options);
  } finally {
    src.close();
  }
  return result;
}

async function readFile(src, rel, limit, keep, r) {
  try {
    return await src.read(rel, limit, keep);
  } catch (e) {
    if (!(e instanceof Refusal)) throw e;
    if (e.code) r.add(e.code, rel, e.message); // no code: reported already, when the bundle was opened
    return null;
  }
}

async function validateOpened(src, r, result, options) {
  // ---- json
  if (!src.has(FILE)) {
    r.add('json:missing', FILE, 'the bundle has no bundle.json at its root');
    return;
  }
  if (src.sizeOf(FILE) > MAX_BYTES) { r.add('json:too-large', FILE, `bundle.json is larger than ${MAX_BYTES} bytes (16 MiB)`); return; }
  const raw = await readFile(src, FILE, MAX_BYTES, true, r);
  if (!raw) return;
  if (raw.overLimit) { r.add('json:too-large', FILE, `bundle.json is larger than ${MAX_BYTES} bytes (16 MiB)`); return; }
  const parsed = parseStrict(raw.bytes);
  for (const pr of parsed.problems) r.add(pr.code, pr.pointer === null ? FILE : at(pr.pointer), pr.message);
  if (!parsed.value) return;
  const doc = parsed.value;
  result.doc = doc;

  // ---- schema
  const version = doc.format_version;
  const supported = supportedVersions();
  if (typeof version !== 'string' || !supported.includes(version)) {
    r.add('schema:format-version', at('/format_version'),
      `format_version ${JSON.stringify(version)} is not one this reader implements (${supported.join(', ')})`);
    return;
  }
  const validate = schemaValidator(version);
  const broken = new Set();
  let schemaErrors = 0;
  if (!validate(doc)) {
    for (const e of validate.errors) {
      const pointer = e.instancePath;
      let message = e.message;
      if (e.keyword === 'additionalProperties') message = `member ${JSON.stringify(e.params.additionalProperty)} is not allowed here`;
      if (e.keyword === 'required') message = `member ${JSON.stringify(e.params.missingProperty)} is required`;
      if (e.keyword === 'if') continue; // its failing "then" is reported on its own
      r.add(`schema:${e.keyword}`, at(pointer), `${message} (schema ${e.schemaPath})`);
      schemaErrors++;
      const first = pointer.split('/')[1];
      if (first !== undefined) broken.add(first.replace(/~1/g, '/').replace(/~0/g, '~'));
      else if (e.keyword === 'required' || e.keyword === 'additionalProperties') broken.add(e.params.missingProperty ?? e.params.additionalProperty);
    }
  }

  // ---- semantics, on the sections without schema errors
  const ok = (...keys) => keys.every((k) => !broken.has(k) && doc[k] !== undefined);
  if (ok('parameters', 'kind')) semanticParameters(doc, r);
  if (ok('fixed_parameters', 'parameters')) semanticFixedParameters(doc, r);
  if (ok('model', 'parameters', 'kind') && !broken.has('output')) semanticModel(doc, r);
  if (ok('files', 'model')) semanticFiles(doc, r);
  let badCases = new Set();
  if (ok('test_vectors', 'model')) badCases = semanticTestVectors(doc, r);

  // ---- files
  const listed = new Map(); // path -> entry index (first)
  let modelRead = null;
  if (ok('files')) {
    for (const [i, f] of doc.files.entries()) {
      if (listed.has(f.path) || f.path === FILE) continue;
      listed.set(f.path, i);
      if (!src.has(f.path)) { r.add('files:missing', f.path, `listed in /files/${i} but not in the bundle`); continue; }
      const isModel = ok('model') && f.path === doc.model.file;
      // sizes first, from the scan or the zip's directory: a file is never read when they already disagree
      const max = isModel ? MAX_MODEL : MAX_FILE;
      const found = src.sizeOf(f.path);
      if (f.size > max || found > max) {
        r.add('files:too-large', f.path, `${f.size > max ? `listed with ${f.size}` : `holds ${found}`} bytes, more than this reader's ${isModel ? 'limit for a model, which it holds in memory (512 MiB)' : 'limit for a bundle file (2 GiB)'}`);
        continue;
      }
      if (found !== f.size) { r.add('files:size-mismatch', f.path, `has ${found} bytes, /files/${i} lists ${f.size}`); continue; }
      const got = await readFile(src, f.path, f.size, isModel, r);
      if (!got) continue;
      if (got.overLimit) { r.add('files:size-mismatch', f.path, `is larger than the ${f.size} bytes listed in /files/${i}`); continue; }
      if (got.size !== f.size) { r.add('files:size-mismatch', f.path, `has ${got.size} bytes, /files/${i} lists ${f.size}`); continue; }
      if (got.sha256 !== f.sha256) { r.add('files:digest-mismatch', f.path, `has SHA-256 ${got.sha256}, /files/${i} lists ${f.sha256}`); continue; }
      if (isModel) modelRead = got.bytes;
    }
    for (const name of src.list().sort()) {
      if (name !== FILE && !listed.has(name)) r.add('files:unlisted', name, "is in the bundle but not listed in 'files'");
    }
  }
  if (typeof doc.document_sha256 === 'string') {
    const digest = documentDigest(doc);
    if (digest !== doc.document_sha256) r.add('files:document-digest', at('/document_sha256'), `the canonical document (RFC 8785, without document_sha256) has SHA-256 ${digest}`);
  }

  // ---- onnx
  if (!modelRead) return;
  result.modelBytes = modelRead;
  const modelFile = doc.model.file;
  const inspected = inspectModel(modelRead);
  if (inspected.error) { r.add('onnx:unreadable', modelFile, inspected.error); return; }
  const facts = inspected.facts;
  for (const o of facts.opsetImports) {
    if (!STANDARD_DOMAINS.has(o.domain)) r.add('onnx:custom-op', modelFile, `imports the operator domain ${JSON.stringify(o.domain)}; only "" (ai.onnx) and "ai.onnx.ml" are allowed`);
  }
  for (const d of facts.nonStandardDomains) r.add('onnx:custom-op', modelFile, `${d.where} uses the operator domain ${JSON.stringify(d.domain)}; only "" (ai.onnx) and "ai.onnx.ml" are allowed`);
  if (facts.functionCount) r.add('onnx:custom-op', modelFile, `defines ${facts.functionCount} model-local function(s); they are not allowed`);
  for (const w of facts.externalData) r.add('onnx:external-data', modelFile, `${w} keeps its data outside the model file (external data)`);
  // spec 4.4: refused before the model is loaded into a runtime
  for (const m of facts.unbounded) r.add('onnx:unbounded', modelFile, `${m}: the model's cost cannot be bounded`);
  const onnxOk = !r.has('onnx:');

  // ---- contract
  if (ok('model')) contract(doc, facts, r);

  // ---- test vectors
  if (schemaErrors || !onnxOk || !ok('test_vectors', 'model')) return;
  await runTestVectors(doc, modelRead, badCases, r, result, options);
}

async function runTestVectors(doc, modelBytes, badCases, r, result, options) {
  const tv = doc.test_vectors;
  const inputs = doc.model.inputs;
  const outputs = new Map(doc.model.outputs.map((t) => [t.name, t]));
  const jobs = [];
  const caseOf = [];
  tv.cases.forEach((c, i) => {
    if (badCases.has(i)) return;
    const feeds = {};
    const fed = {};
    for (const t of inputs) {
      const parsed = tensorFromJson(c.inputs[t.name], t.dtype, t.shape, doc.format_version);
      feeds[t.name] = encodeTensor(t.dtype, parsed.shape, parsed.data);
      fed[t.name] = { dims: parsed.shape, values: Array.from(parsed.data, Number) };
    }
    result.vectorInputs[i] = fed;
    jobs.push({ feeds, fetches: Object.keys(c.outputs) });
    caseOf.push(i);
  });
  if (!jobs.length) return;
  // the behaviour checks run after the test vectors, in the same runtime process, on one
  // shared time bound; so do further runs a caller asks for (eval's point)
  const behaviour = planBehaviour(doc, badCases);
  const bJobs = behaviour ? behaviour.jobs : [];
  const extra = options.extraJobs ? options.extraJobs(doc) : [];
  const seconds = options.runSeconds ?? RUN_SECONDS;
  const run = await runModel(modelBytes, [...jobs, ...bJobs, ...extra], { seconds, sharedSeconds: seconds });
  result.extraResults = run.results.slice(jobs.length + bJobs.length);
  if (!run.session.ok) {
    r.add(run.session.timeout ? 'test-vectors:timeout' : 'test-vectors:session', doc.model.file, `onnxruntime cannot load the model: ${run.session.message}`);
    return;
  }
  if (run.session.ortVersion && compareVersions(run.session.ortVersion, doc.model.onnxruntime_min_version) < 0) {
    r.add('test-vectors:onnxruntime-version', at('/model/onnxruntime_min_version'), `this runtime is onnxruntime ${run.session.ortVersion}, older than the ${doc.model.onnxruntime_min_version} the bundle asks for`, 'warning');
  }
  jobs.forEach((job, k) => {
    const i = caseOf[k];
    const where = ptr('test_vectors', 'cases', i);
    const res = run.results[k];
    if (!res) return; // not run: an earlier case was stopped (a validator then runs no further case)
    if (res.timeout) { r.add('test-vectors:timeout', at(where), res.message); return; }
    if (!res.ok) { r.add('test-vectors:run-failed', at(where), `onnxruntime failed: ${res.message}`); return; }
    const got = {};
    for (const name of job.fetches) {
      const t = res.outputs[name];
      const loc = at(where + ptr('outputs', name));
      const values = t && decodeToDoubles(t);
      if (!values) { r.add('test-vectors:run-failed', loc, `output ${JSON.stringify(name)} was not returned as a numeric tensor`); continue; }
      got[name] = { dims: t.dims, values };
      const tol = tv.tolerances && Object.prototype.hasOwnProperty.call(tv.tolerances, name)
        ? { ...tv.tolerances[name], member: `test_vectors.tolerances[${JSON.stringify(name)}]` }
        : { ...tv.tolerance, member: 'test_vectors.tolerance' };
      const expected = tensorFromJson(doc.test_vectors.cases[i].outputs[name], outputs.get(name).dtype, outputs.get(name).shape, doc.format_version);
      for (const pr of compareOutput(t.dims, values, expected, tol, outputs.get(name).dtype)) r.add(pr.code, loc, pr.message);
    }
    result.vectorOutputs[i] = got;
  });
  // "run after the test vectors, when they could run": only when every case ran
  const allRan = jobs.every((_, k) => run.results[k] && run.results[k].ok);
  if (behaviour && allRan) {
    for (const pr of behaviour.evaluate(run.results.slice(jobs.length, jobs.length + bJobs.length))) r.add(pr.code, pr.location, pr.message);
  }
}
