// RFC 8785 JSON Canonicalization Scheme (spec/README.md, section 7 "Digests").
//
// JavaScript already has the two hard parts built in: Number.prototype.toString
// is the number serialisation RFC 8785 prescribes, and JSON.stringify of a
// string writes exactly RFC 8785's escapes (\" \\ \b \t \n \f \r, other control
// characters as \u00xx with lower-case digits, everything else as itself; a
// lone surrogate cannot occur here, strict-json.mjs refuses it). Member names
// are sorted by UTF-16 code units, which is what Array.prototype.sort does
// with no comparator. The input comes from strict-json.mjs, so its nesting is
// at most 64 levels and the recursion is bounded.

import { createHash } from 'node:crypto';

export function canonicalize(value) {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new RangeError('a non-finite number has no canonical form (RFC 8785 requires I-JSON)');
      return Object.is(value, -0) ? '0' : String(value);
    case 'string':
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return '[' + value.map(canonicalize).join(',') + ']';
      const keys = Object.keys(value).sort();
      return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonicalize(value[k])).join(',') + '}';
    }
    default:
      throw new TypeError(`a ${typeof value} is not a JSON value`);
  }
}

// document_sha256: SHA-256 (hex) of the canonical UTF-8 form of the document
// without its top-level member "document_sha256" (deeper members of that name stay).
export function documentDigest(doc) {
  const rest = {};
  for (const k of Object.keys(doc)) {
    if (k !== 'document_sha256') Object.defineProperty(rest, k, { value: doc[k], enumerable: true });
  }
  return createHash('sha256').update(Buffer.from(canonicalize(rest), 'utf8')).digest('hex');
}
