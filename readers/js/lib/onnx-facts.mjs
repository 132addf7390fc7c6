// The ONNX facts a reader must check (spec/README.md, sections 4.1, 8 and 9),
// read from the model's bytes with a minimal protobuf walker.
//
// onnxruntime-node exposes input and output names only: not the opset, the IR
// version, the operator domains, model-local functions, external data or the
// declared types and shapes. So the ModelProto is decoded here, but only the
// few fields those facts need (field numbers from onnx/onnx.proto, IR 10):
//
//   ModelProto          1 ir_version (varint)  7 graph  8 opset_import
//                       20 training_info  25 functions
//   OperatorSetIdProto  1 domain (string)  2 version (varint)
//   GraphProto          1 node  5 initializer  11 input  12 output
//                       15 sparse_initializer
//   NodeProto           4 op_type  5 attribute  7 domain
//   AttributeProto      1 name  5 t  6 g  10 tensors  11 graphs
//                       22 sparse_tensor  23 sparse_tensors
//   TensorProto         8 name  13 external_data  14 data_location (1 = EXTERNAL)
//   SparseTensorProto   1 values  2 indices (TensorProto each)
//   TrainingInfoProto   1 initialization  2 algorithm (GraphProto each)
//   ValueInfoProto      1 name  2 type
//   TypeProto           1 tensor_type (other members: not a tensor)
//   TypeProto.Tensor    1 elem_type  2 shape
//   TensorShapeProto    1 dim;  Dimension: 1 dim_value  2 dim_param
//
// Every other field is skipped by its wire type. External data can hide in
// initializers, sparse initializers, tensor attributes (t, tensors,
// sparse_tensor, sparse_tensors) and in every subgraph (attributes g and
// graphs, training_info graphs): all of them are walked.

export const ELEM_TYPES = { 1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string', 9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64', 14: 'complex64', 15: 'complex128', 16: 'bfloat16' };
export const STANDARD_DOMAINS = new Set(['', 'ai.onnx', 'ai.onnx.ml']);
const MAX_GRAPH_DEPTH = 64; // subgraphs inside subgraphs; deeper is refused as unreadable

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
    else if (wt === 1) { if (i + 8 > end) throw new ProtoError('truncated fixed64'); i += 8; yield { no, wt }; }
    else if (wt === 5) { if (i + 4 > end) throw new ProtoError('truncated fixed32'); i += 4; yield { no, wt }; }
    else if (wt === 2) {
      const len = varint();
      if (len > BigInt(end - i)) throw new ProtoError('length-delimited field runs past its message');
      const s = i;
      i += Number(len);
      yield { no, wt, s, e: i };
    } else throw new ProtoError(`wire type ${wt} (groups are not used by ONNX)`);
  }
}

function str(bytes, f) { return utf8.decode(bytes.subarray(f.s, f.e)); }
function want(f, wt, what) { if (f.wt !== wt) throw new ProtoError(`${what} has wire type ${f.wt}, expected ${wt}`); }

// int64 as a Number when it is exactly representable, else a string (for messages)
function int64(v) {
  const signed = BigInt.asIntN(64, v);
  return signed >= BigInt(Number.MIN_SAFE_INTEGER) && signed <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(signed) : signed.toString();
}

export function inspectModel(bytes) {
  const facts = {
    irVersion: null,
    opsetImports: [], // {domain, version}
    functionCount: 0,
    nonStandardDomains: [], // {domain, where}
    externalData: [], // where
    inputs: [], // {name, type: {elemType, shape}|null} of the main graph (initializers excluded)
    outputs: [],
    hasGraph: false,
  };
  try {
    for (const f of fields(bytes, 0, bytes.length)) {
      if (f.no === 1) { want(f, 0, 'ModelProto.ir_version'); facts.irVersion = int64(f.v); }
      else if (f.no === 8) { want(f, 2, 'ModelProto.opset_import'); facts.opsetImports.push(opsetId(bytes, f)); }
      else if (f.no === 7) {
        want(f, 2, 'ModelProto.graph');
        // protobuf would merge two occurrences; no writer produces that, and a reader
        // that took only one of them could be shown a different graph than the runtime
        if (facts.hasGraph) throw new ProtoError('the graph field appears more than once');
        facts.hasGraph = true;
        graph(bytes, f, facts, 'graph', 0, true);
      }
      else if (f.no === 25) { want(f, 2, 'ModelProto.functions'); facts.functionCount++; }
      else if (f.no === 20) {
        want(f, 2, 'ModelProto.training_info');
        for (const g of fields(bytes, f.s, f.e)) {
          if ((g.no === 1 || g.no === 2) && g.wt === 2) graph(bytes, g, facts, `training_info.${g.no === 1 ? 'initialization' : 'algorithm'}`, 1, false);
        }
      }
    }
  } catch (e) {
    if (e instanceof ProtoError) return { error: `not a readable ONNX ModelProto: ${e.message}` };
    throw e;
  }
  if (!facts.hasGraph) return { error: 'not a readable ONNX ModelProto: it has no graph' };
  if (!facts.outputs.length) return { error: 'not a readable ONNX model: its graph has no output' };
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

function graph(bytes, f, facts, where, depth, main) {
  if (depth > MAX_GRAPH_DEPTH) throw new ProtoError(`subgraphs nested deeper than ${MAX_GRAPH_DEPTH} levels`);
  const initializers = new Set();
  const inputs = [];
  const outputs = [];
  let nodeIndex = 0;
  for (const g of fields(bytes, f.s, f.e)) {
    if (g.no === 1) { want(g, 2, 'GraphProto.node'); node(bytes, g, facts, `${where}.node[${nodeIndex++}]`, depth); }
    else if (g.no === 5) { want(g, 2, 'GraphProto.initializer'); initializers.add(tensor(bytes, g, facts, `${where}.initializer`)); }
    else if (g.no === 15) { want(g, 2, 'GraphProto.sparse_initializer'); for (const n of sparse(bytes, g, facts, `${where}.sparse_initializer`)) initializers.add(n); }
    else if (main && g.no === 11) { want(g, 2, 'GraphProto.input'); inputs.push(valueInfo(bytes, g)); }
    else if (main && g.no === 12) { want(g, 2, 'GraphProto.output'); outputs.push(valueInfo(bytes, g)); }
  }
  if (main) {
    facts.inputs = inputs.filter((v) => !initializers.has(v.name));
    facts.outputs = outputs;
  }
}

function node(bytes, f, facts, where, depth) {
  let domain = '', opType = '';
  const attrs = [];
  for (const g of fields(bytes, f.s, f.e)) {
    if (g.no === 7 && g.wt === 2) domain = str(bytes, g);
    else if (g.no === 4 && g.wt === 2) opType = str(bytes, g);
    else if (g.no === 5) { want(g, 2, 'NodeProto.attribute'); attrs.push(g); }
  }
  const label = opType ? `${where} (${opType})` : where;
  if (!STANDARD_DOMAINS.has(domain)) facts.nonStandardDomains.push({ domain, where: label });
  for (const a of attrs) attribute(bytes, a, facts, label, depth);
}

function attribute(bytes, f, facts, where, depth) {
  let name = '';
  const parts = [];
  for (const g of fields(bytes, f.s, f.e)) {
    if (g.no === 1 && g.wt === 2) name = str(bytes, g);
    else if ([5, 6, 10, 11, 22, 23].includes(g.no)) { want(g, 2, `AttributeProto field ${g.no}`); parts.push(g); }
  }
  const at = `${where}.attribute ${JSON.stringify(name)}`;
  for (const g of parts) {
    if (g.no === 5 || g.no === 10) tensor(bytes, g, facts, at);
    else if (g.no === 22 || g.no === 23) sparse(bytes, g, facts, at);
    else graph(bytes, g, facts, `${at}.graph`, depth + 1, false);
  }
}

// returns the tensor's name; records external data
function tensor(bytes, f, facts, where) {
  let name = '', external = false;
  for (const g of fields(bytes, f.s, f.e)) {
    if (g.no === 8 && g.wt === 2) name = str(bytes, g);
    else if (g.no === 13) external = true; // external_data entries
    else if (g.no === 14 && g.wt === 0 && g.v === 1n) external = true; // data_location EXTERNAL
  }
  if (external) facts.externalData.push(name ? `${where} ${JSON.stringify(name)}` : where);
  return name;
}

function sparse(bytes, f, facts, where) {
  const names = [];
  for (const g of fields(bytes, f.s, f.e)) {
    if (g.no === 1 || g.no === 2) { want(g, 2, 'SparseTensorProto tensor'); names.push(tensor(bytes, g, facts, `${where} (sparse ${g.no === 1 ? 'values' : 'indices'})`)); }
  }
  return names.slice(0, 1); // a sparse initializer is named by its values tensor
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
        for (const x of fields(bytes, d.s, d.e)) {
          if (x.no === 1 && x.wt === 0) dim = int64(x.v);
        }
        shape.push(dim); // null: symbolic (dim_param) or unknown
      }
    }
  }
  return { elemType, shape };
}
