// Strict reading of bundle.json (spec/README.md, section 2 "bundle.json: encoding").
//
// Why a hand-written parser: JavaScript's JSON.parse accepts what the spec
// forbids and hides it afterwards. It silently keeps the last of duplicate
// member names, decodes "\ud800" into a lone surrogate, turns 1e400 into
// Infinity and has no depth limit of its own (a deep document ends in a
// RangeError from the engine's stack). None of that can be seen in the value
// it returns, so the checks have to be made on the text. This module is a
// small recursive-descent parser of RFC 8259 JSON that reports each of the
// spec's `json:*` problems with a location, and builds the value as it goes.
//
// Rules (spec section 2 and 8):
//   - UTF-8 without a byte-order mark               json:bom, json:not-utf8
//   - one JSON value, an object                     json:invalid, json:not-object
//   - no duplicate member names in any object       json:duplicate-key
//   - no NaN / Infinity / -Infinity                 json:non-finite
//   - number literals within the range of a double  json:number-range
//     (an underflowing literal such as 1e-400 is read as the nearest double, 0
//     or a subnormal: not an error)
//   - no \u escapes of unpaired UTF-16 surrogates   json:lone-surrogate
//   - at most 16 MiB                                json:too-large (checked by the caller on the bytes)
//   - nesting depth at most 64, the top-level value being depth 1, arrays and
//     objects both counting                         json:too-deep

export const MAX_DEPTH = 64;
export const MAX_BYTES = 16 * 1024 * 1024;
const MAX_PROBLEMS = 100;

export class JsonProblem {
  constructor(code, message, pointer) {
    this.code = code;
    this.message = message;
    this.pointer = pointer; // RFC 6901 pointer inside bundle.json, or null for a text position
  }
}

class Fatal extends Error {}

export function escapePointerToken(token) {
  return String(token).replace(/~/g, '~0').replace(/\//g, '~1');
}

// Offset of the first byte that is not well-formed UTF-8 (RFC 3629: no overlong
// forms, no surrogates U+D800..U+DFFF, nothing above U+10FFFF), or -1.
export function firstInvalidUtf8(bytes) {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i];
    if (b < 0x80) { i += 1; continue; }
    let need, min;
    if (b >= 0xc2 && b <= 0xdf) { need = 1; min = 0x80; }
    else if (b >= 0xe0 && b <= 0xef) { need = 2; min = 0x800; }
    else if (b >= 0xf0 && b <= 0xf4) { need = 3; min = 0x10000; }
    else return i;
    if (i + need >= n) return i;
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

function setMember(obj, key, value) {
  // defineProperty, not obj[key] = value: a member named "__proto__" must stay
  // an ordinary member instead of replacing the object's prototype.
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

class Parser {
  constructor(text) {
    this.s = text;
    this.i = 0;
    this.problems = []; // non-fatal problems: parsing goes on to report them all
    this.path = [];
  }

  pointer(extra) {
    const parts = extra === undefined ? this.path : [...this.path, extra];
    return parts.length ? '/' + parts.map(escapePointerToken).join('/') : '';
  }

  position(i = this.i) {
    let line = 1, col = 1;
    for (let k = 0; k < i && k < this.s.length; k++) {
      if (this.s.charCodeAt(k) === 10) { line++; col = 1; } else col++;
    }
    return `line ${line}, column ${col}`;
  }

  // A problem after which parsing goes on (so that all of them are reported), up to a cap:
  // a document of a million duplicate keys gets 100 lines, not a million.
  soft(problem) {
    this.problems.push(problem);
    if (this.problems.length >= MAX_PROBLEMS) {
      this.problems.push(new JsonProblem(problem.code, `and more problems: reading stopped after ${MAX_PROBLEMS}`, null));
      throw new Fatal('too many problems');
    }
  }

  fail(code, message) {
    this.problems.push(new JsonProblem(code, message, code === 'json:too-deep' ? this.pointer() : null));
    throw new Fatal(message);
  }

  syntax(what) {
    const c = this.i < this.s.length ? JSON.stringify(this.s[this.i]) : 'the end of the text';
    this.fail('json:invalid', `${what} expected at ${this.position()}, found ${c}`);
  }

  ws() {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.i++;
      else break;
    }
  }

  value(depth) {
    this.ws();
    const s = this.s;
    const c = s[this.i];
    if (c === '{') return this.object(depth + 1);
    if (c === '[') return this.array(depth + 1);
    if (c === '"') return this.string();
    if (c === 't' && s.startsWith('true', this.i)) { this.i += 4; return true; }
    if (c === 'f' && s.startsWith('false', this.i)) { this.i += 5; return false; }
    if (c === 'n' && s.startsWith('null', this.i)) { this.i += 4; return null; }
    for (const word of ['NaN', 'Infinity', '-Infinity', '+Infinity']) {
      if (s.startsWith(word, this.i)) {
        this.soft(new JsonProblem('json:non-finite', `${word} is not JSON (numbers must be finite)`, this.pointer()));
        this.i += word.length;
        return NaN;
      }
    }
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    this.syntax('a value');
  }

  number() {
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(this.s);
    if (!m) this.syntax('a number');
    this.i += m[0].length;
    const v = Number(m[0]);
    if (!Number.isFinite(v)) {
      const shown = m[0].length > 40 ? m[0].slice(0, 20) + '...' + ` (${m[0].length} characters)` : m[0];
      this.soft(new JsonProblem('json:number-range', `number ${shown} is outside the range of an IEEE 754 double`, this.pointer()));
    }
    return v;
  }

  string() {
    const s = this.s;
    this.i++; // opening quote
    let out = '';
    let start = this.i;
    for (;;) {
      if (this.i >= s.length) this.fail('json:invalid', `unterminated string at ${this.position(start - 1)}`);
      const c = s.charCodeAt(this.i);
      if (c === 0x22) { out += s.slice(start, this.i); this.i++; return out; }
      if (c < 0x20) this.fail('json:invalid', `unescaped control character U+${c.toString(16).padStart(4, '0')} in a string at ${this.position()}`);
      if (c !== 0x5c) { this.i++; continue; }
      out += s.slice(start, this.i);
      const e = s[this.i + 1];
      const simple = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' }[e];
      if (simple !== undefined) { out += simple; this.i += 2; start = this.i; continue; }
      if (e !== 'u') { this.i++; this.syntax('an escape (\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)'); }
      const unit = this.hex4(this.i + 2);
      this.i += 6;
      if (unit >= 0xd800 && unit <= 0xdbff) {
        // a high surrogate must be followed at once by an escaped low surrogate
        const next = s[this.i] === '\\' && s[this.i + 1] === 'u' ? this.hex4(this.i + 2) : -1;
        if (next >= 0xdc00 && next <= 0xdfff) {
          out += String.fromCharCode(unit, next);
          this.i += 6;
        } else {
          this.loneSurrogate(unit);
        }
      } else if (unit >= 0xdc00 && unit <= 0xdfff) {
        this.loneSurrogate(unit);
      } else {
        out += String.fromCharCode(unit);
      }
      start = this.i;
    }
  }

  loneSurrogate(unit) {
    this.soft(new JsonProblem('json:lone-surrogate',
      `\\u${unit.toString(16).padStart(4, '0')} is an unpaired UTF-16 surrogate, not a character`, this.pointer()));
  }

  hex4(at) {
    const h = this.s.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) { this.i = at; this.syntax('four hexadecimal digits after \\u'); }
    return parseInt(h, 16);
  }

  object(depth) {
    if (depth > MAX_DEPTH) this.fail('json:too-deep', `nested deeper than ${MAX_DEPTH} levels (objects and arrays count; the top level is level 1)`);
    this.i++;
    const obj = {};
    const seen = new Set();
    this.ws();
    if (this.s[this.i] === '}') { this.i++; return obj; }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.syntax('a member name (a string)');
      const key = this.string();
      this.ws();
      if (this.s[this.i] !== ':') this.syntax("':'");
      this.i++;
      this.path.push(key);
      const v = this.value(depth);
      if (seen.has(key)) {
        this.soft(new JsonProblem('json:duplicate-key',
          `member name ${JSON.stringify(key)} appears more than once in the same object`, this.pointer()));
      } else {
        seen.add(key);
        setMember(obj, key, v);
      }
      this.path.pop();
      this.ws();
      const c = this.s[this.i];
      if (c === ',') { this.i++; continue; }
      if (c === '}') { this.i++; return obj; }
      this.syntax("',' or '}'");
    }
  }

  array(depth) {
    if (depth > MAX_DEPTH) this.fail('json:too-deep', `nested deeper than ${MAX_DEPTH} levels (objects and arrays count; the top level is level 1)`);
    this.i++;
    const arr = [];
    this.ws();
    if (this.s[this.i] === ']') { this.i++; return arr; }
    for (;;) {
      this.path.push(arr.length);
      arr.push(this.value(depth));
      this.path.pop();
      this.ws();
      const c = this.s[this.i];
      if (c === ',') { this.i++; continue; }
      if (c === ']') { this.i++; return arr; }
      this.syntax("',' or ']'");
    }
  }
}

// Parse the bytes of bundle.json. Returns {value, problems}; value is undefined
// whenever problems is not empty (a document with any json:* problem is not read).
export function parseStrict(bytes) {
  if (bytes.length > MAX_BYTES) {
    return { problems: [new JsonProblem('json:too-large', `bundle.json is larger than ${MAX_BYTES} bytes (16 MiB)`, null)] };
  }
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    return { problems: [new JsonProblem('json:bom', 'bundle.json starts with a UTF-8 byte-order mark', null)] };
  }
  if ((bytes[0] === 0xfe && bytes[1] === 0xff) || (bytes[0] === 0xff && bytes[1] === 0xfe)) {
    return { problems: [new JsonProblem('json:not-utf8', 'bundle.json starts with a UTF-16 byte-order mark: it must be UTF-8', null)] };
  }
  const bad = firstInvalidUtf8(bytes);
  if (bad >= 0) {
    return { problems: [new JsonProblem('json:not-utf8', `bundle.json is not valid UTF-8 (byte offset ${bad})`, null)] };
  }
  const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  const p = new Parser(text);
  let value;
  try {
    value = p.value(0);
    p.ws();
    if (p.i < text.length) p.syntax('the end of the document');
  } catch (e) {
    if (!(e instanceof Fatal)) throw e;
    return { problems: p.problems };
  }
  if (p.problems.length) return { problems: p.problems };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const what = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
    return { problems: [new JsonProblem('json:not-object', `the document must be a JSON object, it is ${what}`, '')] };
  }
  return { value, problems: [] };
}
