// Child process that runs an ONNX model with onnxruntime-node (see runner.mjs).
//
// onnxruntime-node's session.run blocks the JavaScript thread until the run
// ends, so a timer in the same process cannot stop a model that runs forever
// (an ONNX Loop of 2^62 iterations). The parent runs the model here instead
// and kills this process when a run exceeds its time bound.
//
// stdin: 4-byte big-endian length, a JSON header {jobs: [{feeds, fetches}]},
// then the model's bytes. stdout: one JSON line for the session, then one per job.
import ort from 'onnxruntime-node';

const ARRAYS = { float32: Float32Array, float64: Float64Array, int64: BigInt64Array, int32: Int32Array, bool: Uint8Array, uint8: Uint8Array, int8: Int8Array, int16: Int16Array, uint16: Uint16Array, uint32: Uint32Array, uint64: BigUint64Array };

function firstLine(e) {
  const s = String(e && e.message ? e.message : e).trim();
  return s.split('\n')[0].slice(0, 500) || 'unknown error';
}

function send(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

// Exit once everything written has reached the pipe: writes to a full pipe are queued,
// and process.exit() would drop them.
function exitWhenFlushed() {
  process.stdout.write('', () => process.exit(0));
}

// The header, then the model's bytes copied once into a buffer of their announced length.
async function readInput(stream) {
  let head = Buffer.alloc(0);
  let header = null, model = null, got = 0;
  for await (const c of stream) {
    let chunk = c;
    if (!header) {
      head = Buffer.concat([head, chunk]);
      if (head.length < 4 || head.length < 4 + head.readUInt32BE(0)) continue;
      const hlen = head.readUInt32BE(0);
      header = JSON.parse(head.subarray(4, 4 + hlen).toString('utf8'));
      model = Buffer.allocUnsafe(header.modelLength);
      chunk = head.subarray(4 + hlen);
    }
    const n = Math.min(chunk.length, model.length - got);
    chunk.copy(model, got, 0, n);
    got += n;
  }
  if (!header || got !== model.length) throw new Error('the runtime process received a truncated model');
  return { header, model };
}

const { header, model } = await readInput(process.stdin);

let session;
try {
  // From the bytes, CPU only, no custom-operator library registered. No constant folding:
  // it computes, while the session is created, whatever the graph computes from its
  // constants (a MatMul of two 4096 x 4096 constants took 10 s); spec 4.4 refuses such
  // graphs beforehand, and this keeps loading cheap for any graph (dnnlik does the same).
  session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    extra: { optimization: { disable_specified_optimizers: 'ConstantFolding' } },
  });
  send({ session: 'ok', inputNames: session.inputNames, outputNames: session.outputNames, ortVersion: ort.env.versions.node || ort.env.versions.common });
} catch (e) {
  send({ session: 'error', message: firstLine(e) });
  exitWhenFlushed();
  await new Promise(() => {}); // the exit comes from the callback
}

for (const job of header.jobs) {
  try {
    const feeds = {};
    for (const [name, t] of Object.entries(job.feeds)) {
      const raw = Buffer.from(t.b64, 'base64');
      const copy = new Uint8Array(raw.length);
      copy.set(raw);
      const Arr = ARRAYS[t.type];
      const data = new Arr(copy.buffer, 0, raw.length / Arr.BYTES_PER_ELEMENT);
      feeds[name] = new ort.Tensor(t.type, data, t.dims);
    }
    const result = await session.run(feeds, job.fetches);
    const outputs = {};
    for (const name of job.fetches) {
      const t = result[name];
      if (!t) { outputs[name] = null; continue; }
      const d = t.data;
      const bytes = ArrayBuffer.isView(d) ? Buffer.from(d.buffer, d.byteOffset, d.byteLength) : null;
      outputs[name] = { type: t.type, dims: Array.from(t.dims, Number), b64: bytes ? bytes.toString('base64') : null };
    }
    send({ ok: true, outputs });
  } catch (e) {
    send({ ok: false, message: firstLine(e) });
  }
}
exitWhenFlushed();
