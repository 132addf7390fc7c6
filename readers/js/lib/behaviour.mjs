// The behaviour checks (spec/README.md, section 8, stage "behaviour", and
// section 4.2 step 7): the model behaves as a function of each point.
//
//   behaviour:non-finite       (likelihood) at points inside the bounds, logpdf
//                              is never NaN or +inf, and grad_logpdf and
//                              logpdf_spread are finite wherever logpdf is not -inf
//   behaviour:batch-size       every output with a batch dimension (a leading
//                              null) has one row per input row, for every batch tried
//   behaviour:batch-dependence a row's outputs do not depend on the other rows:
//                              the same rows singly, in batches of 7 and 64, all
//                              together and all together reversed agree
//
// The spec lets a validator choose its points. This reader's, for a likelihood
// with P parameters: the nominal point; the best fit when it lies inside the
// bounds; four corners of the bounds box (all lower ends, all upper ends, and
// the two alternating corners); for each parameter (at most 256) with a finite
// bound, the nominal point with that parameter on the bound; 32 uniform draws
// in the training box and 32 in the bounds box, from a fixed seed. The
// training box of a parameter is its training_range, else its bounds where
// finite, else nominal -+ max(1, |nominal|); the bounds box is the bounds with
// an infinite side replaced by the training box's end. For the other kinds the
// rows are those of the test-vector inputs (when every input has a batch
// dimension), and there is no value rule.
//
// Agreement between batches: per element, within the larger of the output's
// test-vector tolerance (abs + rel * |reference|) and a float32 rounding floor
// of 256 float32 epsilons times (1 + the largest |value| of the reference row).
// The spec names the floor but not its size; 256 epsilons is dnnlik's choice too.

import { encodeTensor, decodeToDoubles, TYPED } from './runner.mjs';
import { tensorFromJson } from './tensors.mjs';

const EPS32 = 2 ** -23;
const FLOOR_EPS = 256;
const SINGLE_ROWS = 8;
const BATCH_SIZES = [7, 64];
const DRAWS = 32;
const MAX_EDGE_PARAMETERS = 256;
const MAX_VALUES = 500_000; // numbers in the point set; the runs feed it about four times
const MAX_TV_ROWS = 64;

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Points (arrays of doubles) inside the bounds of a likelihood's parameters.
export function likelihoodPoints(doc) {
  const params = doc.parameters;
  const P = params.length;
  const lo = params.map((q) => (q.bounds[0] === null ? -Infinity : q.bounds[0]));
  const hi = params.map((q) => (q.bounds[1] === null ? Infinity : q.bounds[1]));
  const nominal = params.map((q) => q.nominal);
  const tlo = [], thi = [];
  params.forEach((q, j) => {
    const spread = Math.max(1, Math.abs(q.nominal));
    if (q.training_range) { tlo.push(q.training_range[0]); thi.push(q.training_range[1]); }
    else { tlo.push(Number.isFinite(lo[j]) ? lo[j] : q.nominal - spread); thi.push(Number.isFinite(hi[j]) ? hi[j] : q.nominal + spread); }
  });
  const blo = lo.map((v, j) => (Number.isFinite(v) ? v : tlo[j]));
  const bhi = hi.map((v, j) => (Number.isFinite(v) ? v : thi[j]));
  const points = [nominal];
  const best = doc.output && doc.output.best_fit;
  if (best && best.point.length === P && best.point.every((v, j) => v >= lo[j] && v <= hi[j])) points.push(best.point);
  points.push(blo, bhi, blo.map((v, j) => (j % 2 ? bhi[j] : v)), blo.map((v, j) => (j % 2 ? v : bhi[j])));
  let edgeParams = [...Array(P).keys()];
  if (P > MAX_EDGE_PARAMETERS) edgeParams = Array.from({ length: MAX_EDGE_PARAMETERS }, (_, k) => Math.floor((k * P) / MAX_EDGE_PARAMETERS));
  for (const j of edgeParams) {
    for (const end of [lo[j], hi[j]]) {
      if (Number.isFinite(end)) { const x = nominal.slice(); x[j] = end; points.push(x); }
    }
  }
  const rand = mulberry32(20261125);
  for (const [a, b] of [[tlo, thi], [blo, bhi]]) {
    for (let k = 0; k < DRAWS; k++) points.push(a.map((v, j) => v + (b[j] - v) * rand()));
  }
  // every point inside the bounds (a training box may stick out of them in a broken document)
  const inside = points.filter((x) => x.every((v, j) => v >= lo[j] && v <= hi[j] && Number.isFinite(v)));
  return inside.slice(0, Math.max(2, Math.floor(MAX_VALUES / Math.max(P, 1))));
}

// rows: {inputs: [{name, dtype, rowShape, rowSize, data (typed, M rows)}], count, points?}
function rowsOfLikelihood(doc) {
  const input = doc.model.inputs.find((t) => t.role === 'parameters');
  if (!input || doc.model.inputs.length !== 1 || !['float32', 'float64'].includes(input.dtype)) return null;
  const points = likelihoodPoints(doc);
  const P = doc.parameters.length;
  const data = new TYPED[input.dtype](points.length * P);
  points.forEach((x, i) => data.set(x, i * P));
  return { inputs: [{ name: input.name, dtype: input.dtype, rowShape: [P], rowSize: P, data }], count: points.length, points };
}

function rowsOfTestVectors(doc, badCases) {
  const inputs = doc.model.inputs;
  if (!inputs.every((t) => t.shape.length >= 1 && t.shape[0] === null)) return null;
  const perInput = inputs.map((t) => ({ name: t.name, dtype: t.dtype, rowShape: null, parts: [], rows: 0 }));
  let count = null;
  for (const [i, c] of doc.test_vectors.cases.entries()) {
    if (badCases.has(i)) continue;
    let caseRows = null;
    const parsed = inputs.map((t) => tensorFromJson(c.inputs[t.name], t.dtype, t.shape, doc.format_version));
    if (parsed.some((p) => p.error)) continue;
    for (const [k, p] of parsed.entries()) {
      const rowShape = p.shape.slice(1);
      if (caseRows === null) caseRows = p.shape[0];
      if (p.shape[0] !== caseRows) return null; // the inputs of a case disagree on the batch size
      const slot = perInput[k];
      if (slot.rowShape === null) slot.rowShape = rowShape;
      if (slot.rowShape.join() !== rowShape.join()) return null;
      slot.parts.push(p.data);
    }
    count = (count ?? 0) + caseRows;
  }
  if (!count) return null;
  const used = Math.min(count, MAX_TV_ROWS);
  return {
    count: used,
    inputs: perInput.map((s) => {
      const rowSize = s.rowShape.reduce((a, b) => a * b, 1);
      const all = new TYPED[s.dtype](count * rowSize);
      let off = 0;
      for (const part of s.parts) { all.set(part, off); off += part.length; }
      return { name: s.name, dtype: s.dtype, rowShape: s.rowShape, rowSize, data: all.subarray(0, used * rowSize) };
    }),
  };
}

function feedsFor(rows, index) {
  const feeds = {};
  for (const inp of rows.inputs) {
    const out = new TYPED[inp.dtype](index.length * inp.rowSize);
    index.forEach((i, k) => out.set(inp.data.subarray(i * inp.rowSize, (i + 1) * inp.rowSize), k * inp.rowSize));
    feeds[inp.name] = encodeTensor(inp.dtype, [index.length, ...inp.rowShape], out);
  }
  return feeds;
}

// The plan: jobs to run (all marked shared: one time bound for the stage) and
// the function that turns their results into problems.
export function planBehaviour(doc, badCases) {
  const likelihood = doc.kind === 'likelihood';
  const rows = (likelihood && rowsOfLikelihood(doc)) || rowsOfTestVectors(doc, badCases);
  if (!rows || rows.count < 1) return null;
  const M = rows.count;
  const all = [...Array(M).keys()];
  const runs = [{ label: `all ${M} rows together`, index: all }];
  runs.push({ label: `all ${M} rows reversed`, index: all.slice().reverse() });
  for (const size of BATCH_SIZES) {
    if (size >= M) continue;
    for (let s = 0; s < M; s += size) runs.push({ label: `a batch of ${Math.min(size, M - s)} (rows ${s}..${Math.min(s + size, M) - 1})`, index: all.slice(s, s + size) });
  }
  for (let i = 0; i < Math.min(SINGLE_ROWS, M); i++) runs.push({ label: `row ${i} alone`, index: [i] });
  const fetches = doc.model.outputs.map((t) => t.name);
  const jobs = runs.map((r) => ({ feeds: feedsFor(rows, r.index), fetches, shared: true }));
  return { jobs, evaluate: (results) => evaluate(doc, rows, runs, results) };
}

function describePoint(x) {
  const shown = x.slice(0, 6).map((v) => String(v)).join(', ');
  return `[${shown}${x.length > 6 ? `, ... (${x.length} values)` : ''}]`;
}

function evaluate(doc, rows, runs, results) {
  const problems = [];
  const add = (code, location, message) => problems.push({ code, location, message });
  const outputs = doc.model.outputs;
  const tv = doc.test_vectors;
  const reported = new Set();
  const once = (key, code, location, message) => { if (!reported.has(key)) { reported.add(key); add(code, location, message); } };
  const got = []; // per run: {name: {dims, values}}
  for (const [k, run] of runs.entries()) {
    const res = results[k];
    if (!res) break; // not run: the stage was stopped before
    if (res.timeout) { add('behaviour:timeout', 'bundle.json#/model', res.message); break; }
    if (!res.ok) { add('behaviour:run-failed', 'bundle.json#/model', `the model fails on ${run.label} of valid rows: ${res.message}`); break; }
    const outs = {};
    for (const [o, t] of outputs.entries()) {
      const r = res.outputs[t.name];
      const values = r && decodeToDoubles(r);
      if (!values) { once(`type:${t.name}`, 'behaviour:run-failed', `bundle.json#/model/outputs/${o}`, `output ${JSON.stringify(t.name)} was not returned as a numeric tensor`); continue; }
      if (t.shape.length >= 1 && t.shape[0] === null) {
        if (r.dims[0] !== run.index.length) {
          once(`size:${t.name}`, 'behaviour:batch-size', `bundle.json#/model/outputs/${o}`,
            `output ${JSON.stringify(t.name)} has ${r.dims.length ? r.dims[0] : 'no'} rows for ${run.label}, which is ${run.index.length} rows: one row per input row is required`);
          continue;
        }
        outs[t.name] = { dims: r.dims, values, rowSize: values.length / Math.max(run.index.length, 1) };
      }
    }
    got.push(outs);
  }
  // non-finite values at points inside the bounds (likelihood)
  if (doc.kind === 'likelihood' && rows.points && got.length) {
    const lp = outputs.find((t) => t.role === 'logpdf');
    for (const [k, outs] of got.entries()) {
      const run = runs[k];
      const l = lp && outs[lp.name];
      if (!l) continue;
      run.index.forEach((i, p) => {
        const v = l.values[p];
        if (Number.isNaN(v) || v === Infinity) {
          once(`nf:${lp.name}`, 'behaviour:non-finite', `bundle.json#/model/outputs/${outputs.indexOf(lp)}`,
            `logpdf is ${v} at ${describePoint(rows.points[i])}, a point inside the bounds (a log-likelihood is finite or -inf)`);
        }
        if (v === -Infinity) return;
        for (const t of outputs) {
          if (t.role !== 'grad_logpdf' && t.role !== 'logpdf_spread') continue;
          const g = outs[t.name];
          if (!g) continue;
          const seg = g.values.slice(p * g.rowSize, (p + 1) * g.rowSize);
          const bad = seg.find((x) => !Number.isFinite(x));
          if (bad !== undefined) {
            once(`nf:${t.name}`, 'behaviour:non-finite', `bundle.json#/model/outputs/${outputs.indexOf(t)}`,
              `${t.role} holds ${bad} at ${describePoint(rows.points[i])}, where logpdf is ${v}: it must be finite wherever logpdf is not -inf`);
          }
        }
      });
    }
  }
  // dependence on the other rows: every run against the first (all rows together)
  const ref = got[0];
  if (ref) {
    for (const [o, t] of outputs.entries()) {
      const a = ref[t.name];
      if (!a) continue;
      const tol = tv.tolerances && Object.prototype.hasOwnProperty.call(tv.tolerances, t.name) ? tv.tolerances[t.name] : tv.tolerance;
      for (let k = 1; k < got.length; k++) {
        const b = got[k][t.name];
        if (!b || b.rowSize !== a.rowSize) continue;
        const diff = firstDifference(a, b, runs[k].index, tol);
        if (diff) {
          once(`dep:${t.name}`, 'behaviour:batch-dependence', `bundle.json#/model/outputs/${o}`,
            `output ${JSON.stringify(t.name)} of row ${diff.row} is ${diff.got} in ${runs[k].label} but ${diff.want} with all rows together (difference ${diff.d}, allowed ${diff.allowed}): a row's outputs must not depend on the other rows of its batch`);
        }
      }
    }
  }
  return problems;
}

function firstDifference(ref, other, index, tol) {
  const n = ref.rowSize;
  for (let p = 0; p < index.length; p++) {
    const i = index[p];
    let scale = 0;
    for (let e = 0; e < n; e++) { const v = Math.abs(ref.values[i * n + e]); if (Number.isFinite(v) && v > scale) scale = v; }
    const floor = FLOOR_EPS * EPS32 * (1 + scale);
    for (let e = 0; e < n; e++) {
      const want = ref.values[i * n + e], g = other.values[p * n + e];
      if (Object.is(want, g) || (Number.isNaN(want) && Number.isNaN(g))) continue;
      const allowed = Math.max(tol.abs + tol.rel * Math.abs(want), floor);
      const d = Math.abs(g - want);
      if (!(d <= allowed)) return { row: i, got: g, want, d, allowed };
    }
  }
  return null;
}
