// Spec 4.4, rules 3 and 4, for values the graph computes: a small shape
// propagation over the main graph, in place of ONNX shape inference (which has
// no JavaScript counterpart).
//
// Every free dimension of the model's inputs (the batch size) is set to 1.
// Shapes, and the values of small integer tensors (shapes, repeats, axes, the
// scalars of Range), are propagated through the operators listed below; a
// value produced by any other operator has an unknown shape, and so does every
// value computed from it. Then:
//   rule 3: a value of known shape holds at most 2^26 elements;
//   rule 4: the values computed from constants (every input a constant, no
//           subgraph, not a random-number operator), which a runtime computes
//           while it loads the model, cost at most 2^26 element operations in
//           all: input plus output elements; MatMul and Gemm add the output
//           elements times the contracted dimension; operators that are not
//           linear-time (element-wise, layout, reductions) add output times
//           input elements.
// The spec asks a reader without shape inference to apply rule 3 to stored
// tensors only (onnx-facts.mjs does) and to rely on its runtime and time bound
// for the rest; this propagation catches more (a Range, ConstantOfShape,
// Expand or Tile to a huge size, MatMuls of constants), but a computed-from-
// constants value whose shape it cannot tell is let through, where a
// validator with ONNX shape inference would refuse it.

import { constantValue, MAX_TENSOR_ELEMENTS } from './onnx-facts.mjs';

const MAX_LOAD_WORK = 2 ** 26;
const MAX_VALUES = 64;

const UNARY = new Set(('Abs Acos Acosh Asin Asinh Atan Atanh Cast Ceil Celu Cos Cosh Elu Erf Exp Floor Gelu HardSigmoid HardSwish ' +
  'Identity IsInf IsNaN LeakyRelu Log LogSoftmax Mish Neg Not Reciprocal Relu Round Selu Shrink Sigmoid Sign Sin Sinh Softmax ' +
  'Softplus Softsign Sqrt Tan Tanh ThresholdedRelu BitwiseNot Clip Dropout CastLike Hardmax').split(' '));
const BROADCAST = new Set(('Add Sub Mul Div Pow Mod Max Min Sum Mean Equal Less LessOrEqual Greater GreaterOrEqual And Or Xor ' +
  'BitShift PRelu Where BitwiseAnd BitwiseOr BitwiseXor').split(' '));
const LAYOUT = new Set(('Transpose Reshape Flatten Squeeze Unsqueeze Concat Shape Size Gather GatherElements Expand Tile ConstantOfShape ' +
  'Range Slice Split Pad Identity Cast CastLike').split(' '));
const RANDOM = new Set(['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Bernoulli']);
// Operators whose output size is the value of some of their inputs (spec 4.4, rule 3).
const SIZE_INPUTS = { ConstantOfShape: [0], Expand: [1], Tile: [1], Range: [0, 1, 2], Pad: [1], Resize: [2, 3], Upsample: [1], OneHot: [1], CenterCropPad: [1], MaxUnpool: [2], Col2Im: [1, 2] };
const isReduce = (op) => op.startsWith('Reduce') || op === 'ArgMax' || op === 'ArgMin';

const count = (shape) => shape.reduce((a, d) => a * d, 1);
const attr = (n, name) => n.attrs.find((a) => a.name === name);
const attrInt = (n, name, dflt) => { const a = attr(n, name); return a && a.i !== null ? a.i : dflt; };
const attrInts = (n, name) => { const a = attr(n, name); return a ? a.ints : null; };

function broadcast(shapes) {
  if (shapes.some((s) => !s)) return null;
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = [];
  for (let k = 0; k < rank; k++) {
    let d = 1;
    for (const s of shapes) {
      const v = s[s.length - rank + k];
      if (v === undefined || v === 1) continue;
      if (d !== 1 && d !== v) return null;
      d = v;
    }
    out.push(d);
  }
  return out;
}

function elementwiseValues(op, inputs, shape) {
  if (!shape || count(shape) > MAX_VALUES || inputs.some((x) => !x.values)) return null;
  const f = { Add: (a, b) => a + b, Sub: (a, b) => a - b, Mul: (a, b) => a * b, Div: (a, b) => a / b, Max: Math.max, Min: Math.min }[op];
  if (!f || inputs.length !== 2) return null;
  const [a, b] = inputs;
  const n = count(shape);
  const at = (x, k) => (x.values.length === 1 ? x.values[0] : x.values.length === n ? x.values[k] : NaN);
  const out = [];
  for (let k = 0; k < n; k++) out.push(f(at(a, k), at(b, k)));
  return out.some(Number.isNaN) ? null : out;
}

const norm = (axis, rank) => (axis < 0 ? axis + rank : axis);

// {shape, values} of the outputs of node n (null shape: unknown), from its inputs' infos.
function infer(n, ins, opset) {
  const op = n.opType;
  const x = ins[0] || {};
  const unknown = [{ shape: null, values: null }];
  if (UNARY.has(op)) {
    const values = ['Identity', 'Cast', 'Neg', 'Abs'].includes(op) && x.values ? x.values.map((v) => (op === 'Neg' ? -v : op === 'Abs' ? Math.abs(v) : v)) : null;
    return [{ shape: x.shape, values }];
  }
  if (BROADCAST.has(op)) {
    const shape = broadcast(ins.map((i) => i.shape));
    return [{ shape, values: elementwiseValues(op, ins, shape) }];
  }
  if (op === 'MatMul') {
    const [a, b] = ins;
    if (!a.shape || !b.shape || !a.shape.length || !b.shape.length) return unknown;
    const A = a.shape.length === 1 ? [1, a.shape[0]] : a.shape, B = b.shape.length === 1 ? [b.shape[0], 1] : b.shape;
    const batch = broadcast([A.slice(0, -2), B.slice(0, -2)]);
    if (!batch) return unknown;
    const shape = [...batch, ...(a.shape.length === 1 ? [] : [A[A.length - 2]]), ...(b.shape.length === 1 ? [] : [B[B.length - 1]])];
    return [{ shape, values: null, contracted: A[A.length - 1] }];
  }
  if (op === 'Gemm') {
    const [a, b] = ins;
    if (!a.shape || !b.shape || a.shape.length !== 2 || b.shape.length !== 2) return unknown;
    const [M, K] = attrInt(n, 'transA', 0) ? [a.shape[1], a.shape[0]] : a.shape;
    const N = attrInt(n, 'transB', 0) ? b.shape[0] : b.shape[1];
    return [{ shape: [M, N], values: null, contracted: K }];
  }
  if (op === 'Transpose') {
    if (!x.shape) return unknown;
    const perm = attrInts(n, 'perm') || x.shape.map((_, k) => x.shape.length - 1 - k);
    return [{ shape: perm.map((p) => x.shape[p]), values: null }];
  }
  if (op === 'Reshape') {
    const s = ins[1] && ins[1].values;
    if (!x.shape || !s) return unknown;
    const allowZero = attrInt(n, 'allowzero', 0);
    const shape = s.map((d, k) => (d === 0 && !allowZero ? x.shape[k] : d));
    const known = shape.filter((d) => d !== -1).reduce((a, d) => a * d, 1);
    const out = shape.map((d) => (d === -1 ? (known ? count(x.shape) / known : 0) : d));
    return out.some((d) => d === undefined || !Number.isInteger(d) || d < 0) ? unknown : [{ shape: out, values: x.values }];
  }
  if (op === 'Flatten') {
    if (!x.shape) return unknown;
    const axis = norm(attrInt(n, 'axis', 1), x.shape.length);
    return [{ shape: [count(x.shape.slice(0, axis)), count(x.shape.slice(axis))], values: x.values }];
  }
  if (op === 'Squeeze' || op === 'Unsqueeze') {
    const axes = (ins[1] && ins[1].values) || attrInts(n, 'axes');
    if (!x.shape) return unknown;
    if (op === 'Squeeze') {
      const rank = x.shape.length;
      const drop = axes ? new Set(axes.map((a) => norm(a, rank))) : new Set(x.shape.map((d, k) => (d === 1 ? k : -1)));
      return [{ shape: x.shape.filter((_, k) => !drop.has(k)), values: x.values }];
    }
    if (!axes) return unknown;
    const rank = x.shape.length + axes.length;
    const add = new Set(axes.map((a) => norm(a, rank)));
    const shape = [];
    let k = 0;
    for (let r = 0; r < rank; r++) shape.push(add.has(r) ? 1 : x.shape[k++]);
    return [{ shape, values: x.values }];
  }
  if (op === 'Concat') {
    if (ins.some((i) => !i.shape) || !ins.length) return unknown;
    const rank = ins[0].shape.length;
    const axis = norm(attrInt(n, 'axis', 0), rank);
    const shape = ins[0].shape.slice();
    shape[axis] = ins.reduce((a, i) => a + (i.shape[axis] ?? 0), 0);
    const values = rank === 1 && ins.every((i) => i.values) ? ins.flatMap((i) => i.values) : null;
    return [{ shape, values: values && values.length <= MAX_VALUES ? values : null }];
  }
  if (op === 'Shape') {
    if (!x.shape) return unknown;
    const rank = x.shape.length;
    const start = norm(attrInt(n, 'start', 0), rank), end = norm(attrInt(n, 'end', rank), rank);
    const values = x.shape.slice(Math.max(start, 0), Math.min(end, rank));
    return [{ shape: [values.length], values }];
  }
  if (op === 'Size') return [{ shape: [], values: x.shape ? [count(x.shape)] : null }];
  if (op === 'Gather') {
    const idx = ins[1] || {};
    if (!x.shape || !idx.shape) return unknown;
    const axis = norm(attrInt(n, 'axis', 0), x.shape.length);
    const shape = [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)];
    let values = null;
    if (x.shape.length === 1 && x.values && idx.values) values = idx.values.map((i) => x.values[norm(i, x.values.length)]);
    return [{ shape, values: values && values.every((v) => v !== undefined) ? values : null }];
  }
  if (op === 'ConstantOfShape') {
    const s = x.values;
    return s && s.every((d) => Number.isInteger(d) && d >= 0) ? [{ shape: s, values: null }] : unknown;
  }
  if (op === 'Expand') {
    const s = ins[1] && ins[1].values;
    return s ? [{ shape: broadcast([x.shape, s]), values: null }] : unknown;
  }
  if (op === 'Tile') {
    const r = ins[1] && ins[1].values;
    return x.shape && r && r.length === x.shape.length ? [{ shape: x.shape.map((d, k) => d * r[k]), values: null }] : unknown;
  }
  if (op === 'Range') {
    const [s, l, d] = ins.map((i) => (i && i.values && i.values.length === 1 ? i.values[0] : null));
    if (s === null || l === null || d === null || d === 0) return unknown;
    return [{ shape: [Math.max(Math.ceil((l - s) / d), 0)], values: null }];
  }
  if (isReduce(op)) {
    if (!x.shape) return unknown;
    const keep = attrInt(n, 'keepdims', 1);
    const rank = x.shape.length;
    let axes = attrInts(n, 'axes');
    if (op === 'ArgMax' || op === 'ArgMin') axes = [attrInt(n, 'axis', 0)];
    else if (ins[1]) { // axes as an input (ReduceSum from opset 13, the others from 18)
      if (!ins[1].values) return unknown;
      axes = ins[1].values;
    }
    if (!axes || !axes.length) axes = attrInt(n, 'noop_with_empty_axes', 0) ? [] : x.shape.map((_, k) => k);
    const set = new Set(axes.map((a) => norm(a, rank)));
    const shape = keep ? x.shape.map((d, k) => (set.has(k) ? 1 : d)) : x.shape.filter((_, k) => !set.has(k));
    return [{ shape, values: null }];
  }
  void opset;
  return unknown;
}

export function shapeChecks(main, inputs, opset) {
  const messages = [];
  const info = new Map(); // name -> {shape, values, constant}
  const inputNames = new Set(main.inputs.map((v) => v.name));
  for (const t of main.initializers) {
    if (inputNames.has(t.name)) continue;
    info.set(t.name, { shape: t.dims.map(Number), values: t.values, constant: true, stored: true });
  }
  for (const s of main.sparse) info.set(s.name, { shape: s.dims.map(Number), values: null, constant: true, stored: true });
  for (const v of main.inputs) {
    if (info.has(v.name) && !inputNames.has(v.name)) continue;
    const shape = v.type && !v.type.notTensor && v.type.shape ? v.type.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : 1)) : null;
    info.set(v.name, { shape, values: null, constant: false });
  }
  void inputs;
  let work = 0;
  let reportedWork = false;
  main.nodes.forEach((n, k) => {
    const label = `graph.node[${k}]${n.opType ? ` (${n.opType})` : ''}`;
    if (n.domain !== '' && n.domain !== 'ai.onnx') {
      for (const o of n.outputs) if (o) info.set(o, { shape: null, values: null, constant: false });
      return;
    }
    if (n.opType === 'Constant') {
      const c = constantValue(n);
      if (n.outputs[0]) info.set(n.outputs[0], { shape: c ? c.dims.map(Number) : null, values: c ? c.values : null, constant: true, stored: true });
      return;
    }
    const ins = n.inputs.map((name) => (name ? info.get(name) || { shape: null, values: null, constant: false } : null));
    const present = ins.filter(Boolean);
    const hasGraph = n.attrs.some((a) => a.graphs.length);
    const fromConstants = present.length > 0 && present.every((i) => i.constant) && !hasGraph && !RANDOM.has(n.opType);
    let outs = hasGraph ? [{ shape: null, values: null }] : infer(n, present, opset);
    if (RANDOM.has(n.opType)) {
      const s = attrInts(n, 'shape');
      outs = [{ shape: s || (present[0] ? present[0].shape : null), values: null }];
    }
    // rule 3: an output whose size is the value of an input computed from constants
    // (not stored) must have a shape that can be known
    const sizeInputs = SIZE_INPUTS[n.opType];
    if (sizeInputs && !(outs[0] && outs[0].shape)) {
      for (const k of sizeInputs) {
        const name = n.inputs[k];
        const i = name ? info.get(name) : null;
        if (i && i.constant && !i.stored) {
          messages.push(`${label}: its output size is the value of ${JSON.stringify(name)}, computed from constants, which this reader cannot determine before running the model`);
          break;
        }
      }
    }
    n.outputs.forEach((o, j) => {
      if (!o) return;
      const out = outs[j] || { shape: null, values: null };
      const valid = out.shape && out.shape.every((d) => Number.isFinite(d) && d >= 0);
      info.set(o, { shape: valid ? out.shape : null, values: valid ? out.values : null, constant: fromConstants });
      if (valid && count(out.shape) > MAX_TENSOR_ELEMENTS) {
        messages.push(`${label} produces ${JSON.stringify(o)} of shape [${out.shape.join(', ')}] (${count(out.shape)} elements, more than 2^26) with a batch of 1`);
      }
    });
    if (fromConstants) {
      const first = outs[0] || {};
      if (!first.shape || present.some((i) => !i.shape)) return; // unknown here: left to the runtime and its time bound
      const inEl = present.reduce((a, i) => a + count(i.shape), 0);
      const outEl = count(first.shape);
      let cost = inEl + outEl;
      if (n.opType === 'MatMul' || n.opType === 'Gemm') cost += outEl * (first.contracted || 0);
      else if (!(UNARY.has(n.opType) || BROADCAST.has(n.opType) || LAYOUT.has(n.opType) || isReduce(n.opType))) cost += outEl * inEl;
      work += cost;
      if (work > MAX_LOAD_WORK && !reportedWork) {
        reportedWork = true;
        messages.push(`computing values from constants, which a runtime does while it loads the model, takes more than 2^26 element operations (reached at ${label})`);
      }
    }
  });
  return messages;
}
