#!/usr/bin/env node
// A second reader of dnnlik bundles, written from spec/README.md and
// spec/schemas/ alone. See README.md next to this file.
//
//   node reader.mjs validate [--run-seconds S] [--json] PATH...
//       one line per problem, "code location message"; exit 0 valid, 1 invalid, 2 usage.
//       With --json, one JSON object per bundle instead: {path, valid, problems, test_vectors},
//       test_vectors[i] holding the tensors fed to and returned by the model in case i
//       ({dims, values}; non-finite numbers as the strings "NaN", "Infinity", "-Infinity").
//   node reader.mjs eval [--run-seconds S] PATH [name=value ...]
//       validates, then prints the bundle's logpdf at the point (nominal values for the
//       parameters not given): the model's output as it is, log L + output.offset (spec 3.4),
//       or -inf outside the bounds

import { validateBundle } from './lib/validate.mjs';
import { runModel, encodeTensor, decodeToDoubles, RUN_SECONDS } from './lib/runner.mjs';

const USAGE = `usage:
  node reader.mjs validate [--run-seconds S] [--json] PATH...
  node reader.mjs eval [--run-seconds S] PATH [name=value ...]`;

class UsageError extends Error {}
class Refused extends Error {}

function parseArgs(argv) {
  const [command, ...rest] = argv;
  const opts = { runSeconds: RUN_SECONDS };
  const positional = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === '--run-seconds') {
      const v = Number(rest[++i]);
      if (!(v > 0) || !Number.isFinite(v)) throw new UsageError('--run-seconds needs a positive number of seconds');
      opts.runSeconds = v;
    } else if (a === '--json') {
      opts.json = true;
    } else if (a === '-h' || a === '--help') {
      throw new UsageError('');
    } else if (a === '--') {
      positional.push(...rest.slice(i + 1));
      break;
    } else {
      positional.push(a);
    }
  }
  return { command, opts, positional };
}

function line(p, bundlePath) {
  const where = p.location ? `${bundlePath}:${p.location}` : bundlePath;
  const msg = p.level === 'warning' ? `warning: ${p.message}` : p.message;
  return `${p.code} ${where} ${msg}`.replace(/[\r\n]+/g, ' ');
}

async function cmdValidate(paths, opts) {
  if (!paths.length) throw new UsageError('validate needs at least one PATH');
  let invalid = false;
  for (const p of paths) {
    const res = await validateBundle(p, opts);
    const errors = res.problems.filter((x) => x.level === 'error').length;
    if (errors) invalid = true;
    if (opts.json) {
      const enc = (t) => t && { dims: t.dims, values: t.values.map((v) => (Number.isFinite(v) ? v : String(v))) };
      const cases = res.vectorInputs.map((inp, i) => inp && {
        inputs: Object.fromEntries(Object.entries(inp).map(([k, t]) => [k, enc(t)])),
        outputs: res.vectorOutputs[i] ? Object.fromEntries(Object.entries(res.vectorOutputs[i]).map(([k, t]) => [k, enc(t)])) : null,
      });
      process.stdout.write(JSON.stringify({ path: p, valid: !errors, problems: res.problems, test_vectors: cases }) + '\n');
    } else {
      for (const pr of res.problems) process.stdout.write(line(pr, p) + '\n');
    }
    process.stderr.write(`${p}: ${errors ? `INVALID (${errors} error${errors > 1 ? 's' : ''})` : 'valid'}\n`);
  }
  return invalid ? 1 : 0;
}

async function loadValid(p, opts) {
  const res = await validateBundle(p, opts);
  const errors = res.problems.filter((x) => x.level === 'error');
  if (errors.length) {
    for (const pr of res.problems) process.stderr.write(line(pr, p) + '\n');
    throw new Refused(`${p}: the bundle is not valid (${errors.length} error${errors.length > 1 ? 's' : ''}); refusing to evaluate it`);
  }
  return res;
}

// A value given on the command line: a JSON number, or inf / -inf / nan spelled out.
function parseValue(name, text) {
  const t = text.trim().toLowerCase();
  if (['inf', '+inf', 'infinity', '+infinity'].includes(t)) return Infinity;
  if (['-inf', '-infinity'].includes(t)) return -Infinity;
  if (t === 'nan') return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(t)) throw new UsageError(`${name}=${text}: not a number`);
  const v = Number(t);
  if (!Number.isFinite(v)) throw new UsageError(`${name}=${text}: beyond the range of a double`);
  return v;
}

function formatNumber(v) {
  if (v === -Infinity) return '-inf';
  if (v === Infinity) return 'inf';
  if (Number.isNaN(v)) return 'nan';
  return String(v); // the shortest text that reads back as the same double
}

// Steps 5 and 6 of spec section 4.2: the point in the declared order (nominal
// values where not given) and whether it lies outside the (closed) bounds.
function buildPoint(doc, assignments) {
  const params = doc.parameters;
  const index = new Map(params.map((q, j) => [q.name, j]));
  const x = params.map((q) => q.nominal);
  const given = new Set();
  for (const a of assignments) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new UsageError(`${a}: expected name=value`);
    const name = a.slice(0, eq);
    if (!index.has(name)) throw new UsageError(`${name}: no such parameter (the bundle has ${params.length}: ${params.slice(0, 8).map((q) => q.name).join(', ')}${params.length > 8 ? ', ...' : ''})`);
    if (given.has(name)) throw new UsageError(`${name} is given twice`);
    given.add(name);
    x[index.get(name)] = parseValue(name, a.slice(eq + 1));
  }
  // a NaN coordinate is an error of the caller, not a point
  for (const [j, v] of x.entries()) if (Number.isNaN(v)) throw new UsageError(`${params[j].name}: NaN is not a point`);
  for (const [j, q] of params.entries()) {
    const [lo, hi] = q.bounds;
    if ((lo !== null && x[j] < lo) || (hi !== null && x[j] > hi)) {
      return { x, outside: `${q.name} = ${x[j]} lies outside its bounds [${lo}, ${hi}]: log L is -inf` };
    }
  }
  for (const [j, q] of params.entries()) {
    if (!Number.isFinite(x[j])) throw new UsageError(`${q.name} = ${x[j]}: inside the bounds only because that side is unbounded; the model is not defined there`);
  }
  return { x, outside: null };
}

function evalJob(doc, x) {
  const input = doc.model.inputs.find((t) => t.role === 'parameters');
  const output = doc.model.outputs.find((t) => t.role === 'logpdf');
  const Arr = { float32: Float32Array, float64: Float64Array }[input.dtype];
  if (!Arr) throw new Refused(`the parameter input has dtype ${input.dtype}; eval feeds float32 or float64`);
  return { feeds: { [input.name]: encodeTensor(input.dtype, [1, x.length], Arr.from(x)) }, fetches: [output.name] };
}

async function cmdEval(positional, opts) {
  const [p, ...assignments] = positional;
  if (!p) throw new UsageError('eval needs a PATH');
  // the point is run in the same runtime process as the test vectors when it can be built
  const extraJobs = (doc) => {
    try {
      if (doc.kind !== 'likelihood') return [];
      const pt = buildPoint(doc, assignments);
      return pt.outside ? [] : [evalJob(doc, pt.x)];
    } catch {
      return []; // reported below, once the bundle is known to be valid
    }
  };
  const res = await loadValid(p, { ...opts, extraJobs });
  const doc = res.doc;
  if (doc.kind !== 'likelihood') throw new Refused(`${p}: kind is ${JSON.stringify(doc.kind)}; eval evaluates 'likelihood' bundles`);
  const pt = buildPoint(doc, assignments);
  if (pt.outside) {
    process.stderr.write(pt.outside + '\n');
    process.stdout.write('-inf\n');
    return 0;
  }
  // step 7: run on the point
  const job = evalJob(doc, pt.x);
  let r = res.extraResults && res.extraResults[0];
  if (!r) {
    const run = await runModel(res.modelBytes, [job], { seconds: opts.runSeconds });
    if (!run.session.ok) throw new Refused(`${p}: onnxruntime cannot load the model: ${run.session.message}`);
    r = run.results[0];
  }
  if (!r || r.timeout || !r.ok) throw new Refused(`${p}: the model run failed: ${r ? r.message : 'no result'}`);
  const name = job.fetches[0];
  const t = r.outputs[name];
  const values = t && decodeToDoubles(t);
  if (!values || values.length !== 1) throw new Refused(`${p}: the model returned ${values ? values.length : 'no'} values of ${JSON.stringify(name)} for 1 point`);
  const value = values[0];
  if (Number.isNaN(value) || value === Infinity) {
    throw new Refused(`${p}: the model returned ${value} at the point [${pt.x.join(', ')}], which lies inside the bounds; a log-likelihood is finite or -inf`);
  }
  // step 8: the value is reported as it is, log L + offset (spec 3.4: a reader reports the raw output)
  process.stdout.write(formatNumber(value) + '\n');
  return 0;
}

async function main(argv) {
  let parsed;
  try {
    parsed = parseArgs(argv);
    const { command, opts, positional } = parsed;
    if (command === 'validate') return await cmdValidate(positional, opts);
    if (command === 'eval') return await cmdEval(positional, opts);
    throw new UsageError(command ? `unknown command ${JSON.stringify(command)}` : '');
  } catch (e) {
    if (e instanceof UsageError) {
      if (e.message) process.stderr.write(`error: ${e.message}\n`);
      process.stderr.write(USAGE + '\n');
      return 2;
    }
    if (e instanceof Refused) {
      process.stderr.write(`error: ${e.message}\n`);
      return 1;
    }
    // a bug of this reader, not a property of the bundle: one line, no stack trace
    process.stderr.write(`internal error of the reader (please report): ${e && e.message ? e.message : e}\n`);
    return 3;
  }
}

process.exitCode = await main(process.argv.slice(2));
