// The ONNX facts a reader must check (spec/README.md, sections 4.3, 4.4 and 9),
// read from the model's bytes with a minimal protobuf walker.
//
// onnxruntime-node exposes input and output names only: not the opset, the IR
// version, the operator domains, model-local functions, external data, the
// declared types and shapes, or what the graph computes. So the ModelProto is
// decoded here, but only the fields those facts need (field numbers from
// onnx/onnx.proto, as listed in spec 4.3 and 4.4):
//
//   ModelProto          1 ir_version  7 graph  8 opset_import  20 training_info  25 functions
//   OperatorSetIdProto  1 domain  2 version
//   GraphProto          1 node  5 initializer  11 input  12 output  15 sparse_initializer
//   NodeProto           1 input  2 output  4 op_type  5 attribute  7 domain
//   AttributeProto      1 name  2 f  3 i  5 t  6 g  7 floats  8 ints  10 tensors  11 graphs
//                       22 sparse_tensor  23 sparse_tensors
//   TensorProto         1 dims  2 data_type  4 float_data  5 int32_data  7 int64_data
//                       8 name  9 raw_data  10 double_data  14 data_location (1 = EXTERNAL)
//   SparseTensorProto   1 values  2 indices  3 dims
//   TrainingInfoProto   1 initialization  2 algorithm (GraphProto each)
//   ValueInfoProto      1 name  2 type;  TypeProto 1 tensor_type;  TypeProto.Tensor 1 elem_type 2 shape
//   TensorShapeProto    1 dim;  Dimension 1 dim_value  2 dim_param
//
// Every other field is skipped by its wire type. Subgraphs are parsed down to
// control-flow level 2 only (spec 4.4 rule 1); a deeper one is recorded as
// such and not parsed, so no nesting depth of the file can exhaust the stack.

import { shapeChecks } from './onnx-cost.mjs';

export const ELEM_TYPES = { 1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string', 9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64', 14: 'complex64', 15: 'complex128', 16: 'bfloat16' };
export const STANDARD_DOMAINS = new Set(['', 'ai.onnx', 'ai.onnx.ml']);
export const MAX_CONTROL_FLOW_DEPTH = 2;
export const MAX_TRIP_COUNT = 10000;
export const MAX_TRIP_PRODUCT = 100000;
export const MAX_TENSOR_ELEMENTS = 2 ** 26;
const MAX_VALUES_KEPT = 64; // the values of stored tensors are kept up to this many elements

class ProtoError extends Error {}

const utf8 = new TextDecoder('utf-8', { fatal: false });

// Iterate the fields of one message held in bytes[start, end).
function* fields(bytes, start, end) {
  let i = start;
  const varint = () => {
    let result = 0n, shift = 0n;
    for (let k = 0; k < 10; k++) {
      if (i >= end) throw new ProtoError('truncated varint');
      const b = bytes[i++];
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
    }
    throw new ProtoError('varint longer than 10 bytes');
  };
  while (i < end) {
    const key = varint();
    const no = Number(key >> 3n);
    const wt = Number(key & 7n);
    if (no === 0) throw new ProtoError('field number 0');
    if (wt === 0) yield { no, wt, v: varint() };
    else if (wt === 1) { if (i + 8 > end) throw new ProtoError('truncated fixed64'); yield { no, wt, s: i, e: i + 8 }; i += 8; }
    else if (wt === 5) { if (i + 4 > end) throw new ProtoError('truncated fixed32'); yield { no, wt, s: i, e: i + 4 }; i += 4; }
    else if (wt === 2) {
      const len = varint();
      if (len > BigInt(end - i)) throw new ProtoError('length-delimited field runs past its message');
      const s = i;
      i += Number(len);
      yield { no, wt, s, e: i };
    } else throw new ProtoError(`wire type ${wt} (groups are not used by ONNX)`);
  }
}

// The varints of a repeated integer field, packed (wire type 2) or not.
function* varints(bytes, f) {
  if (f.wt === 0) { yield f.v; return; }
  if (f.wt !== 2) throw new ProtoError('an integer field with a wrong wire type');
  let i = f.s;
  while (i < f.e) {
    let result = 0n, shift = 0n, k = 0;
    for (;;) {
      if (i >= f.e || k++ >= 10) throw new ProtoError('truncated packed varint');
      const b = bytes[i++];
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) break;
      shift += 7n;
    }
    yield result;
  }
}

function str(bytes, f) { return utf8.decode(bytes.subarray(f.s, f.e)); }
function want(f, wt, what) { if (f.wt !== wt) throw new ProtoError(`${what} has wire type ${f.wt}, expected ${wt}`); }
const i64 = (v) => BigInt.asIntN(64, v);

// int64 as a Number when it is exactly representable, else a string (for messages)
function int64(v) {
  const signed = i64(v);
  return signed >= BigInt(Number.MIN_SAFE_INTEGER) && signed <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(signed) : signed.toString();
}

// ------------------------------------------------------------------ parsing

// A TensorProto: {name, dims (BigInt[]), dataType, external, values (Number[] when small and numeric)}
function tensor(bytes, f) {
  const t = { name: '', dims: [], dataType: 0, external: false, values: null };
  const parts = { raw: null, int64: [], int32: [], float: [], double: [] };
  for (const g of fields(bytes, f.s, f.e)) {
    if (g.no === 1) for (const v of varints(bytes, g)) t.dims.push(i64(v));
    else if (g.no === 2 && g.wt === 0) t.dataType = Number(g.v);
    else if (g.no === 8 && g.wt === 2) t.name = str(bytes, g);
    else if (g.no === 14 && g.wt === 0 && g.v === 1n) t.external = true; // data_location EXTERNAL
    else if (g.no === 9 && g.wt === 2) parts.raw = g;
    else if (g.no === 7) parts.int64.push(g);
    else if (g.no === 5) parts.int32.push(g);
    else if (g.no === 4) parts.float.push(g);
    else if (g.no === 10) parts.double.push(g);
  }
  t.elements = t.dims.reduce((a, d) => a * (d < 0n ? 0n : d), 1n);
  if (t.dims.some((d) => d < 0n)) t.negativeDim = true;
  if (!t.external && t.elements <= BigInt(MAX_VALUES_KEPT)) t.values = tensorValues(bytes, t, parts);
  return t;
}

const RAW = { 1: [4, 'getFloat32'], 11: [8, 'getFloat64'], 7: [8, 'getBigInt64'], 6: [4, 'getInt32'], 2: [1, 'getUint8'], 3: [1, 'getInt8'], 4: [2, 'getUint16'], 5: [2, 'getInt16'], 12: [4, 'getUint32'], 13: [8, 'getBigUint64'], 9: [1, 'getUint8'] };

function tensorValues(bytes, t, parts) {
  const n = Number(t.elements);
  let out = [];
  if (parts.raw) {
    const spec = RAW[t.dataType];
    if (!spec) return null;
    const [size, getter] = spec;
    if (parts.raw.e - parts.raw.s !== size * n) return null;
    const view = new DataView(bytes.buffer, bytes.byteOffset + parts.raw.s, size * n);
    for (let k = 0; k < n; k++) out.push(Number(view[getter](k * size, true)));
  } else if (t.dataType === 7) {
    for (const g of parts.int64) for (const v of varints(bytes, g)) out.push(Number(i64(v)));
  } else if ([6, 2, 3, 4, 5, 9].includes(t.dataType)) {
    for (const g of parts.int32) for (const v of varints(bytes, g)) out.push(Number(BigInt.asIntN(32, v)));
  } else if (t.dataType === 1 || t.dataType === 11) {
    const [size, getter, list] = t.dataType === 1 ? [4, 'getFloat32', parts.float] : [8, 'getFloat64', parts.double];
    for (const g of list) {
      if (g.wt !== 2) { out.push(NaN); continue; }
      const view = new DataView(bytes.buffer, bytes.byteOffset + g.s, g.e - g.s);
      for (let k = 0; k + size <= g.e - g.s; k += size) out.push(view[getter](k, true));
    }
  } else {
    return null;
  }
  return out.length === n ? out : null;
}

function sparseTensor(bytes, f) {
  const s = { values: null, indices: null, dims: [] };
  for (const g of fields(bytes, f.s, f.e)) {
    if (g.no === 1 && g.wt === 2) s.values = tensor(bytes, g);
    else if (g.no === 2 && g.wt === 2) s.indices = tensor(bytes, g);
    else if (g.no === 3) for (const v of varints(bytes, g)) s.dims.push(i64(v));
  }
  s.name = s.values ? s.values.name : '';
  s.elements = s.dims.reduce((a, d) => a * (d < 0n ? 0n : d), 1n);
  return s;
}

function valueInfo(bytes, f) {
  let name = '', type = null;
  for (const g of fields(bytes, f.s, f.e)) {
    if (g.no === 1 && g.wt === 2) name = str(bytes, g);
    else if (g.no === 2 && g.wt === 2) type = typeProto(bytes, g);
  }
  return { name, type };
}

function typeProto(bytes, f) {
  let tensorType = null, other = false;
  for (const g of fields(bytes, f.s, f.e)) {
    if (g.no === 1 && g.wt === 2) tensorType = g;
    else if (g.no !== 6) other = true; // sequence, map, optional, sparse tensor ... (6 is the denotation)
  }
  if (!tensorType || other) return { elemType: null, shape: null, notTensor: true };
  let elemType = 0, shape = null;
  for (const g of fields(bytes, tensorType.s, tensorType.e)) {
    if (g.no === 1 && g.wt === 0) elemType = Number(g.v);
    else if (g.no === 2 && g.wt === 2) {
      shape = [];
      for (const d of fields(bytes, g.s, g.e)) {
        if (d.no !== 1 || d.wt !== 2) continue;
        let dim = null;
        for (const x of fields(bytes, d.s, d.e)) if (x.no === 1 && x.wt === 0) dim = int64(x.v);
        shape.push(dim); // null: symbolic (dim_param) or unknown
      }
    }
  }
  return { elemType, shape };
}

function attribute(bytes, f, level, ctx) {
  const a = { name: '', i: null, ints: [], f: null, floats: [], tensors: [], sparse: [], graphs: [] };
  for (const g of fields(bytes, f.s, f.e)) {
    if (g.no === 1 && g.wt === 2) a.name = str(bytes, g);
    else if (g.no === 3 && g.wt === 0) a.i = Number(i64(g.v));
    else if (g.no === 8) for (const v of varints(bytes, g)) a.ints.push(Number(i64(v)));
    else if (g.no === 2 && g.wt === 5) a.f = new DataView(bytes.buffer, bytes.byteOffset + g.s, 4).getFloat32(0, true);
    else if (g.no === 5 || g.no === 10) { want(g, 2, 'AttributeProto tensor'); a.tensors.push(tensor(bytes, g)); }
    else if (g.no === 22 || g.no === 23) { want(g, 2, 'AttributeProto sparse tensor'); a.sparse.push(sparseTensor(bytes, g)); }
    else if (g.no === 6 || g.no === 11) {
      want(g, 2, 'AttributeProto graph');
      if (level + 1 > MAX_CONTROL_FLOW_DEPTH) a.graphs.push({ tooDeep: true });
      else a.graphs.push(graph(bytes, g, level + 1, false, ctx));
    }
  }
  return a;
}

function node(bytes, f, level, ctx) {
  const n = { opType: '', domain: '', inputs: [], outputs: [], attrs: [] };
  for (const g of fields(bytes, f.s, f.e)) {
    if (g.no === 1 && g.wt === 2) n.inputs.push(str(bytes, g));
    else if (g.no === 2 && g.wt === 2) n.outputs.push(str(bytes, g));
    else if (g.no === 4 && g.wt === 2) n.opType = str(bytes, g);
    else if (g.no === 7 && g.wt === 2) n.domain = str(bytes, g);
    else if (g.no === 5) { want(g, 2, 'NodeProto.attribute'); n.attrs.push(attribute(bytes, g, level, ctx)); }
  }
  return n;
}

function graph(bytes, f, level, main, ctx) {
  if (++ctx.graphs > 100000) throw new ProtoError('more than 100 000 subgraphs');
  const gr = { level, nodes: [], initializers: [], sparse: [], inputs: [], outputs: [] };
  for (const g of fields(bytes, f.s, f.e)) {
    if (g.no === 1) { want(g, 2, 'GraphProto.node'); gr.nodes.push(node(bytes, g, level, ctx)); }
    else if (g.no === 5) { want(g, 2, 'GraphProto.initializer'); gr.initializers.push(tensor(bytes, g)); }
    else if (g.no === 15) { want(g, 2, 'GraphProto.sparse_initializer'); gr.sparse.push(sparseTensor(bytes, g)); }
    else if (g.no === 11) { want(g, 2, 'GraphProto.input'); gr.inputs.push(main ? valueInfo(bytes, g) : { name: valueInfoName(bytes, g) }); }
    else if (g.no === 12) { want(g, 2, 'GraphProto.output'); gr.outputs.push(main ? valueInfo(bytes, g) : { name: valueInfoName(bytes, g) }); }
  }
  return gr;
}

function valueInfoName(bytes, f) {
  for (const g of fields(bytes, f.s, f.e)) if (g.no === 1 && g.wt === 2) return str(bytes, g);
  return '';
}

// ------------------------------------------------------------------ the facts

export function inspectModel(bytes) {
  const facts = {
    irVersion: null,
    opsetImports: [], // {domain, version}
    functionCount: 0,
    nonStandardDomains: [], // {domain, where}
    externalData: [], // where
    unbounded: [], // messages (spec 4.4)
    inputs: [], // {name, type: {elemType, shape}|null} of the main graph (initializers excluded)
    outputs: [],
  };
  const ctx = { graphs: 0 };
  let main = null;
  const training = [];
  try {
    for (const f of fields(bytes, 0, bytes.length)) {
      if (f.no === 1) { want(f, 0, 'ModelProto.ir_version'); facts.irVersion = int64(f.v); }
      else if (f.no === 8) { want(f, 2, 'ModelProto.opset_import'); facts.opsetImports.push(opsetId(bytes, f)); }
      else if (f.no === 7) {
        want(f, 2, 'ModelProto.graph');
        // protobuf would merge two occurrences; no writer produces that, and a reader
        // that took only one of them could be shown a different graph than the runtime
        if (main) throw new ProtoError('the graph field appears more than once');
        main = graph(bytes, f, 0, true, ctx);
      } else if (f.no === 25) { want(f, 2, 'ModelProto.functions'); facts.functionCount++; }
      else if (f.no === 20) {
        want(f, 2, 'ModelProto.training_info');
        for (const g of fields(bytes, f.s, f.e)) {
          if ((g.no === 1 || g.no === 2) && g.wt === 2) training.push([`training_info.${g.no === 1 ? 'initialization' : 'algorithm'}`, graph(bytes, g, 0, false, ctx)]);
        }
      }
    }
  } catch (e) {
    if (e instanceof ProtoError) return { error: `not a readable ONNX ModelProto: ${e.message}` };
    throw e;
  }
  if (!main) return { error: 'not a readable ONNX ModelProto: it has no graph' };
  if (!main.outputs.length) return { error: 'not a readable ONNX model: its graph has no output' };
  const initNames = new Set([...main.initializers.map((t) => t.name), ...main.sparse.map((s) => s.name)]);
  facts.inputs = main.inputs.filter((v) => !initNames.has(v.name));
  facts.outputs = main.outputs;
  walk(main, 'graph', [], 1, facts);
  for (const [where, g] of training) walk(g, where, [], 1, facts);
  if (!facts.unbounded.length) {
    const defaultOpset = facts.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx');
    for (const m of shapeChecks(main, facts.inputs, defaultOpset ? Number(defaultOpset.version) : 0)) facts.unbounded.push(m);
  }
  return { facts };
}

function opsetId(bytes, f) {
  const out = { domain: '', version: null };
  for (const g of fields(bytes, f.s, f.e)) {
    if (g.no === 1 && g.wt === 2) out.domain = str(bytes, g);
    else if (g.no === 2 && g.wt === 0) out.version = int64(g.v);
  }
  return out;
}

// What a name means in one graph: 'input', {tensor} (an initializer or a Constant's
// value), or 'computed' (another node's output). Built before the graph's nodes are checked.
function scopeOf(gr) {
  const scope = new Map();
  for (const t of gr.initializers) scope.set(t.name, { tensor: t });
  for (const s of gr.sparse) scope.set(s.name, 'sparse');
  for (const v of gr.inputs) scope.set(v.name, 'input'); // a graph input shadows an initializer of its name
  for (const n of gr.nodes) {
    const constant = n.opType === 'Constant' && (n.domain === '' || n.domain === 'ai.onnx') ? constantValue(n) : null;
    for (const o of n.outputs) if (o) scope.set(o, constant ? { tensor: constant } : 'computed');
  }
  return scope;
}

// The value of a Constant node as a tensor summary (dims, values), or null.
export function constantValue(n) {
  for (const a of n.attrs) {
    if (a.name === 'value' && a.tensors.length === 1) return a.tensors[0];
    if (a.name === 'value_int' && a.i !== null) return { dims: [], elements: 1n, dataType: 7, values: [a.i] };
    if (a.name === 'value_ints') return { dims: [BigInt(a.ints.length)], elements: BigInt(a.ints.length), dataType: 7, values: a.ints.slice(0, MAX_VALUES_KEPT).length === a.ints.length ? a.ints : null };
    if (a.name === 'value_float' && a.f !== null) return { dims: [], elements: 1n, dataType: 1, values: [a.f] };
    if (a.name === 'value_floats') return { dims: [BigInt(a.floats.length)], elements: BigInt(a.floats.length), dataType: 1, values: null };
    if (a.name === 'sparse_value' && a.sparse.length === 1) return { dims: a.sparse[0].dims, elements: a.sparse[0].elements, dataType: 0, values: null };
  }
  return null;
}

function resolve(name, scopes) {
  for (let k = scopes.length - 1; k >= 0; k--) if (scopes[k].has(name)) return scopes[k].get(name);
  return undefined;
}

function checkTensor(t, where, facts) {
  const label = t.name ? `${where} ${JSON.stringify(t.name)}` : where;
  if (t.external) facts.externalData.push(label);
  if (t.negativeDim) facts.unbounded.push(`${label} has a negative dimension`);
  else if (t.elements > BigInt(MAX_TENSOR_ELEMENTS)) facts.unbounded.push(`${label} holds ${t.elements} elements, more than 2^26`);
}

function checkSparse(s, where, facts) {
  if (s.values) checkTensor(s.values, `${where} (sparse values)`, facts);
  if (s.indices) checkTensor(s.indices, `${where} (sparse indices)`, facts);
  if (s.elements > BigInt(MAX_TENSOR_ELEMENTS)) facts.unbounded.push(`${where} ${JSON.stringify(s.name)}: a sparse tensor of ${s.elements} dense elements, more than 2^26`);
}

// Check one graph (and its subgraphs): domains, external data, stored tensor
// sizes, control-flow depth, Loop trip counts. trips: the product of the trip
// counts of the Loops around this graph.
function walk(gr, where, outer, trips, facts) {
  const scopes = [...outer, scopeOf(gr)];
  for (const t of gr.initializers) checkTensor(t, `${where}.initializer`, facts);
  for (const s of gr.sparse) checkSparse(s, `${where}.sparse_initializer`, facts);
  gr.nodes.forEach((n, k) => {
    const label = `${where}.node[${k}]${n.opType ? ` (${n.opType})` : ''}`;
    if (!STANDARD_DOMAINS.has(n.domain)) facts.nonStandardDomains.push({ domain: n.domain, where: label });
    let inner = trips;
    if (n.opType === 'Loop' && (n.domain === '' || n.domain === 'ai.onnx')) {
      const m = n.inputs[0] || '';
      const meaning = m ? resolve(m, scopes) : undefined;
      const vals = meaning && meaning.tensor ? meaning.tensor.values : null;
      if (!m) facts.unbounded.push(`${label} has no trip count: it runs until its condition turns false`);
      else if (!meaning || !meaning.tensor) facts.unbounded.push(`${label}: its trip count ${JSON.stringify(m)} is computed at run time, not a constant`);
      else if (!vals || vals.length !== 1 || ![6, 7].includes(meaning.tensor.dataType) || !Number.isInteger(vals[0])) facts.unbounded.push(`${label}: its trip count ${JSON.stringify(m)} is not one stored integer`);
      else if (vals[0] < 0 || vals[0] > MAX_TRIP_COUNT) {
        const shown = Math.abs(vals[0]) > Number.MAX_SAFE_INTEGER ? `about ${vals[0].toExponential(3)}` : String(vals[0]);
        facts.unbounded.push(`${label}: its trip count is ${shown}, outside 0 to ${MAX_TRIP_COUNT}`);
      }
      else {
        inner = trips * Math.max(vals[0], 1);
        if (trips * vals[0] > MAX_TRIP_PRODUCT) facts.unbounded.push(`${label} runs ${vals[0]} iterations inside loops of ${trips}: ${trips * vals[0]} in all, more than ${MAX_TRIP_PRODUCT}`);
      }
    }
    for (const a of n.attrs) {
      const at = `${label}.${a.name}`;
      for (const t of a.tensors) checkTensor(t, at, facts);
      for (const s of a.sparse) checkSparse(s, at, facts);
      a.graphs.forEach((sub, j) => {
        if (sub.tooDeep) facts.unbounded.push(`${at}: control flow nested deeper than ${MAX_CONTROL_FLOW_DEPTH} levels`);
        else walk(sub, `${at}${a.graphs.length > 1 ? `[${j}]` : ''}`, scopes, inner, facts);
      });
    }
  });
}
