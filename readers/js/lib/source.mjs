// Opening a bundle: a folder, or a zip of one (spec/README.md, sections 1 and 9).
//
// Both kinds of source give the same three things: the list of regular files
// (POSIX paths relative to the bundle root), the problems found while listing
// (links, special files, unsafe zip names ...), and read(path, limit), which
// streams one file through SHA-256 and returns its size and digest, plus its
// bytes when asked. Nothing is ever written to disk, nothing outside the
// bundle is opened, and reading stops at the limit whatever the file or a zip
// header claims.

import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';

export const MAX_FILE = 2 * 1024 ** 3; // any file <= 2 GiB (the protobuf limit)
export const MAX_ZIP_ENTRIES = 10000;
export const MAX_ZIP_TOTAL = 8 * 1024 ** 3;
export const MAX_FOLDER_DEPTH = 128;
const BOMB_MIN = 1024 ** 2; // an entry larger than 1 MiB ...
const BOMB_RATIO = 200; // ... may not expand more than 200-fold
const CHUNK = 1 << 20;
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

export class SourceProblem {
  constructor(code, message, location) {
    this.code = code;
    this.message = message;
    // a name from the bundle, shown without its control characters (one line per problem)
    this.location = location.replace(/[\x00-\x1f\x7f]/g, '?');
  }
}

class Refusal extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

export async function openBundle(p) {
  let st;
  try {
    st = fs.statSync(p); // the path the user gave may itself be a link: it is the user's choice
  } catch (e) {
    return { problems: [new SourceProblem('archive:unreadable', `cannot open ${p}: ${e.code || e.message}`, '')] };
  }
  if (st.isDirectory()) {
    try {
      return FolderSource.open(p);
    } catch (e) {
      return { problems: [new SourceProblem('archive:unreadable', `cannot read the folder ${p}: ${e.code || e.message}`, '')] };
    }
  }
  if (st.isFile()) return ZipSource.open(p, st);
  return { problems: [new SourceProblem('archive:unreadable', `${p} is neither a folder nor a zip file`, '')] };
}

// ---------------------------------------------------------------- folders

class FolderSource {
  static open(root) {
    const src = new FolderSource();
    src.kind = 'folder';
    src.root = fs.realpathSync(root);
    src.files = new Map(); // rel -> {dev, ino}
    const problems = [];
    // iterative walk with lstat: links are reported, never followed
    const stack = [''];
    let total = 0;
    while (stack.length) {
      if (src.files.size > MAX_ZIP_ENTRIES) break;
      const rel = stack.pop();
      if (rel && rel.split('/').length > MAX_FOLDER_DEPTH) {
        problems.push(new SourceProblem('archive:too-deep', `folders nested more than ${MAX_FOLDER_DEPTH} deep`, rel));
        continue;
      }
      let raw;
      try {
        raw = fs.readdirSync(path.join(src.root, rel), { encoding: 'buffer' });
      } catch (e) {
        problems.push(new SourceProblem('archive:unreadable', `cannot list folder ${rel || '.'}: ${e.code || e.message}`, rel || ''));
        continue;
      }
      const names = [];
      for (const b of raw) {
        let name;
        try {
          name = STRICT_UTF8.decode(b);
        } catch {
          const shown = b.toString('latin1').replace(/[^\x20-\x7e]/g, '?');
          problems.push(new SourceProblem('archive:unsafe-path', 'a file name that is not UTF-8', rel ? `${rel}/${shown}` : shown));
          continue;
        }
        // a control character in a name would break every one-line report
        if (/[\x00-\x1f\x7f]/.test(name)) {
          const shown = name.replace(/[\x00-\x1f\x7f]/g, '?');
          problems.push(new SourceProblem('archive:unsafe-path', 'a file name with a control character', rel ? `${rel}/${shown}` : shown));
          continue;
        }
        names.push(name);
      }
      names.sort();
      for (const name of names) {
        const r = rel ? `${rel}/${name}` : name;
        let st;
        try {
          st = fs.lstatSync(path.join(src.root, r));
        } catch (e) {
          problems.push(new SourceProblem('archive:unreadable', `cannot inspect ${r}: ${e.code || e.message}`, r));
          continue;
        }
        if (st.isSymbolicLink()) problems.push(new SourceProblem('archive:link', 'is a symbolic link: links are refused whatever they point to', r));
        else if (st.isDirectory()) stack.push(r);
        else if (st.isFile()) {
          src.files.set(r, { dev: st.dev, ino: st.ino, size: st.size });
          total += st.size;
        }
        else problems.push(new SourceProblem('archive:special-file', 'is not a regular file or folder (device, FIFO or socket)', r));
      }
    }
    // the limits of a zip hold for a folder too: a bundle is the same thing in either form
    if (src.files.size > MAX_ZIP_ENTRIES) problems.push(new SourceProblem('archive:unreadable', `the folder holds more than ${MAX_ZIP_ENTRIES} files`, ''));
    else if (total > MAX_ZIP_TOTAL) problems.push(new SourceProblem('archive:unreadable', `the folder's files hold ${total} bytes, more than 8 GiB in all`, ''));
    return { source: src, problems };
  }

  has(rel) {
    return this.files.has(rel);
  }

  list() {
    return [...this.files.keys()];
  }

  // the size the scan found (a folder) or the central directory declares (a zip)
  sizeOf(rel) {
    const e = this.files.get(rel);
    return e ? e.size : undefined;
  }

  // Open rel without following a link at any step: O_NOFOLLOW refuses a link as
  // the last component, and /proc/self/fd tells the path the kernel actually
  // opened, which must be the file inside the bundle (an intermediate folder
  // swapped for a link after the scan shows up there). The descriptor must also
  // be the regular file that the scan listed (same device and inode).
  openChecked(rel) {
    const want = this.files.get(rel);
    if (!want) throw new Refusal('files:missing', 'is not in the bundle');
    const flags = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0);
    let fd;
    try {
      fd = fs.openSync(path.join(this.root, rel), flags);
    } catch (e) {
      if (e.code === 'ELOOP') throw new Refusal('archive:changed', 'became a symbolic link while the bundle was read');
      throw new Refusal('files:unreadable', `cannot be opened: ${e.code || e.message}`);
    }
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile() || st.dev !== want.dev || st.ino !== want.ino) {
        throw new Refusal('archive:changed', 'changed while the bundle was read (it is no longer the file the scan found)');
      }
      let real = null;
      try {
        real = fs.readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        real = null; // no /proc (not Linux): the device and inode check above stands alone
      }
      if (real !== null && real !== path.join(this.root, rel)) {
        throw new Refusal('archive:changed', `resolves outside its place in the bundle (${real}): a folder on its path was replaced by a link`);
      }
      return fd;
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  // Read at most limit + 1 bytes (so that "larger than the limit" is seen),
  // hashing them; keep the bytes when asked.
  async read(rel, limit, keep) {
    const fd = this.openChecked(rel);
    try {
      const hash = createHash('sha256');
      // kept bytes are read straight into one buffer of the limit's size (no second copy)
      const whole = keep ? Buffer.allocUnsafe(limit + 1) : null;
      const buf = keep ? null : Buffer.allocUnsafe(CHUNK);
      let total = 0;
      for (;;) {
        const want = Math.min(CHUNK, limit + 1 - total);
        if (want <= 0) break;
        let n;
        try {
          n = keep ? fs.readSync(fd, whole, total, want, null) : fs.readSync(fd, buf, 0, want, null);
        } catch (e) {
          throw new Refusal('files:unreadable', `cannot be read: ${e.code || e.message}`);
        }
        if (n === 0) break;
        hash.update(keep ? whole.subarray(total, total + n) : buf.subarray(0, n));
        total += n;
      }
      return { size: total, sha256: hash.digest('hex'), bytes: keep ? whole.subarray(0, total) : undefined, overLimit: total > limit };
    } finally {
      fs.closeSync(fd);
    }
  }

  close() {}
}

// ---------------------------------------------------------------- zips

// A zip is read from its central directory; each entry's data is streamed
// from its local header, inflated with a hard cap, and checked against the
// CRC-32 of the central directory. ZIP64 records are understood. Supported
// compression methods: 0 (stored) and 8 (deflate), the two every zip tool writes.
class ZipSource {
  static async open(p, st) {
    const src = new ZipSource();
    src.kind = 'zip';
    src.path = p;
    const problems = [];
    try {
      src.fd = fs.openSync(p, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
    } catch (e) {
      return { problems: [new SourceProblem('archive:unreadable', `cannot open the zip: ${e.code || e.message}`, '')] };
    }
    try {
      src.size = fs.fstatSync(src.fd).size;
      const entries = src.centralDirectory();
      src.files = new Map();
      const names = new Set();
      let total = 0;
      for (const e of entries) {
        if (names.has(e.name)) { problems.push(new SourceProblem('archive:duplicate', 'appears more than once in the zip', e.name)); continue; }
        names.add(e.name);
        const unsafe = unsafeReason(e.name);
        if (unsafe) { problems.push(new SourceProblem('archive:unsafe-path', `zip entry name ${JSON.stringify(e.name)} ${unsafe}`, e.name)); continue; }
        const reported = (code, message) => { problems.push(new SourceProblem(code, message, e.name)); e.reported = true; src.files.set(e.name, e); };
        if (e.flags & 0x41) { reported('archive:encrypted', 'is encrypted'); continue; }
        const type = e.unixMode === null ? null : e.unixMode & 0o170000;
        if (type === 0o120000) { problems.push(new SourceProblem('archive:link', 'is a symbolic link: links are refused whatever they point to', e.name)); continue; }
        const isDir = e.name.endsWith('/') || type === 0o040000;
        if (isDir) continue;
        if (type !== null && type !== 0 && type !== 0o100000) { problems.push(new SourceProblem('archive:special-file', 'is not a regular file (device, FIFO or socket)', e.name)); continue; }
        if (e.method !== 0 && e.method !== 8) { reported('archive:unreadable', `uses compression method ${e.method}; this reader reads stored (0) and deflate (8)`); continue; }
        if (e.usize > BOMB_MIN && e.usize > BOMB_RATIO * Math.max(e.csize, 1)) {
          reported('archive:zip-bomb', `expands ${e.usize} bytes from ${e.csize} (more than ${BOMB_RATIO}-fold)`);
          continue;
        }
        total += e.usize;
        src.files.set(e.name, e);
      }
      src.checkOverlaps(entries, problems);
      if (total > MAX_ZIP_TOTAL) problems.push(new SourceProblem('archive:unreadable', `the entries announce ${total} bytes, more than 8 GiB in all`, ''));
      // bundle.json at the root, or every entry inside one top-level folder holding bundle.json
      if (!src.files.has('bundle.json')) {
        const tops = new Set([...names].map((n) => n.split('/')[0]));
        const [top] = tops;
        if (tops.size === 1 && [...names].every((n) => n.startsWith(top + '/')) && src.files.has(`${top}/bundle.json`)) {
          const stripped = new Map();
          for (const [n, e] of src.files) stripped.set(n.slice(top.length + 1), e);
          src.files = stripped;
          src.prefix = `${top}/`;
          for (const pr of problems) if (pr.location.startsWith(src.prefix)) pr.location = pr.location.slice(src.prefix.length);
        }
      }
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      src.close();
      return { problems: [...problems, new SourceProblem(e.code, e.message, '')] };
    }
    return { source: src, problems };
  }

  // Every entry's bytes (local header, name, extra field, data) must be its own:
  // entries that share bytes are how a small zip announces huge contents.
  checkOverlaps(entries, problems) {
    const spans = [];
    for (const e of entries) {
      let lh;
      try {
        lh = this.readAt(e.offset, 30);
      } catch {
        problems.push(new SourceProblem('archive:header-mismatch', 'its local header lies outside the zip', e.name));
        continue;
      }
      if (lh.readUInt32LE(0) !== 0x04034b50) {
        problems.push(new SourceProblem('archive:header-mismatch', 'has no local header where the central directory points', e.name));
        continue;
      }
      const why = localHeaderDisagrees(e, lh, this);
      if (why) {
        problems.push(new SourceProblem('archive:header-mismatch', `its local header disagrees with the central directory: ${why}`, e.name));
        e.reported = true;
      }
      spans.push({ name: e.name, start: e.offset, end: e.offset + 30 + lh.readUInt16LE(26) + lh.readUInt16LE(28) + e.csize });
    }
    spans.sort((a, b) => a.start - b.start);
    for (let k = 1; k < spans.length; k++) {
      if (spans[k].start < spans[k - 1].end) {
        problems.push(new SourceProblem('archive:overlap', `shares bytes with the entry ${JSON.stringify(spans[k - 1].name)}`, spans[k].name));
      }
    }
  }

  readAt(pos, len) {
    if (pos < 0 || pos + len > this.size) throw new Refusal('archive:unreadable', 'a zip record points outside the file');
    const buf = Buffer.alloc(len);
    let got = 0;
    while (got < len) {
      const n = fs.readSync(this.fd, buf, got, len - got, pos + got);
      if (n === 0) throw new Refusal('archive:unreadable', 'the zip is truncated');
      got += n;
    }
    return buf;
  }

  centralDirectory() {
    const bad = (m) => new Refusal('archive:unreadable', `not a readable zip: ${m}`);
    const tailLen = Math.min(this.size, 22 + 65535);
    if (tailLen < 22) throw bad('too short');
    const tail = this.readAt(this.size - tailLen, tailLen);
    let at = -1;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === 0x06054b50) { at = i; break; }
    }
    if (at < 0) throw bad('no end-of-central-directory record');
    let count = tail.readUInt16LE(at + 10);
    let cdSize = tail.readUInt32LE(at + 12);
    let cdOffset = tail.readUInt32LE(at + 16);
    if (tail.readUInt16LE(at + 4) !== 0 || tail.readUInt16LE(at + 6) !== 0) throw bad('multi-disk archives are not supported');
    const eocdPos = this.size - tailLen + at;
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      if (eocdPos < 20) throw bad('ZIP64 locator missing');
      const loc = this.readAt(eocdPos - 20, 20);
      if (loc.readUInt32LE(0) !== 0x07064b50) throw bad('ZIP64 locator missing');
      const z = this.readAt(num64(loc, 8), 56);
      if (z.readUInt32LE(0) !== 0x06064b50) throw bad('ZIP64 end record missing');
      count = num64(z, 32);
      cdSize = num64(z, 40);
      cdOffset = num64(z, 48);
    }
    if (count > MAX_ZIP_ENTRIES) throw new Refusal('archive:unreadable', `the zip has ${count} entries, more than ${MAX_ZIP_ENTRIES}`);
    if (cdSize > 16 * 1024 ** 2) throw bad('central directory larger than 16 MiB');
    const cd = this.readAt(cdOffset, cdSize);
    const entries = [];
    let i = 0;
    for (let k = 0; k < count; k++) {
      if (i + 46 > cd.length || cd.readUInt32LE(i) !== 0x02014b50) throw bad('broken central directory');
      const madeBy = cd.readUInt16LE(i + 4);
      const flags = cd.readUInt16LE(i + 8);
      const method = cd.readUInt16LE(i + 10);
      const crc = cd.readUInt32LE(i + 16);
      let csize = cd.readUInt32LE(i + 20);
      let usize = cd.readUInt32LE(i + 24);
      const nlen = cd.readUInt16LE(i + 28), xlen = cd.readUInt16LE(i + 30), clen = cd.readUInt16LE(i + 32);
      const ext = cd.readUInt32LE(i + 38);
      let offset = cd.readUInt32LE(i + 42);
      if (i + 46 + nlen + xlen + clen > cd.length) throw bad('broken central directory');
      const rawName = cd.subarray(i + 46, i + 46 + nlen);
      const name = flags & 0x800 ? new TextDecoder('utf-8', { fatal: false }).decode(rawName) : rawName.toString('latin1');
      // ZIP64 extended information: the fields that are 0xffffffff above, in this order
      const extra = cd.subarray(i + 46 + nlen, i + 46 + nlen + xlen);
      for (let j = 0; j + 4 <= extra.length;) {
        const id = extra.readUInt16LE(j), len = extra.readUInt16LE(j + 2);
        if (id === 0x0001) {
          let q = j + 4;
          const next = () => { if (q + 8 > j + 4 + len) throw bad('broken ZIP64 extra field'); const v = num64(extra, q); q += 8; return v; };
          if (usize === 0xffffffff) usize = next();
          if (csize === 0xffffffff) csize = next();
          if (offset === 0xffffffff) offset = next();
        }
        j += 4 + len;
      }
      const unixMode = madeBy >> 8 === 3 ? ext >>> 16 : null;
      entries.push({ name, rawName: Buffer.from(rawName), flags, method, crc, csize, usize, offset, unixMode });
      i += 46 + nlen + xlen + clen;
    }
    return entries;
  }

  has(rel) {
    return this.files.has(rel);
  }

  list() {
    return [...this.files.keys()];
  }

  sizeOf(rel) {
    const e = this.files.get(rel);
    return e ? e.usize : undefined;
  }

  async read(rel, limit, keep) {
    const e = this.files.get(rel);
    if (!e) throw new Refusal('files:missing', 'is not in the bundle');
    if (e.reported) throw new Refusal(null, 'already reported when the zip was opened');
    const lh = this.readAt(e.offset, 30);
    if (lh.readUInt32LE(0) !== 0x04034b50) throw new Refusal('archive:unreadable', 'its local header is missing');
    const nlen = lh.readUInt16LE(26), xlen = lh.readUInt16LE(28);
    if (!this.readAt(e.offset + 30, nlen).equals(e.rawName)) {
      throw new Refusal('archive:header-mismatch', 'its local header names another file than the central directory');
    }
    const start = e.offset + 30 + nlen + xlen;
    if (start + e.csize > this.size) throw new Refusal('archive:unreadable', 'its data runs past the end of the zip');
    // never produce more than the smaller of the limit and the declared size, plus one byte to see overflow
    const cap = Math.min(limit, e.usize) + 1;
    const hash = createHash('sha256');
    const whole = keep ? Buffer.allocUnsafe(cap) : null; // kept bytes go straight into one buffer
    let total = 0;
    let crc = 0;
    const take = (chunk) => {
      const room = cap - total;
      const piece = chunk.length > room ? chunk.subarray(0, room) : chunk;
      hash.update(piece);
      crc = crc32(piece, crc);
      if (keep) piece.copy(whole, total);
      total += piece.length;
      return total >= cap;
    };
    // compressed bytes are read with positioned reads from the zip's descriptor, one chunk at a time
    const buf = Buffer.allocUnsafe(CHUNK);
    let pos = start;
    const stop = start + e.csize;
    const nextChunk = () => {
      const n = Math.min(CHUNK, stop - pos);
      if (n <= 0) return null;
      let got;
      try {
        got = fs.readSync(this.fd, buf, 0, n, pos);
      } catch (err) {
        throw new Refusal('files:unreadable', `cannot be read: ${err.code || err.message}`);
      }
      if (got === 0) throw new Refusal('archive:unreadable', 'the zip is truncated');
      pos += got;
      return Buffer.from(buf.subarray(0, got));
    };
    if (e.method === 0) {
      for (let c = nextChunk(); c !== null; c = nextChunk()) if (take(c)) break;
    } else {
      const inflate = zlib.createInflateRaw({ chunkSize: 64 * 1024 });
      let full = false;
      let failure = null;
      const ended = new Promise((resolve) => {
        inflate.on('data', (chunk) => { if (!full && take(chunk)) { full = true; inflate.destroy(); resolve(); } });
        inflate.on('end', resolve);
        inflate.on('close', resolve);
        inflate.on('error', (err) => { failure = err; resolve(); });
      });
      for (let c = nextChunk(); c !== null && !full && !failure; c = nextChunk()) {
        if (!inflate.write(c)) await new Promise((resolve) => { inflate.once('drain', resolve); inflate.once('close', resolve); });
      }
      if (!full && !failure) inflate.end();
      await ended;
      if (failure && !full) throw new Refusal('archive:unreadable', `its compressed data is corrupt: ${failure.message}`);
    }
    if (total > e.usize) throw new Refusal('archive:size-mismatch', `inflates to more than the ${e.usize} bytes the central directory declares`);
    if (total <= limit && total < e.usize) throw new Refusal('archive:size-mismatch', `holds ${total} bytes, the central directory declares ${e.usize}`);
    if (total <= limit && (crc >>> 0) !== e.crc) throw new Refusal('archive:unreadable', 'fails its CRC-32 check');
    return { size: total, sha256: hash.digest('hex'), bytes: keep ? whole.subarray(0, total) : undefined, overLimit: total > limit };
  }

  close() {
    if (this.fd !== undefined) { try { fs.closeSync(this.fd); } catch { /* already closed */ } this.fd = undefined; }
  }
}

// What the local header of entry e says differently from the central directory, or null.
// With flag bit 3 (a data descriptor follows the data) the local CRC and sizes may be 0.
function localHeaderDisagrees(e, lh, src) {
  const flags = lh.readUInt16LE(6), method = lh.readUInt16LE(8);
  const nlen = lh.readUInt16LE(26), xlen = lh.readUInt16LE(28);
  let name;
  try {
    name = src.readAt(e.offset + 30, nlen);
  } catch {
    return 'its name runs past the end of the zip';
  }
  if (!name.equals(e.rawName)) return `it names ${JSON.stringify(name.toString('latin1'))}`;
  if (method !== e.method) return `compression method ${method}, not ${e.method}`;
  if ((flags & 1) !== (e.flags & 1)) return 'it disagrees on encryption';
  if (flags & 8) return null;
  let crc = lh.readUInt32LE(14), csize = lh.readUInt32LE(18), usize = lh.readUInt32LE(22);
  if (csize === 0xffffffff || usize === 0xffffffff) {
    // ZIP64: the local extra field holds the uncompressed then the compressed size
    let extra;
    try {
      extra = src.readAt(e.offset + 30 + nlen, xlen);
    } catch {
      return 'its extra field runs past the end of the zip';
    }
    for (let j = 0; j + 4 <= extra.length;) {
      const id = extra.readUInt16LE(j), len = extra.readUInt16LE(j + 2);
      if (id === 0x0001 && len >= 16 && j + 20 <= extra.length) { usize = num64(extra, j + 4); csize = num64(extra, j + 12); }
      j += 4 + len;
    }
  }
  if (crc !== e.crc) return 'another CRC-32';
  if (csize !== e.csize) return `compressed size ${csize}, not ${e.csize}`;
  if (usize !== e.usize) return `size ${usize}, not ${e.usize}`;
  return null;
}

function num64(buf, at) {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Refusal('archive:unreadable', 'not a readable zip: a ZIP64 size beyond 2^53');
  return Number(v);
}

// Why a zip entry name is unsafe (spec section 9), or null.
export function unsafeReason(name) {
  if (name === '') return 'is empty';
  if (name.includes('\0')) return 'contains a NUL character';
  if (/[\x01-\x1f\x7f]/.test(name)) return 'contains a control character';
  if (name.includes('\\')) return 'contains a backslash';
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return 'is absolute';
  const segs = name.replace(/\/$/, '').split('/');
  if (segs.some((s) => s === '.' || s === '..')) return "contains a '.' or '..' segment";
  if (segs.some((s) => s === '')) return 'contains an empty segment';
  return null;
}

let CRC_TABLE = null;
function crc32(buf, prev) {
  if (typeof zlib.crc32 === 'function') return zlib.crc32(buf, prev);
  if (!CRC_TABLE) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  let c = (prev ^ 0xffffffff) >>> 0;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export { Refusal };
