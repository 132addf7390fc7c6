// Test-vector tensors (spec/README.md, section 6): JSON values to typed arrays,
// and the comparison of a model's output with its expected value.

const INT_RANGE = {
  // every JSON number is read as a double, which holds every integer exactly only up to 2^53 - 1
  int64: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  int32: [-(2 ** 31), 2 ** 31 - 1],
};

// {shape, data, values} or {error, ragged?}. The walk is level by level (no recursion).
// declared: the declared shape; an empty array at depth d has size 0 in dimension d
// and takes its further dimensions from the declaration (a null one counting 0).
export function tensorFromJson(value, dtype, declared, formatVersion) {
  const shape = [];
  let level = [value];
  while (level.length && level.every((v) => Array.isArray(v))) {
    const sizes = new Set(level.map((v) => v.length));
    if (sizes.size !== 1) return { error: 'is a ragged array (rows of different lengths)', ragged: true };
    shape.push(level[0].length);
    level = level.flat(1);
  }
  if (level.some((v) => Array.isArray(v))) return { error: 'is a ragged array (numbers and arrays at the same depth)', ragged: true };
  if (!level.length && declared) {
    for (const d of declared.slice(shape.length)) shape.push(d === null ? 0 : d);
  }
  const boolAsNumber = formatVersion === '1.0.0';
  const n = level.length;
  let data;
  if (dtype === 'bool') {
    data = new Uint8Array(n);
    for (let k = 0; k < n; k++) {
      const v = level[k];
      if (typeof v === 'boolean') data[k] = v ? 1 : 0;
      else if (boolAsNumber && (v === 0 || v === 1)) data[k] = v;
      else return { error: `element ${k} is ${JSON.stringify(v)}; a bool tensor holds ${boolAsNumber ? '0 and 1' : 'true and false'}` };
    }
  } else {
    for (let k = 0; k < n; k++) {
      const v = level[k];
      if (typeof v !== 'number') return { error: `element ${k} is ${JSON.stringify(v)}; a ${dtype} tensor holds numbers` };
      if (dtype in INT_RANGE) {
        const [lo, hi] = INT_RANGE[dtype];
        if (!Number.isInteger(v) || v < lo || v > hi) return { error: `element ${k} is ${v}, not an integer within [${lo}, ${hi}] as ${dtype} needs` };
      } else if (dtype === 'float32' && !Number.isFinite(Math.fround(v))) {
        return { error: `element ${k} is ${v}, beyond the range of float32` };
      }
    }
    if (dtype === 'float32') data = Float32Array.from(level);
    else if (dtype === 'float64') data = Float64Array.from(level);
    else if (dtype === 'int32') data = Int32Array.from(level);
    else if (dtype === 'int64') data = BigInt64Array.from(level, (v) => BigInt(v));
    else return { error: `dtype ${dtype} is not one of float32, float64, int64, int32, bool` };
  }
  return { shape, data, values: level.map(Number) };
}

// Problems {code, message} of one output: got (dims, doubles) against the expected tensor.
// A bool output must equal the expected values exactly; any other is compared as doubles within tol.
export function compareOutput(dims, got, expected, tol, dtype) {
  if (expected.error) return [{ code: 'test-vectors:bad-array', message: expected.error }];
  const want = expected.shape;
  if (dims.length !== want.length || dims.some((d, k) => d !== want[k])) {
    return [{ code: 'test-vectors:shape', message: `the model returned shape [${dims.join(', ')}], the test vector has [${want.join(', ')}]` }];
  }
  if (dtype === 'bool') {
    const k = got.findIndex((v, i) => (v !== 0) !== (expected.values[i] !== 0));
    if (k < 0) return [];
    return [{ code: 'test-vectors:mismatch', message: `bool element ${k} is ${got[k] !== 0}, expected ${expected.values[k] !== 0} (bool outputs must match exactly)` }];
  }
  const nonFinite = got.findIndex((v) => !Number.isFinite(v));
  if (nonFinite >= 0) {
    return [{ code: 'test-vectors:non-finite', message: `the model returned ${got[nonFinite]} at element ${nonFinite}` }];
  }
  let bad = 0, worst = -1, worstExcess = -Infinity;
  for (let k = 0; k < got.length; k++) {
    const e = expected.values[k];
    const allowed = tol.abs + tol.rel * Math.abs(e);
    const diff = Math.abs(got[k] - e);
    if (!(diff <= allowed)) {
      bad++;
      if (diff - allowed > worstExcess) { worstExcess = diff - allowed; worst = k; }
    }
  }
  if (!bad) return [];
  const e = expected.values[worst];
  return [{
    code: 'test-vectors:mismatch',
    message: `${bad} of ${got.length} elements differ by more than ${tol.member} (abs ${tol.abs}, rel ${tol.rel}); worst: element ${worst}, got ${got[worst]}, expected ${e}, difference ${Math.abs(got[worst] - e)}`,
  }];
}
