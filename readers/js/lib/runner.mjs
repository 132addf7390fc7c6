// Running a model with a time bound (spec/README.md, sections 6 and 8).
//
// The model runs in a child process (runner-child.mjs) which is killed when a
// run takes longer than the bound: onnxruntime-node's session.run blocks its
// thread, so nothing in the same process could stop it.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./runner-child.mjs', import.meta.url));
export const RUN_SECONDS = 30;
// The runtime process runs under this address-space limit (spec 4.4: readers SHOULD run
// untrusted models under a memory limit) where a POSIX shell can set it (ulimit -v).
export const MEMORY_LIMIT_MIB = 4096;

function spawnChild() {
  if (process.platform !== 'win32' && fs.existsSync('/bin/sh')) {
    const kib = MEMORY_LIMIT_MIB * 1024;
    return spawn('/bin/sh', ['-c', `ulimit -v ${kib} 2>/dev/null; exec "$0" "$@"`, process.execPath, CHILD], { stdio: ['pipe', 'pipe', 'pipe'] });
  }
  return spawn(process.execPath, [CHILD], { stdio: ['pipe', 'pipe', 'pipe'] });
}

export const TYPED = { float32: Float32Array, float64: Float64Array, int64: BigInt64Array, int32: Int32Array, bool: Uint8Array, uint8: Uint8Array, int8: Int8Array, int16: Int16Array, uint16: Uint16Array, uint32: Uint32Array, uint64: BigUint64Array };

export function encodeTensor(type, dims, typedArray) {
  const b = Buffer.from(typedArray.buffer, typedArray.byteOffset, typedArray.byteLength);
  return { type, dims, b64: b.toString('base64') };
}

// The elements of a transported tensor as doubles (bool as 0/1), or null for a type without numbers.
export function decodeToDoubles(t) {
  const Arr = TYPED[t.type];
  if (!Arr || t.b64 === null) return null;
  const raw = Buffer.from(t.b64, 'base64');
  const copy = new Uint8Array(raw.length);
  copy.set(raw);
  return Array.from(new Arr(copy.buffer, 0, raw.length / Arr.BYTES_PER_ELEMENT), Number);
}

// Run jobs [{feeds: {name: encoded tensor}, fetches: [names], shared?: true}] on the model.
// Each job may run `seconds`; jobs marked shared draw on one budget of `sharedSeconds` together.
// Resolves to {session: {ok, message}, results: [{ok, outputs} | {ok: false, message} | {timeout: true} | undefined]}
// (undefined: not run, because an earlier job stopped the runtime process).
export function runModel(modelBytes, jobs, { seconds = RUN_SECONDS, sharedSeconds = RUN_SECONDS } = {}) {
  return new Promise((resolve) => {
    const child = spawnChild();
    const header = Buffer.from(JSON.stringify({ modelLength: modelBytes.length, jobs: jobs.map(({ feeds, fetches }) => ({ feeds, fetches })) }), 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(header.length);
    const out = { session: null, results: new Array(jobs.length) };
    let buffered = '';
    let stderr = '';
    let next = -1; // -1: waiting for the session line
    let timer = null;
    let started = 0;
    let sharedLeft = sharedSeconds * 1000;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      resolve(out);
    };
    const arm = () => {
      clearTimeout(timer);
      if (next >= jobs.length) return;
      const shared = next >= 0 && jobs[next].shared;
      const ms = shared ? Math.max(sharedLeft, 0) : seconds * 1000;
      started = Date.now();
      timer = setTimeout(() => {
        if (next < 0) out.session = { ok: false, message: `creating the session took longer than the ${seconds} s allowed`, timeout: true };
        else out.results[next] = { timeout: true, message: shared
          ? `the model's runs took longer than the ${sharedSeconds} s allowed for them together and were stopped`
          : `the model ran longer than the ${seconds} s allowed and was stopped` };
        child.kill('SIGKILL');
      }, ms);
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let msg;
        try { msg = JSON.parse(line); } catch { continue; }
        if (next < 0) {
          out.session = msg.session === 'ok' ? { ok: true, inputNames: msg.inputNames, outputNames: msg.outputNames, ortVersion: msg.ortVersion } : { ok: false, message: msg.message };
          next = 0;
        } else if (next < jobs.length) {
          if (jobs[next].shared) sharedLeft -= Date.now() - started;
          out.results[next++] = msg;
        }
        arm();
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c) => { if (stderr.length < 4000) stderr += c; });
    child.on('error', (e) => {
      if (!out.session) out.session = { ok: false, message: `cannot start the runtime process: ${e.message}` };
      finish();
    });
    child.on('close', (code, signal) => {
      const why = () => stderr.trim().split('\n').filter(Boolean).slice(-1)[0] || `exit ${code ?? signal}`;
      if (!out.session) {
        out.session = { ok: false, message: `the runtime process ended without creating a session: ${why()}` };
      } else if (out.session.ok && next >= 0 && next < jobs.length && !out.results[next]) {
        out.results[next] = { ok: false, message: `the runtime process ended during the run (${why()})` };
      }
      finish();
    });
    child.stdin.on('error', () => {}); // the child may die before reading everything
    arm();
    child.stdin.write(Buffer.concat([len, header]));
    child.stdin.end(modelBytes); // written as it is: a large model is not copied once more
  });
}
