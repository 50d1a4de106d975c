// Independent verifier for the medledger protocol, written from docs/protocol.md and
// test-vectors/README.md alone (no @medledger/* import, no reading of packages/).
// Dependencies: node:crypto (sha256, sha512-based ed25519 via OpenSSL) and cborg (encoding only;
// decoding is our own strict canonical decoder, section 4).

import { createHash, createPrivateKey, createPublicKey, verify as nodeVerify } from "node:crypto";
import { encode as cborgEncode } from "cborg";

// ---------------------------------------------------------------------------------------------
// errors and small helpers

export class ProtocolError extends Error {
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}

function fail(code, message) {
  throw new ProtocolError(code, message);
}

const te = new TextEncoder();
const utf8 = (s) => te.encode(s);
const utf8Len = (s) => te.encode(s).length;

export function toHex(bytes) {
  return Buffer.from(bytes).toString("hex");
}

/** Strict lowercase hex (section 1 / 7); `len` in bytes if given. */
export function fromHex(hex, len, field = "hex") {
  if (typeof hex !== "string" || hex.length % 2 !== 0 || !/^[0-9a-f]*$/.test(hex)) {
    fail("FIELD_INVALID", `${field}: not lowercase hex`);
  }
  if (len !== undefined && hex.length !== len * 2) fail("FIELD_INVALID", `${field}: not ${len} bytes`);
  return new Uint8Array(Buffer.from(hex, "hex"));
}

export function sha256(...parts) {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

function concat(...parts) {
  return new Uint8Array(Buffer.concat(parts.map((p) => Buffer.from(p))));
}

function bytesEqual(a, b) {
  return a.length === b.length && Buffer.from(a).equals(Buffer.from(b));
}

function u64be(n) {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return new Uint8Array(b);
}

function isPlainMap(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array);
}

const isUint = (v) => Number.isSafeInteger(v) && v >= 0;
const has = (o, k) => Object.hasOwn(o, k);

/** Deep equality ignoring object key order; Uint8Array compared by bytes. */
export function deepEqual(a, b) {
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && bytesEqual(a, b);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]))
    );
  }
  if (isPlainMap(a) && isPlainMap(b)) {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return deepEqual(ka, kb) && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return a === b;
}

// ---------------------------------------------------------------------------------------------
// section 4: canonical CBOR. Our own strict decoder that checks the rules directly, then (as a
// second, redundant check) re-encodes with cborg and compares the bytes.

const MAX_SAFE = Number.MAX_SAFE_INTEGER; // 2^53 - 1
const MAX_DEPTH = 16;
const utf8Fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function encodeCbor(value) {
  return cborgEncode(value);
}

function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/**
 * Decode exactly one canonical CBOR value of the model (section 4). `maxSize` is checked before
 * decoding (ENCODING_TOO_LARGE); every other failure is ENCODING_INVALID.
 */
export function decodeCanonical(bytes, maxSize) {
  if (maxSize !== undefined && bytes.length > maxSize) {
    fail("ENCODING_TOO_LARGE", `${bytes.length} bytes > ${maxSize}`);
  }
  if (bytes.length === 0) fail("ENCODING_INVALID", "empty input");
  let pos = 0;
  const bad = (why) => fail("ENCODING_INVALID", `${why} at byte ${pos}`);
  const need = (n) => {
    if (pos + n > bytes.length) bad("truncated");
  };
  const readHead = () => {
    need(1);
    const ib = bytes[pos++];
    const major = ib >> 5;
    const ai = ib & 31;
    if (major === 7) return { major, ai, arg: ai };
    let arg;
    if (ai < 24) arg = ai;
    else if (ai === 24) {
      need(1);
      arg = bytes[pos++];
      if (arg < 24) bad("non-shortest argument");
    } else if (ai === 25) {
      need(2);
      arg = (bytes[pos] << 8) | bytes[pos + 1];
      pos += 2;
      if (arg < 0x100) bad("non-shortest argument");
    } else if (ai === 26) {
      need(4);
      arg = bytes[pos] * 2 ** 24 + ((bytes[pos + 1] << 16) | (bytes[pos + 2] << 8) | bytes[pos + 3]);
      pos += 4;
      if (arg < 0x10000) bad("non-shortest argument");
    } else if (ai === 27) {
      need(8);
      const big = Buffer.from(bytes.subarray(pos, pos + 8)).readBigUInt64BE();
      pos += 8;
      if (big < 0x100000000n) bad("non-shortest argument");
      if (big > BigInt(MAX_SAFE)) bad("integer or length above 2^53 - 1");
      arg = Number(big);
    } else if (ai === 31) bad("indefinite length");
    else bad("reserved additional information");
    return { major, ai, arg };
  };
  const readItem = (depth) => {
    const start = pos;
    const { major, ai, arg } = readHead();
    switch (major) {
      case 0:
        return arg;
      case 1:
        return bad("negative integer");
      case 2:
        need(arg);
        pos += arg;
        return new Uint8Array(bytes.subarray(pos - arg, pos));
      case 3: {
        need(arg);
        pos += arg;
        try {
          return utf8Fatal.decode(bytes.subarray(pos - arg, pos));
        } catch {
          return bad("invalid UTF-8");
        }
      }
      case 4: {
        if (depth >= MAX_DEPTH) bad("nesting too deep");
        const out = [];
        for (let i = 0; i < arg; i++) out.push(readItem(depth + 1));
        return out;
      }
      case 5: {
        if (depth >= MAX_DEPTH) bad("nesting too deep");
        const out = {};
        let prevKey = null;
        for (let i = 0; i < arg; i++) {
          const keyStart = pos;
          if (pos < bytes.length && bytes[pos] >> 5 !== 3) bad("map key is not a text string");
          const key = readItem(depth + 1);
          const keyBytes = bytes.subarray(keyStart, pos);
          if (prevKey !== null) {
            const c = compareBytes(prevKey, keyBytes);
            if (c === 0) bad("duplicate map key");
            if (c > 0) bad("map keys not sorted");
          }
          prevKey = keyBytes;
          if (key === "__proto__") bad("map key __proto__");
          out[key] = readItem(depth + 1);
        }
        return out;
      }
      case 6:
        return bad("tag");
      default:
        if (ai === 20) return false;
        if (ai === 21) return true;
        if (ai === 22) return null;
        pos = start;
        return bad(`simple value or float 0x${bytes[start].toString(16)}`);
    }
  };
  const value = readItem(0);
  if (pos !== bytes.length) bad("trailing bytes");
  // redundant second check: the canonical re-encoding is the input
  if (!bytesEqual(encodeCbor(value), bytes)) fail("ENCODING_INVALID", "re-encoding differs");
  return value;
}

// ---------------------------------------------------------------------------------------------
// section 2: did:key

const B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const SMALL_ORDER = new Set([
  "0100000000000000000000000000000000000000000000000000000000000000",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0000000000000000000000000000000000000000000000000000000000000080",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
]);

export function base58Encode(bytes) {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let out = "";
  while (n > 0n) {
    out = B58[Number(n % 58n)] + out;
    n /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    out = `1${out}`;
  }
  return out;
}

export function base58Decode(s) {
  let zeros = 0;
  while (zeros < s.length && s[zeros] === "1") zeros++;
  let n = 0n;
  for (const c of s.slice(zeros)) {
    const d = B58.indexOf(c);
    if (d < 0) return null;
    n = n * 58n + BigInt(d);
  }
  const rest = [];
  while (n > 0n) {
    rest.unshift(Number(n & 0xffn));
    n >>= 8n;
  }
  return new Uint8Array([...new Array(zeros).fill(0), ...rest]);
}

function leInt(bytes) {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  return n;
}

/** Section 2 step 4. */
export function isCanonicalPoint(enc) {
  const y = leInt(enc) & ((1n << 255n) - 1n);
  const sign = enc[31] >> 7;
  if (y >= P) return false;
  if ((y === 1n || y === P - 1n) && sign === 1) return false;
  return true;
}

export function isSmallOrder(enc) {
  return SMALL_ORDER.has(toHex(enc));
}

function modPow(b, e, m) {
  let r = 1n;
  b %= m;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
}

/** RFC 8032 5.1.3: x^2 = (y^2 - 1) / (d y^2 + 1) has a root (y assumed < p). */
export function decodesToPoint(enc) {
  const y = leInt(enc) & ((1n << 255n) - 1n);
  if (y >= P) return false;
  const d = (((-121665n * modPow(121666n, P - 2n, P)) % P) + P) % P;
  const u = (((y * y - 1n) % P) + P) % P;
  const v = (d * y * y + 1n) % P;
  const w = (u * modPow(v, P - 2n, P)) % P;
  if (w === 0n) return (enc[31] & 0x80) === 0; // x = 0 needs a clear sign bit
  return modPow(w, (P - 1n) / 2n, P) === 1n;
}

export function didFromPublicKey(pub) {
  return `did:key:z${base58Encode(concat([0xed, 0x01], pub))}`;
}

/** The full check of section 2. Returns the 32-byte key, or throws DID_INVALID. */
export function decodeDid(did, field = "did") {
  const no = (why) => fail("DID_INVALID", `${field}: ${why}`);
  if (typeof did !== "string") no("not a string");
  if (did.length > 64) no("longer than 64 characters");
  if (!did.startsWith("did:key:z")) no("does not start with did:key:z");
  const bytes = base58Decode(did.slice("did:key:z".length));
  if (bytes === null) no("character outside the base58btc alphabet");
  if (bytes.length !== 34) no(`decodes to ${bytes.length} bytes, not 34`);
  if (bytes[0] !== 0xed || bytes[1] !== 0x01) no("multicodec is not 0xed 0x01");
  const A = bytes.subarray(2);
  if (!isCanonicalPoint(A)) no("non-canonical point encoding");
  if (isSmallOrder(A)) no("small-order point");
  return new Uint8Array(A);
}

// ---------------------------------------------------------------------------------------------
// section 3: ed25519 under the strict policy

const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

export function publicKeyFromSeed(seed) {
  const priv = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
  const spki = createPublicKey(priv).export({ format: "der", type: "spki" });
  return new Uint8Array(spki.subarray(SPKI_PREFIX.length));
}

/** Returns { ok, rule } where rule names the deciding step (section 3 numbering). */
export function verifyEd25519(A, M, sig) {
  if (A.length !== 32 || sig.length !== 64) return { ok: false, rule: "lengths" };
  const R = sig.subarray(0, 32);
  const S = sig.subarray(32, 64);
  if (leInt(S) >= L) return { ok: false, rule: "S < L" };
  if (!isCanonicalPoint(A)) return { ok: false, rule: "canonical A" };
  if (!isCanonicalPoint(R)) return { ok: false, rule: "canonical R" };
  if (isSmallOrder(A)) return { ok: false, rule: "A not of small order" };
  if (isSmallOrder(R)) return { ok: false, rule: "R not of small order" };
  if (!decodesToPoint(A)) return { ok: false, rule: "A decodes to a curve point" };
  let ok = false;
  try {
    const key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, A]), format: "der", type: "spki" });
    ok = nodeVerify(null, M, key, sig);
  } catch {
    ok = false;
  }
  return ok ? { ok: true, rule: "accepted" } : { ok: false, rule: "equation" };
}

// ---------------------------------------------------------------------------------------------
// section 8: Merkle trees

export const leafHash = (d) => sha256(Uint8Array.of(0), d);
export const nodeHash = (l, r) => sha256(Uint8Array.of(1), l, r);

function splitPoint(n) {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

export function merkleRoot(leaves) {
  if (leaves.length === 0) return sha256(new Uint8Array(0));
  if (leaves.length === 1) return leafHash(leaves[0]);
  const k = splitPoint(leaves.length);
  return nodeHash(merkleRoot(leaves.slice(0, k)), merkleRoot(leaves.slice(k)));
}

export function merklePath(m, leaves) {
  if (leaves.length <= 1) return [];
  const k = splitPoint(leaves.length);
  if (m < k) return [...merklePath(m, leaves.slice(0, k)), merkleRoot(leaves.slice(k))];
  return [...merklePath(m - k, leaves.slice(k)), merkleRoot(leaves.slice(0, k))];
}

/** The JSON proof form of section 8. */
export function readProofJson(json) {
  if (!isPlainMap(json)) fail("FIELD_INVALID", "proof is not an object");
  for (const k of Object.keys(json)) {
    if (!["index", "size", "path"].includes(k)) fail("FIELD_UNKNOWN", `proof.${k}`);
  }
  for (const k of ["index", "size", "path"]) if (!has(json, k)) fail("FIELD_MISSING", `proof.${k}`);
  if (!isUint(json.index)) fail("FIELD_INVALID", "proof.index");
  if (!isUint(json.size)) fail("FIELD_INVALID", "proof.size");
  if (!Array.isArray(json.path)) fail("FIELD_INVALID", "proof.path");
  if (json.path.length > 32) fail("FIELD_TOO_LARGE", "proof.path has more than 32 entries");
  const path = json.path.map((h, i) => fromHex(h, 32, `proof.path[${i}]`));
  return { index: json.index, size: json.size, path };
}

/** RFC 9162 2.1.3.2 as written in section 8. Numbers, not 32-bit shifts (sizes reach 2^32). */
export function verifyInclusion(leaf, root, proof) {
  const bad = (why) => fail("MERKLE_PROOF_INVALID", why);
  const { index, size, path } = proof;
  if (!(size >= 1 && size <= 2 ** 32)) bad("size out of range");
  if (!(index >= 0 && index < size)) bad("index not below size");
  if (path.length > 32) bad("path too long");
  let fn = index;
  let sn = size - 1;
  let r = leafHash(leaf);
  const half = (x) => Math.floor(x / 2);
  for (const p of path) {
    if (sn === 0) bad("proof longer than the tree is deep");
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) bad("proof shorter than the tree is deep");
  if (!bytesEqual(r, root)) bad("root mismatch");
}

// ---------------------------------------------------------------------------------------------
// section 6: transaction kinds and body field types

export const CATEGORIES = [
  "allergies",
  "medications",
  "problems",
  "labs",
  "imaging",
  "immunizations",
  "procedures",
  "notes",
  "demographics",
  "mental-health",
  "substance-use",
  "sexual-health",
  "genetics",
];
export const SENSITIVE = ["mental-health", "substance-use", "sexual-health", "genetics"];
export const DEFAULT_SCOPE = CATEGORIES.filter((c) => !SENSITIVE.includes(c));
export const PURPOSES = ["TREAT", "ETREAT", "HPAYMT", "HOPERAT", "HRESCH", "PUBHLTH"];

const T = {
  did: (v, f) => {
    decodeDid(v, f);
  },
  hash: (v, f) => {
    if (!(v instanceof Uint8Array) || v.length !== 32) fail("FIELD_INVALID", `${f}: not 32 bytes`);
  },
  text: (v, f) => {
    if (typeof v !== "string" || v.length < 1) fail("FIELD_INVALID", `${f}: not a non-empty text`);
    if (utf8Len(v) > 512) fail("FIELD_TOO_LARGE", `${f}: more than 512 bytes`);
  },
  recordId: (v, f) => {
    if (typeof v !== "string" || !/^[A-Za-z0-9._:-]+$/.test(v))
      fail("FIELD_INVALID", `${f}: not a record id`);
    if (utf8Len(v) > 128) fail("FIELD_TOO_LARGE", `${f}: more than 128 bytes`);
  },
  recordFormat: (v, f) => {
    if (typeof v !== "string" || !/^[\x20-\x7e]+$/.test(v))
      fail("FIELD_INVALID", `${f}: not printable ASCII`);
    if (utf8Len(v) > 64) fail("FIELD_TOO_LARGE", `${f}: more than 64 bytes`);
  },
  category: (v, f) => {
    if (!CATEGORIES.includes(v)) fail("FIELD_INVALID", `${f}: not a category`);
  },
  purpose: (v, f) => {
    if (!PURPOSES.includes(v)) fail("FIELD_INVALID", `${f}: not a purpose`);
  },
  time: (v, f) => {
    if (!isUint(v)) fail("FIELD_INVALID", `${f}: not an unsigned integer`);
  },
  bool: (v, f) => {
    if (typeof v !== "boolean") fail("FIELD_INVALID", `${f}: not a bool`);
  },
  uint: (a, b) => (v, f) => {
    if (!isUint(v) || v < a || v > b) fail("FIELD_INVALID", `${f}: not in ${a}..${b}`);
  },
  oneOf: (values) => (v, f) => {
    if (!values.includes(v)) fail("FIELD_INVALID", `${f}: not one of ${values.join(", ")}`);
  },
  list: (item, a, b) => (v, f) => {
    if (!Array.isArray(v)) fail("FIELD_INVALID", `${f}: not an array`);
    if (v.length > b) fail("FIELD_TOO_LARGE", `${f}: more than ${b} items`);
    if (v.length < a) fail("FIELD_INVALID", `${f}: fewer than ${a} items`);
    const seen = [];
    v.forEach((x, i) => {
      item(x, `${f}[${i}]`);
      if (seen.some((y) => deepEqual(x, y))) fail("FIELD_INVALID", `${f}[${i}]: listed twice`);
      seen.push(x);
    });
  },
};

const FI = (cond, why) => {
  if (!cond) fail("FIELD_INVALID", why);
};

// [key, type, optional]
export const KINDS = {
  "member.propose": {
    fields: [
      ["action", T.oneOf(["add", "remove", "update"])],
      ["member", T.did],
      ["nodes", T.list(T.did, 0, 8)],
      ["deadline", T.time],
    ],
    rules: (b) => {
      if (b.action === "remove") FI(b.nodes.length === 0, "remove with nodes");
      else FI(b.nodes.length >= 1, `${b.action} without nodes`);
      FI(!b.nodes.includes(b.member), "nodes contains member");
    },
  },
  "member.vote": {
    fields: [
      ["proposal", T.hash],
      ["approve", T.bool],
    ],
  },
  "provider.register": {
    fields: [
      ["provider", T.did],
      ["licenseHash", T.hash],
    ],
  },
  "provider.suspend": {
    fields: [
      ["provider", T.did],
      ["reason", T.text],
    ],
  },
  "patient.register": { fields: [] },
  "patient.set-guardians": {
    fields: [
      ["guardians", T.list(T.did, 1, 7)],
      ["threshold", T.uint(1, 7)],
    ],
    rules: (b) => FI(b.threshold <= b.guardians.length, "threshold above the number of guardians"),
  },
  "patient.set-emergency-scope": { fields: [["categories", T.list(T.category, 0, 13)]] },
  "key.rotate": { fields: [["newKey", T.did]] },
  "key.recover": {
    fields: [
      ["patient", T.did],
      ["newKey", T.did],
    ],
    rules: (b) => FI(b.newKey !== b.patient, "newKey equals patient"),
  },
  "record.anchor": {
    fields: [
      ["record", T.recordId],
      ["patient", T.did],
      ["category", T.category],
      ["format", T.recordFormat],
      ["contentHash", T.hash],
    ],
  },
  "consent.grant": {
    fields: [
      ["grantee", T.did],
      ["categories", T.list(T.category, 0, 13)],
      ["records", T.list(T.recordId, 0, 64)],
      ["purposes", T.list(T.purpose, 1, 6)],
      ["notBefore", T.time],
      ["expires", T.time],
    ],
    rules: (b) => {
      FI(b.categories.length + b.records.length >= 1, "no category and no record");
      FI(b.notBefore < b.expires, "notBefore not before expires");
      FI(b.expires - b.notBefore <= 315360000000, "consent window above ten years");
    },
  },
  "consent.revoke": { fields: [["consent", T.hash]] },
  "access.log": {
    fields: [
      ["patient", T.did],
      ["category", T.category],
      ["purpose", T.purpose],
      ["record", T.recordId, true],
    ],
  },
  "emergency.declare": {
    fields: [
      ["patient", T.did],
      ["reason", T.text],
      ["durationMs", T.uint(1, 259200000), true],
    ],
  },
  "record.erase": { fields: [["record", T.recordId]] },
};

/** Section 6: unknown keys first, then fields in table order, then cross-field rules. */
export function parseBody(kind, body) {
  const spec = KINDS[kind];
  if (!spec) fail("KIND_UNKNOWN", String(kind));
  if (!isPlainMap(body)) fail("FIELD_INVALID", "body is not a map");
  const known = spec.fields.map((f) => f[0]);
  for (const k of Object.keys(body)) if (!known.includes(k)) fail("FIELD_UNKNOWN", `body.${k}`);
  for (const [k, check, optional] of spec.fields) {
    if (!has(body, k)) {
      if (optional) continue;
      fail("FIELD_MISSING", `body.${k}`);
    }
    check(body[k], `body.${k}`);
  }
  spec.rules?.(body);
  return body;
}

// ---------------------------------------------------------------------------------------------
// section 5: transactions

const TX_KEYS = ["v", "chain", "kind", "signer", "nonce", "expires", "body"];
const CHAIN_RE = /^[a-z0-9-]{1,64}$/;
export const TX_PREFIX = utf8("medledger/tx/v1\n");
export const BLOCK_PREFIX = utf8("medledger/block/v1\n");
export const APP_PREFIX = utf8("medledger/app/v1\n");
const MAX_TX = 8192;
const MAX_BLOCK = 8388608;

function checkChainId(v, f) {
  if (typeof v !== "string") fail("FIELD_INVALID", `${f}: not text`);
  if (utf8Len(v) > 64) fail("FIELD_TOO_LARGE", `${f}: more than 64 bytes`);
  if (!CHAIN_RE.test(v)) fail("FIELD_INVALID", `${f}: not 1-64 bytes of [a-z0-9-]`);
}

/** Section 5.1, in the order the section gives. */
export function parseUnsignedTx(tx) {
  if (!isPlainMap(tx)) fail("FIELD_INVALID", "tx is not a map");
  for (const k of TX_KEYS) if (!has(tx, k)) fail("FIELD_MISSING", `tx.${k}`);
  for (const k of Object.keys(tx)) if (!TX_KEYS.includes(k)) fail("FIELD_UNKNOWN", `tx.${k}`);
  if (tx.v !== 1) fail("FIELD_INVALID", "tx.v is not 1");
  if (typeof tx.kind !== "string" || !has(KINDS, tx.kind)) fail("KIND_UNKNOWN", `tx.kind ${tx.kind}`);
  checkChainId(tx.chain, "tx.chain");
  decodeDid(tx.signer, "tx.signer");
  if (!isUint(tx.nonce)) fail("FIELD_INVALID", "tx.nonce");
  if (!isUint(tx.expires)) fail("FIELD_INVALID", "tx.expires");
  parseBody(tx.kind, tx.body);
  const unsignedCbor = encodeCbor(tx);
  if (unsignedCbor.length > MAX_TX) fail("ENCODING_TOO_LARGE", "unsigned transaction above 8192 bytes");
  return unsignedCbor;
}

/** Section 5.4 on a decoded value (map {tx, sigs}). */
export function parseSignedTxValue(value) {
  if (!isPlainMap(value)) fail("FIELD_INVALID", "signed transaction is not a map");
  for (const k of ["tx", "sigs"]) if (!has(value, k)) fail("FIELD_MISSING", k);
  for (const k of Object.keys(value)) if (k !== "tx" && k !== "sigs") fail("FIELD_UNKNOWN", k);
  const unsignedCbor = parseUnsignedTx(value.tx);
  const { sigs } = value;
  if (!Array.isArray(sigs)) fail("FIELD_INVALID", "sigs is not an array");
  if (sigs.length === 0) fail("FIELD_MISSING", "sigs is empty");
  if (sigs.length > 8) fail("FIELD_TOO_LARGE", "more than 8 signatures");
  sigs.forEach((s, i) => {
    if (!isPlainMap(s)) fail("FIELD_INVALID", `sigs[${i}] is not a map`);
    for (const k of ["signer", "key", "sig"]) if (!has(s, k)) fail("FIELD_MISSING", `sigs[${i}].${k}`);
    for (const k of Object.keys(s)) {
      if (!["signer", "key", "sig"].includes(k)) fail("FIELD_UNKNOWN", `sigs[${i}].${k}`);
    }
    decodeDid(s.signer, `sigs[${i}].signer`);
    decodeDid(s.key, `sigs[${i}].key`);
    if (!(s.sig instanceof Uint8Array) || s.sig.length !== 64) fail("FIELD_INVALID", `sigs[${i}].sig`);
  });
  const id = sha256(unsignedCbor);
  return {
    tx: value.tx,
    sigs,
    unsignedCbor,
    id,
    payload: concat(TX_PREFIX, id),
    signedCbor: encodeCbor(value),
  };
}

/** Stage `decode`: size, canonical CBOR, shape (sections 4, 5.1, 5.4, 6). */
export function decodeSignedTx(bytes) {
  const value = decodeCanonical(bytes, MAX_TX);
  const stx = parseSignedTxValue(value);
  stx.digest = sha256(bytes);
  return stx;
}

/** Stage `verify`: section 5.5. */
export function verifyTxSignatures(stx) {
  const { tx, sigs, payload } = stx;
  const no = (why) => fail("SIGNATURE_INVALID", why);
  if (sigs.length < 1 || sigs.length > 8) no("1 to 8 signatures");
  if (sigs[0].signer !== tx.signer) no("sigs[0].signer is not tx.signer");
  if (new Set(sigs.map((s) => s.signer)).size !== sigs.length) no("two signatures by one signer");
  if (new Set(sigs.map((s) => s.key)).size !== sigs.length) no("two signatures with one key");
  sigs.forEach((s, i) => {
    const r = verifyEd25519(decodeDid(s.key), payload, s.sig);
    if (!r.ok) no(`sigs[${i}] does not verify (${r.rule})`);
  });
}

/** Runs the three stages of transactions.json; returns {stage, error} or {stage: "ok"}. */
export function runTxStages(bytes, chain) {
  let stx;
  try {
    stx = decodeSignedTx(bytes);
  } catch (e) {
    if (e instanceof ProtocolError) return { stage: "decode", error: e.code, message: e.message };
    throw e;
  }
  try {
    verifyTxSignatures(stx);
  } catch (e) {
    if (e instanceof ProtocolError) return { stage: "verify", error: e.code, message: e.message };
    throw e;
  }
  if (stx.tx.chain !== chain) return { stage: "chain", error: "CHAIN_MISMATCH", message: stx.tx.chain };
  return { stage: "ok", stx };
}

// ---------------------------------------------------------------------------------------------
// section 7: JSON views

/** CBOR value -> JSON view: every byte string becomes lowercase hex. */
export function toJsonView(v) {
  if (v instanceof Uint8Array) return toHex(v);
  if (Array.isArray(v)) return v.map(toJsonView);
  if (isPlainMap(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJsonView(x)]));
  return v;
}

const TX_HEX_BODY_FIELDS = ["proposal", "licenseHash", "contentHash", "consent"];

export function signedTxFromJson(j) {
  if (!isPlainMap(j) || !isPlainMap(j.tx) || !Array.isArray(j.sigs)) fail("FIELD_INVALID", "shape");
  const body = isPlainMap(j.tx.body) ? { ...j.tx.body } : j.tx.body;
  if (isPlainMap(body)) {
    for (const k of TX_HEX_BODY_FIELDS) if (has(body, k)) body[k] = fromHex(body[k], 32, `body.${k}`);
  }
  const sigs = j.sigs.map((s, i) =>
    isPlainMap(s) && has(s, "sig") ? { ...s, sig: fromHex(s.sig, 64, `sigs[${i}].sig`) } : s,
  );
  const value = { tx: { ...j.tx, body }, sigs };
  parseSignedTxValue(value); // every rule of the binary form, including the 8192-byte bound
  const bytes = encodeCbor(value);
  if (bytes.length > MAX_TX) fail("ENCODING_TOO_LARGE", "signed transaction above 8192 bytes");
  return value;
}

function resultFromJson(r) {
  return isPlainMap(r) && has(r, "cites") ? { ...r, cites: fromHex(r.cites, 32, "cites") } : r;
}

export function blockFromJson(j) {
  const h = j.header;
  const header = {
    ...h,
    prev: fromHex(h.prev, 32, "prev"),
    txRoot: fromHex(h.txRoot, 32, "txRoot"),
    resultRoot: fromHex(h.resultRoot, 32, "resultRoot"),
    appHash: fromHex(h.appHash, 32, "appHash"),
  };
  return {
    header,
    sig: fromHex(j.sig, 64, "sig"),
    txs: j.txs.map(signedTxFromJson),
    results: j.results.map(resultFromJson),
  };
}

// ---------------------------------------------------------------------------------------------
// section 9: blocks

const HEADER_KEYS = [
  "v",
  "chain",
  "height",
  "prev",
  "time",
  "proposer",
  "txRoot",
  "resultRoot",
  "appHash",
  "raftTerm",
  "raftIndex",
];

export function parseHeader(h) {
  if (!isPlainMap(h)) fail("FIELD_INVALID", "header is not a map");
  for (const k of HEADER_KEYS) if (!has(h, k)) fail("FIELD_MISSING", `header.${k}`);
  for (const k of Object.keys(h)) if (!HEADER_KEYS.includes(k)) fail("FIELD_UNKNOWN", `header.${k}`);
  if (h.v !== 1) fail("FIELD_INVALID", "header.v");
  checkChainId(h.chain, "header.chain");
  if (!isUint(h.height) || h.height < 1) fail("FIELD_INVALID", "header.height");
  for (const k of ["prev", "txRoot", "resultRoot", "appHash"]) {
    if (!(h[k] instanceof Uint8Array) || h[k].length !== 32) fail("FIELD_INVALID", `header.${k}`);
  }
  for (const k of ["time", "raftTerm", "raftIndex"]) if (!isUint(h[k])) fail("FIELD_INVALID", `header.${k}`);
  decodeDid(h.proposer, "header.proposer");
  const headerCbor = encodeCbor(h);
  if (headerCbor.length > MAX_BLOCK) fail("ENCODING_TOO_LARGE", "header");
  return headerCbor;
}

const RESULT_KEYS = ["status", "code", "decision", "cites", "flagged"];

export function parseResult(r) {
  if (!isPlainMap(r)) fail("FIELD_INVALID", "result is not a map");
  for (const k of Object.keys(r)) if (!RESULT_KEYS.includes(k)) fail("FIELD_UNKNOWN", `result.${k}`);
  for (const k of ["status", "code"]) if (!has(r, k)) fail("FIELD_MISSING", `result.${k}`);
  if (r.status !== "ok" && r.status !== "rejected") fail("FIELD_INVALID", "result.status");
  if (typeof r.code !== "string" || !/^[\x21-\x7e]+$/.test(r.code)) fail("FIELD_INVALID", "result.code");
  if (r.code.length > 64) fail("FIELD_TOO_LARGE", "result.code");
  if (has(r, "decision") && !["permitted", "emergency", "denied"].includes(r.decision)) {
    fail("FIELD_INVALID", "result.decision");
  }
  if (has(r, "cites") && !(r.cites instanceof Uint8Array && r.cites.length === 32)) {
    fail("FIELD_INVALID", "result.cites");
  }
  if (has(r, "flagged") && typeof r.flagged !== "boolean") fail("FIELD_INVALID", "result.flagged");
  const cbor = encodeCbor(r);
  if (cbor.length > MAX_BLOCK) fail("ENCODING_TOO_LARGE", "result");
  return cbor;
}

export function decodeBlock(bytes) {
  const b = decodeCanonical(bytes, MAX_BLOCK);
  if (!isPlainMap(b)) fail("FIELD_INVALID", "block is not a map");
  const keys = ["header", "sig", "txs", "results"];
  for (const k of keys) if (!has(b, k)) fail("FIELD_MISSING", k);
  for (const k of Object.keys(b)) if (!keys.includes(k)) fail("FIELD_UNKNOWN", k);
  const headerCbor = parseHeader(b.header);
  if (!(b.sig instanceof Uint8Array) || b.sig.length !== 64) fail("FIELD_INVALID", "sig");
  if (!Array.isArray(b.txs)) fail("FIELD_INVALID", "txs");
  if (!Array.isArray(b.results)) fail("FIELD_INVALID", "results");
  if (b.results.length !== b.txs.length) fail("FIELD_INVALID", "not one result per transaction");
  const txs = b.txs.map((t) => decodeSignedTx(encodeCbor(t)));
  const resultCbors = b.results.map(parseResult);
  return { header: b.header, headerCbor, sig: b.sig, txs, results: b.results, resultCbors };
}

export function blockHash(headerCbor) {
  return sha256(headerCbor);
}

/** Section 9.5, in order. `prev` is the previous header or {genesis: {chain, time}}. */
export function verifyBlockStructure(block, prev) {
  const { header: h } = block;
  const prevChain = prev.header ? prev.header.chain : prev.genesis.chain;
  const prevTime = prev.header ? prev.header.time : prev.genesis.time;
  if (h.chain !== prevChain) fail("CHAIN_MISMATCH", "header.chain");
  if (h.time < prevTime) fail("BLOCK_INVALID", "time before the previous time");
  if (!prev.header) {
    if (h.height !== 1) fail("BLOCK_INVALID", "first block height is not 1");
    if (!bytesEqual(h.prev, new Uint8Array(32))) fail("BLOCK_INVALID", "prev of height 1 is not zero");
  } else {
    if (h.height !== prev.header.height + 1) fail("BLOCK_INVALID", "height");
    if (!bytesEqual(h.prev, blockHash(encodeCbor(prev.header)))) fail("BLOCK_INVALID", "prev");
    if (h.raftTerm < prev.header.raftTerm) fail("BLOCK_INVALID", "raftTerm");
    if (h.raftIndex <= prev.header.raftIndex) fail("BLOCK_INVALID", "raftIndex");
  }
  if (block.txs.length > 4096 || block.results.length !== block.txs.length) fail("BLOCK_INVALID", "counts");
  const ids = new Set();
  block.txs.forEach((stx, i) => {
    if (stx.tx.chain !== h.chain) fail("CHAIN_MISMATCH", `txs[${i}].chain`);
    if (!(h.time <= stx.tx.expires && stx.tx.expires <= h.time + 3600000))
      fail("BLOCK_INVALID", `txs[${i}] not live`);
    const id = toHex(stx.id);
    if (ids.has(id)) fail("BLOCK_INVALID", `txs[${i}] id repeated`);
    ids.add(id);
    verifyTxSignatures(stx);
  });
  const txRoot = merkleRoot(block.txs.map((t) => t.signedCbor));
  const resultRoot = merkleRoot(block.resultCbors ?? block.results.map(encodeCbor));
  if (!bytesEqual(txRoot, h.txRoot)) fail("BLOCK_INVALID", "txRoot");
  if (!bytesEqual(resultRoot, h.resultRoot)) fail("BLOCK_INVALID", "resultRoot");
  const headerCbor = encodeCbor(h);
  const r = verifyEd25519(decodeDid(h.proposer), concat(BLOCK_PREFIX, blockHash(headerCbor)), block.sig);
  if (!r.ok) fail("SIGNATURE_INVALID", `proposer signature (${r.rule})`);
}

// ---------------------------------------------------------------------------------------------
// sections 10-12: genesis, state, rules, app hash

export function parseGenesis(g) {
  if (!isPlainMap(g)) fail("FIELD_INVALID", "genesis is not an object");
  const keys = ["chain", "time", "members"];
  for (const k of Object.keys(g)) if (!keys.includes(k)) fail("FIELD_UNKNOWN", k);
  for (const k of keys) if (!has(g, k)) fail("FIELD_MISSING", k);
  if (typeof g.chain !== "string" || !CHAIN_RE.test(g.chain)) fail("FIELD_INVALID", "chain");
  if (!isUint(g.time)) fail("FIELD_INVALID", "time");
  if (!Array.isArray(g.members) || g.members.length === 0) fail("FIELD_INVALID", "members");
  if (g.members.length > 64) fail("FIELD_TOO_LARGE", "members");
  const all = [];
  g.members.forEach((m, i) => {
    if (!isPlainMap(m)) fail("FIELD_INVALID", `members[${i}]`);
    for (const k of Object.keys(m))
      if (k !== "member" && k !== "nodes") fail("FIELD_UNKNOWN", `members[${i}].${k}`);
    for (const k of ["member", "nodes"]) if (!has(m, k)) fail("FIELD_MISSING", `members[${i}].${k}`);
    decodeDid(m.member, `members[${i}].member`);
    if (!Array.isArray(m.nodes) || m.nodes.length === 0) fail("FIELD_INVALID", `members[${i}].nodes`);
    if (m.nodes.length > 8) fail("FIELD_TOO_LARGE", `members[${i}].nodes`);
    m.nodes.forEach((n, j) => {
      decodeDid(n, `members[${i}].nodes[${j}]`);
    });
    all.push(m.member, ...m.nodes);
  });
  if (new Set(all).size !== all.length) fail("FIELD_INVALID", "a DID appears twice");
  return g;
}

export function computeAppHash(prevAppHash, height, writeLog) {
  const logHash = sha256(...writeLog);
  return sha256(APP_PREFIX, prevAppHash, u64be(height), logHash);
}

/** The state machine of section 11, logging every write (section 12). */
export class Ledger {
  constructor() {
    this.identity = new Map();
    this.keyOwner = new Map();
    this.member = new Map();
    this.proposal = new Map();
    this.vote = new Map();
    this.patient = new Map();
    this.record = new Map();
    this.consent = new Map();
    this.emergency = new Map();
    this.audit = new Map();
    this.seen = new Map();
    this.log = [];
    this.events = [];
  }

  write(table, key, value) {
    this.log.push(encodeCbor([table, key, value]));
  }

  putIdentity(row) {
    this.identity.set(row.did, row);
    this.write("identity", row.did, row);
  }

  putKey(keyDid, owner) {
    this.keyOwner.set(keyDid, owner);
    this.write("key", keyDid, owner);
  }

  putMember(row) {
    this.member.set(row.did, row);
    this.write("member", row.did, row);
  }

  putPatient(row) {
    this.patient.set(row.did, row);
    this.write("patient", row.did, row);
  }

  static genesis(g) {
    parseGenesis(g);
    const s = new Ledger();
    s.chain = g.chain;
    s.time = g.time;
    s.height = 0;
    s.write("genesis", g.chain, { chain: g.chain, time: g.time });
    for (const { member, nodes } of g.members) {
      s.putIdentity({
        did: member,
        role: "member",
        key: member,
        member: null,
        status: "active",
        licenseHash: null,
      });
      s.putKey(member, member);
      s.putMember({ did: member, nodes: [...nodes], admittedHeight: 0 });
      for (const node of nodes) {
        s.putIdentity({ did: node, role: "node", key: node, member, status: "active", licenseHash: null });
        s.putKey(node, node);
      }
      s.events.push({
        type: "membership",
        proposal: null,
        action: "add",
        member,
        added: [...nodes],
        removed: [],
      });
    }
    s.appHash = computeAppHash(new Uint8Array(32), 0, s.log);
    return s;
  }

  // --- predicates of 11.1 ---
  isCurrentMember(did) {
    return this.member.has(did);
  }
  isLive(c, t) {
    return c.revokedAt === null && c.expires > t;
  }
  isCurrent(c, t) {
    return this.isLive(c, t) && c.notBefore <= t;
  }
  isEnded(c, t) {
    return c.revokedAt !== null || c.expires <= t;
  }
  isActiveEmergency(e, t) {
    return e.from <= t && t < e.until;
  }
  /** 11.7 step 1: null if able, else the code. */
  providerProblem(p) {
    const id = this.identity.get(p);
    if (id?.role !== "provider" || id.member === null) return "signer-not-provider";
    if (id.status !== "active") return "provider-suspended";
    if (!this.isCurrentMember(id.member)) return "provider-member-removed";
    return null;
  }
  currentKey(did) {
    const id = this.identity.get(did);
    return id ? id.key : did;
  }

  /** Section 11.2. Returns { results, log, events, appHash }. */
  applyBlock(header, txs) {
    if (header.chain !== this.chain) fail("CHAIN_MISMATCH", "block chain");
    if (header.height !== this.height + 1) fail("BLOCK_INVALID", "height");
    if (header.time < this.time) fail("BLOCK_INVALID", "time");
    if (txs.length > 4096) fail("BLOCK_INVALID", "too many transactions");
    this.log = [];
    this.events = [];
    const ctx = { chain: header.chain, height: header.height, time: header.time };
    this.write("seen-prune", header.time, null);
    for (const [id, exp] of [...this.seen]) if (exp < header.time) this.seen.delete(id);
    const results = txs.map((stx, txIndex) => this.applyTx({ ...ctx, txIndex }, stx));
    const prevAppHash = this.appHash;
    this.appHash = computeAppHash(prevAppHash, header.height, this.log);
    this.height = header.height;
    this.time = header.time;
    return { results, log: this.log, events: this.events, appHash: this.appHash, prevAppHash };
  }

  /** Section 11.3. */
  applyTx(ctx, stx) {
    const { tx, sigs, id } = stx;
    const rejected = (code) => ({ status: "rejected", code });
    if (!has(KINDS, tx.kind)) return rejected("kind-unknown");
    let bodyValid = true;
    try {
      parseBody(tx.kind, tx.body);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      bodyValid = false;
    }
    // step 3: authenticity
    let code = null;
    if (sigs.length === 0 || sigs.length > 8 || (tx.kind !== "key.recover" && sigs.length !== 1)) {
      code = "signature-count";
    } else if (sigs[0].signer !== tx.signer) code = "signer-mismatch";
    else {
      const seenSigners = new Set();
      for (const s of sigs) {
        if (seenSigners.has(s.signer)) {
          code = "duplicate-signer";
          break;
        }
        seenSigners.add(s.signer);
        if (s.key !== this.currentKey(s.signer)) {
          code = "key-not-current";
          break;
        }
      }
    }
    // step 4: the guardian set of key.recover
    if (code === null && tx.kind === "key.recover" && bodyValid && this.patient.has(tx.body.patient)) {
      const pt = this.patient.get(tx.body.patient);
      if (sigs.some((s) => !pt.guardians.includes(s.signer))) code = "signer-not-guardian";
      else if (pt.threshold < 1 || sigs.length < pt.threshold) code = "guardian-threshold-not-met";
    }
    if (code !== null) return rejected(code); // step 5: nothing written
    // step 6: envelope
    const idHex = toHex(id);
    if (tx.chain !== ctx.chain) code = "chain-mismatch";
    else if (tx.expires < ctx.time) code = "tx-expired";
    else if (tx.expires > ctx.time + 3600000) code = "tx-expires-too-far";
    else if (this.seen.has(idHex)) code = "tx-replayed";
    if (code === null) {
      this.seen.set(idHex, tx.expires); // step 7
      this.write("seen", id, tx.expires);
      if (!bodyValid) code = "body-invalid"; // step 8
    }
    if (code !== null) {
      // step 9
      if (tx.kind === "access.log" && bodyValid)
        return this.logAccess(ctx, stx, { decision: "denied", code, cites: null });
      return rejected(code);
    }
    // step 10
    const handler = HANDLERS[tx.kind];
    const mark = this.log.length;
    const evMark = this.events.length;
    const out = handler.call(this, ctx, stx);
    if (typeof out === "string") {
      if (this.log.length !== mark || this.events.length !== evMark)
        throw new Error("handler wrote before failing");
      return rejected(out);
    }
    return out ?? { status: "ok", code: "ok" };
  }

  /** 11.7: the access decision. */
  decideAccess(ctx, P, body) {
    const t = ctx.time;
    const p1 = this.providerProblem(P);
    if (p1) return { decision: "denied", code: p1, cites: null };
    if (!this.patient.has(body.patient)) return { decision: "denied", code: "patient-unknown", cites: null };
    const record = has(body, "record") ? body.record : null;
    if (record !== null) {
      const r = this.record.get(record);
      if (!r || r.patient !== body.patient)
        return { decision: "denied", code: "record-unknown", cites: null };
      if (r.category !== body.category)
        return { decision: "denied", code: "record-category-mismatch", cites: null };
      if (r.erased) return { decision: "denied", code: "record-erased", cites: null };
    }
    const grantees = [P, this.identity.get(P).member];
    const mine = [...this.consent.values()].filter(
      (c) => c.patient === body.patient && grantees.includes(c.grantee),
    );
    const coversData = (c) =>
      c.categories.includes(body.category) || (record !== null && c.records.includes(record));
    const covers = (c) => coversData(c) && c.purposes.includes(body.purpose);
    const live = mine.filter((c) => this.isLive(c, t)).slice(0, 64);
    const permit = live.find((c) => c.notBefore <= t && covers(c));
    if (permit) return { decision: "permitted", code: "consent", cites: permit.id };
    const myEmergencies = [...this.emergency.values()].filter(
      (e) => e.provider === P && e.patient === body.patient,
    );
    const active = myEmergencies.find((e) => this.isActiveEmergency(e, t));
    const pt = this.patient.get(body.patient);
    const scope = pt.emergencyScope ?? DEFAULT_SCOPE;
    if (body.purpose === "ETREAT" && active && scope.includes(body.category)) {
      return { decision: "emergency", code: "emergency", cites: active.id };
    }
    const deny = (c) => ({ decision: "denied", code: c, cites: null });
    if (live.some((c) => c.notBefore > t && covers(c))) return deny("consent-not-yet-valid");
    const ended = mine
      .filter((c) => this.isEnded(c, t))
      .reverse()
      .slice(0, 32);
    const endedCover = ended.find(covers);
    if (endedCover) return deny(endedCover.revokedAt !== null ? "consent-revoked" : "consent-expired");
    if (body.purpose === "ETREAT") {
      if (active) return deny("emergency-scope-excluded");
      if (myEmergencies.length > 0) return deny("emergency-expired");
    }
    const current = mine.filter((c) => this.isCurrent(c, t));
    if (current.some(coversData)) return deny("purpose-not-granted");
    if (current.length > 0) return deny("category-not-granted");
    return deny("no-consent");
  }

  /** 11.7 "Log". */
  logAccess(ctx, stx, d) {
    const { tx, id } = stx;
    const body = tx.body;
    const record = has(body, "record") ? body.record : null;
    const flagged = d.decision !== "permitted";
    const row = {
      tx: id,
      height: ctx.height,
      txIndex: ctx.txIndex,
      time: ctx.time,
      provider: tx.signer,
      patient: body.patient,
      category: body.category,
      record,
      purpose: body.purpose,
      decision: d.decision,
      code: d.code,
      cites: d.cites,
      flagged,
    };
    this.audit.set(`${ctx.height}/${ctx.txIndex}`, row);
    this.write("audit", [ctx.height, ctx.txIndex], row);
    this.events.push({
      type: "access",
      tx: id,
      patient: body.patient,
      provider: tx.signer,
      category: body.category,
      purpose: body.purpose,
      record,
      decision: d.decision,
      code: d.code,
      cites: d.cites,
      flagged,
    });
    const result = {
      status: d.decision === "denied" ? "rejected" : "ok",
      code: d.code,
      decision: d.decision,
      flagged,
    };
    if (d.cites !== null) result.cites = d.cites;
    return result;
  }

  // --- 11.4 governance ---
  membershipProblem(action, member, nodes) {
    if (action === "add") {
      if (this.isCurrentMember(member)) return "member-exists";
      if (this.member.size >= 64) return "members-full";
      const id = this.identity.get(member);
      if ((id && id.role !== "member") || (!id && this.keyOwner.has(member))) return "key-in-use";
    } else {
      if (!this.isCurrentMember(member)) return "member-unknown";
      if (action === "remove" && this.member.size <= 1) return "last-member";
    }
    for (const n of nodes) {
      const id = this.identity.get(n);
      const available = id ? id.role === "node" && id.member === member : !this.keyOwner.has(n);
      if (!available) return "key-in-use";
    }
    return null;
  }

  settle(ctx, prop) {
    const passes = prop.approvals * 2 > this.member.size;
    if (!passes) {
      this.proposal.set(toHex(prop.id), prop);
      this.write("proposal", prop.id, prop);
      return;
    }
    prop.status = "passed";
    this.proposal.set(toHex(prop.id), prop);
    this.write("proposal", prop.id, prop);
    const { action, member } = prop;
    const old = this.member.get(member)?.nodes ?? [];
    const next = action === "remove" ? [] : prop.nodes;
    const removed = old.filter((n) => !next.includes(n));
    const added = next.filter((n) => !old.includes(n));
    for (const n of removed) this.putIdentity({ ...this.identity.get(n), status: "suspended" });
    for (const n of added) {
      const id = this.identity.get(n);
      if (!id) {
        this.putIdentity({ did: n, role: "node", key: n, member, status: "active", licenseHash: null });
        this.putKey(n, n);
      } else this.putIdentity({ ...id, status: "active" });
    }
    if (action === "remove") {
      this.member.delete(member);
      this.write("member", member, null);
      this.putIdentity({ ...this.identity.get(member), status: "suspended" });
    } else {
      const existing = this.member.get(member);
      this.putMember({
        did: member,
        nodes: [...next],
        admittedHeight: existing ? existing.admittedHeight : ctx.height,
      });
      const id = this.identity.get(member);
      if (!id) {
        this.putIdentity({
          did: member,
          role: "member",
          key: member,
          member: null,
          status: "active",
          licenseHash: null,
        });
        this.putKey(member, member);
      } else if (id.status !== "active") this.putIdentity({ ...id, status: "active" });
    }
    this.events.push({ type: "membership", proposal: prop.id, action, member, added, removed });
  }
}

const HANDLERS = {
  "member.propose"(ctx, { tx, id }) {
    const b = tx.body;
    if (!this.isCurrentMember(tx.signer)) return "signer-not-member";
    if (b.deadline <= ctx.time || b.deadline > ctx.time + 2592000000) return "proposal-deadline-invalid";
    const problem = this.membershipProblem(b.action, b.member, b.nodes);
    if (problem) return problem;
    const vote = { proposal: id, voter: tx.signer, approve: true, height: ctx.height };
    this.vote.set(`${toHex(id)}/${tx.signer}`, vote);
    this.write("vote", [id, tx.signer], vote);
    const prop = {
      id,
      proposer: tx.signer,
      action: b.action,
      member: b.member,
      nodes: [...b.nodes],
      deadline: b.deadline,
      status: "open",
      approvals: 1,
      rejections: 0,
      height: ctx.height,
      txIndex: ctx.txIndex,
    };
    this.settle(ctx, prop);
  },
  "member.vote"(ctx, { tx }) {
    const b = tx.body;
    if (!this.isCurrentMember(tx.signer)) return "signer-not-member";
    const prev = this.proposal.get(toHex(b.proposal));
    if (!prev) return "proposal-unknown";
    if (prev.status === "passed") return "proposal-closed";
    if (ctx.time > prev.deadline) return "proposal-expired";
    if (this.vote.has(`${toHex(b.proposal)}/${tx.signer}`)) return "already-voted";
    const prop = { ...prev };
    if (b.approve) prop.approvals += 1;
    else prop.rejections += 1;
    if (prop.approvals * 2 > this.member.size) {
      const problem = this.membershipProblem(prop.action, prop.member, prop.nodes);
      if (problem) return problem;
    }
    const vote = { proposal: b.proposal, voter: tx.signer, approve: b.approve, height: ctx.height };
    this.vote.set(`${toHex(b.proposal)}/${tx.signer}`, vote);
    this.write("vote", [b.proposal, tx.signer], vote);
    this.settle(ctx, prop);
  },
  "provider.register"(_ctx, { tx }) {
    const b = tx.body;
    if (!this.isCurrentMember(tx.signer)) return "signer-not-member";
    const id = this.identity.get(b.provider);
    if (!id) {
      if (this.keyOwner.has(b.provider)) return "key-in-use";
      this.putIdentity({
        did: b.provider,
        role: "provider",
        key: b.provider,
        member: tx.signer,
        status: "active",
        licenseHash: b.licenseHash,
      });
      this.putKey(b.provider, b.provider);
      return;
    }
    if (id.role === "provider" && id.member === tx.signer && id.status !== "active") {
      this.putIdentity({ ...id, status: "active", licenseHash: b.licenseHash });
      return;
    }
    return "identity-exists";
  },
  "provider.suspend"(_ctx, { tx }) {
    const b = tx.body;
    if (!this.isCurrentMember(tx.signer)) return "signer-not-member";
    const id = this.identity.get(b.provider);
    if (id?.role !== "provider") return "provider-unknown";
    if (id.member !== tx.signer) return "not-providers-member";
    if (id.status === "suspended") return "already-suspended";
    this.putIdentity({ ...id, status: "suspended" });
  },
  "patient.register"(_ctx, { tx }) {
    if (this.identity.has(tx.signer)) return "identity-exists";
    if (this.keyOwner.has(tx.signer)) return "key-in-use";
    this.putIdentity({
      did: tx.signer,
      role: "patient",
      key: tx.signer,
      member: null,
      status: "active",
      licenseHash: null,
    });
    this.putKey(tx.signer, tx.signer);
    this.putPatient({ did: tx.signer, guardians: [], threshold: 0, emergencyScope: null });
  },
  "patient.set-guardians"(_ctx, { tx }) {
    const pt = this.patient.get(tx.signer);
    if (!pt) return "signer-not-patient";
    if (tx.body.guardians.includes(tx.signer)) return "guardian-is-patient";
    this.putPatient({ ...pt, guardians: [...tx.body.guardians], threshold: tx.body.threshold });
  },
  "patient.set-emergency-scope"(_ctx, { tx }) {
    const pt = this.patient.get(tx.signer);
    if (!pt) return "signer-not-patient";
    this.putPatient({ ...pt, emergencyScope: [...tx.body.categories] });
  },
  "key.rotate"(_ctx, { tx }) {
    const id = this.identity.get(tx.signer);
    if (!id) return "identity-unknown";
    if (id.role === "node") return "role-cannot-rotate";
    if (id.status !== "active") return "identity-suspended";
    if (this.keyOwner.has(tx.body.newKey)) return "key-in-use";
    this.putIdentity({ ...id, key: tx.body.newKey });
    this.putKey(tx.body.newKey, tx.signer);
    this.events.push({ type: "key-changed", identity: tx.signer, key: tx.body.newKey, how: "rotate" });
  },
  "key.recover"(_ctx, { tx }) {
    const b = tx.body;
    if (!this.patient.has(b.patient)) return "patient-unknown";
    if (this.keyOwner.has(b.newKey)) return "key-in-use";
    this.putIdentity({ ...this.identity.get(b.patient), key: b.newKey });
    this.putKey(b.newKey, b.patient);
    this.events.push({ type: "key-changed", identity: b.patient, key: b.newKey, how: "recover" });
  },
  "record.anchor"(ctx, { tx, id }) {
    const b = tx.body;
    const p = this.providerProblem(tx.signer);
    if (p) return p;
    if (!this.patient.has(b.patient)) return "patient-unknown";
    if (this.record.has(b.record)) return "record-exists";
    const row = {
      record: b.record,
      patient: b.patient,
      holder: this.identity.get(tx.signer).member,
      provider: tx.signer,
      category: b.category,
      format: b.format,
      contentHash: b.contentHash,
      erased: false,
      erasedAt: null,
      anchorTx: id,
      height: ctx.height,
      txIndex: ctx.txIndex,
    };
    this.record.set(b.record, row);
    this.write("record", b.record, row);
  },
  "record.erase"(ctx, { tx, id }) {
    if (!this.patient.has(tx.signer)) return "signer-not-patient";
    const r = this.record.get(tx.body.record);
    if (!r) return "record-unknown";
    if (r.patient !== tx.signer) return "record-not-own";
    if (r.erased) return "record-already-erased";
    const row = { ...r, erased: true, erasedAt: ctx.time };
    this.record.set(r.record, row);
    this.write("record", r.record, row);
    this.events.push({
      type: "record-erased",
      holder: r.holder,
      patient: r.patient,
      record: r.record,
      contentHash: r.contentHash,
      tx: id,
    });
  },
  "consent.grant"(ctx, { tx, id }) {
    const b = tx.body;
    if (!this.patient.has(tx.signer)) return "signer-not-patient";
    const g = this.identity.get(b.grantee);
    if (!((g && g.role === "provider") || this.isCurrentMember(b.grantee))) return "grantee-unknown";
    if (b.expires <= ctx.time) return "consent-already-expired";
    for (const rec of b.records) {
      const r = this.record.get(rec);
      if (!r || r.patient !== tx.signer) return "record-unknown";
    }
    const liveCount = [...this.consent.values()].filter(
      (c) => c.patient === tx.signer && c.grantee === b.grantee && this.isLive(c, ctx.time),
    ).length;
    if (liveCount >= 32) return "too-many-consents";
    const row = {
      id,
      patient: tx.signer,
      grantee: b.grantee,
      categories: [...b.categories],
      records: [...b.records],
      purposes: [...b.purposes],
      notBefore: b.notBefore,
      expires: b.expires,
      revokedAt: null,
      height: ctx.height,
      txIndex: ctx.txIndex,
    };
    this.consent.set(toHex(id), row);
    this.write("consent", id, row);
  },
  "consent.revoke"(ctx, { tx }) {
    if (!this.patient.has(tx.signer)) return "signer-not-patient";
    const c = this.consent.get(toHex(tx.body.consent));
    if (!c) return "consent-unknown";
    if (c.patient !== tx.signer) return "consent-not-own";
    if (c.revokedAt !== null) return "consent-already-revoked";
    const row = { ...c, revokedAt: ctx.time };
    this.consent.set(toHex(c.id), row);
    this.write("consent", c.id, row);
  },
  "access.log"(ctx, stx) {
    const d = this.decideAccess(ctx, stx.tx.signer, stx.tx.body);
    return this.logAccess(ctx, stx, d);
  },
  "emergency.declare"(ctx, { tx, id }) {
    const b = tx.body;
    const p = this.providerProblem(tx.signer);
    if (p) return p;
    if (!this.patient.has(b.patient)) return "patient-unknown";
    const active = [...this.emergency.values()].some(
      (e) => e.provider === tx.signer && e.patient === b.patient && this.isActiveEmergency(e, ctx.time),
    );
    if (active) return "emergency-active";
    const until = ctx.time + (has(b, "durationMs") ? b.durationMs : 86400000);
    const row = {
      id,
      provider: tx.signer,
      patient: b.patient,
      reason: b.reason,
      from: ctx.time,
      until,
      height: ctx.height,
      txIndex: ctx.txIndex,
    };
    this.emergency.set(toHex(id), row);
    this.write("emergency", id, row);
    this.events.push({
      type: "break-glass",
      patient: b.patient,
      provider: tx.signer,
      emergency: id,
      reason: b.reason,
      until,
    });
    return { status: "ok", code: "ok", flagged: true };
  },
};

// ---------------------------------------------------------------------------------------------
// per-file checks. Each returns [{vector, ok, detail}].

function attempt(vector, fn) {
  try {
    const detail = fn();
    return { vector, ok: true, detail: detail ?? "ok" };
  } catch (e) {
    return { vector, ok: false, detail: e instanceof Error ? e.message : String(e) };
  }
}

function must(cond, why) {
  if (!cond) throw new Error(why);
}

function errorOf(fn) {
  try {
    fn();
    return null;
  } catch (e) {
    if (e instanceof ProtocolError) return e.code;
    throw e;
  }
}

export function checkKeys(json) {
  const out = [];
  for (const k of json.keys) {
    out.push(
      attempt(`keys/${k.name}`, () => {
        const seed = sha256(utf8(k.seedText));
        must(toHex(seed) === k.secretKey, "secretKey is not sha256(seedText)");
        const pub = publicKeyFromSeed(seed);
        must(toHex(pub) === k.publicKey, "publicKey is not derived from the seed");
        must(k.multicodec === `ed01${k.publicKey}`, "multicodec");
        must(didFromPublicKey(pub) === k.did, "did encoding");
        must(k.did.length === 56 && k.did.startsWith("did:key:z6Mk"), "56 characters, did:key:z6Mk");
        must(toHex(decodeDid(k.did)) === k.publicKey, "did decoding");
        return "seed, key, multicodec and did agree";
      }),
    );
  }
  for (const d of json.invalidDids) {
    out.push(
      attempt(`invalidDids/${d.name}`, () => {
        const got = errorOf(() => decodeDid(d.did));
        must(got === d.error, `expected ${d.error}, got ${got}`);
        return `rejected with ${got}`;
      }),
    );
  }
  return out;
}

const RULE_ALIASES = {
  accepted: ["accepted", "accepted (cofactorless equation holds)"],
  equation: ["equation", "equation (holds only cofactored)"],
};

export function checkSignatures(json) {
  return json.cases.map((c) =>
    attempt(`signatures/${c.name}`, () => {
      const r = verifyEd25519(fromHex(c.publicKey), fromHex(c.message), fromHex(c.signature));
      must(r.ok === c.valid, `expected valid=${c.valid}, got ${r.ok} (${r.rule})`);
      const ruleMatches = (RULE_ALIASES[r.rule] ?? [r.rule]).includes(c.rule);
      return `valid=${r.ok}, deciding step "${r.rule}"${ruleMatches ? "" : ` (vector says "${c.rule}")`}`;
    }),
  );
}

export function checkTransactions(json) {
  const chain = json.chain;
  const out = [];
  for (const v of json.valid) {
    out.push(
      attempt(`valid/${v.name}`, () => {
        const bytes = fromHex(v.signedCbor);
        const r = runTxStages(bytes, chain);
        must(r.stage === "ok", `rejected at ${r.stage}: ${r.message}`);
        const { stx } = r;
        must(stx.tx.kind === v.kind, "kind");
        must(deepEqual(toJsonView({ tx: stx.tx, sigs: stx.sigs }), v.json), "decode(signedCbor) is not json");
        must(bytesEqual(encodeCbor(signedTxFromJson(v.json)), bytes), "encode(json) is not signedCbor");
        must(toHex(stx.unsignedCbor) === v.unsignedCbor, "unsignedCbor");
        must(toHex(stx.id) === v.id, "id");
        must(toHex(stx.payload) === v.signingPayload, "signingPayload");
        must(v.signatures.length === stx.sigs.length, "signatures count");
        v.signatures.forEach((s, i) => {
          const sig = stx.sigs[i];
          must(s.signer === sig.signer && s.key === sig.key && s.sig === toHex(sig.sig), `signatures[${i}]`);
          must(toHex(decodeDid(s.key)) === s.publicKey, `signatures[${i}].publicKey`);
          must(
            verifyEd25519(fromHex(s.publicKey), stx.payload, fromHex(s.sig)).ok,
            `signatures[${i}] verifies`,
          );
        });
        return `id ${v.id.slice(0, 16)}…, ${stx.sigs.length} signature(s) verify`;
      }),
    );
  }
  for (const v of json.invalid) {
    out.push(
      attempt(`invalid/${v.name}`, () => {
        const r = runTxStages(fromHex(v.signedCbor), chain);
        must(
          r.stage === v.expected.stage && r.error === v.expected.error,
          `expected ${v.expected.stage}/${v.expected.error}, got ${r.stage}/${r.error} (${r.message})`,
        );
        return `rejected at ${r.stage} with ${r.error} (${r.message})`;
      }),
    );
  }
  return out;
}

export function checkMerkle(json) {
  const out = [];
  for (const t of json.trees) {
    const leaves = t.leaves.map((h) => fromHex(h));
    out.push(
      attempt(`trees/size ${t.size}`, () => {
        must(t.leaves.length === t.size, "leaf count");
        t.leaves.forEach((h, i) => {
          must(h === toHex(utf8(`leaf ${i}`)), `leaf ${i}`);
        });
        t.leafHashes.forEach((h, i) => {
          must(h === toHex(leafHash(leaves[i])), `leafHash ${i}`);
        });
        must(toHex(merkleRoot(leaves)) === t.root, "root");
        if (t.size === 0) must(t.root === toHex(sha256(new Uint8Array(0))), "empty root");
        must(t.proofs.length === t.size, "one proof per leaf");
        return `root ${t.root.slice(0, 16)}…`;
      }),
    );
    t.proofs.forEach((p, i) => {
      out.push(
        attempt(`trees/size ${t.size}/proof ${i}`, () => {
          const proof = readProofJson(p);
          must(proof.index === i && proof.size === t.size, "index/size");
          const mine = merklePath(i, leaves).map(toHex);
          must(deepEqual(mine, p.path), "path differs from PATH(m, D)");
          verifyInclusion(leaves[i], fromHex(t.root), proof);
          return `${p.path.length} siblings, verifies`;
        }),
      );
    });
  }
  for (const v of json.invalid) {
    out.push(
      attempt(`invalid/${v.name}`, () => {
        const got = errorOf(() =>
          verifyInclusion(fromHex(v.leaf), fromHex(v.root, 32), readProofJson(v.proof)),
        );
        must(got === v.error, `expected ${v.error}, got ${got}`);
        return `rejected with ${got}`;
      }),
    );
  }
  return out;
}

function eventsView(events) {
  return events.map(toJsonView);
}

/** blocks.json and scenario.json: genesis, every block, and every transaction's result. */
export function checkChain(json, label = "chain") {
  const out = [];
  let ledger;
  out.push(
    attempt(`${label}/genesis`, () => {
      must(json.genesis.json.chain === json.chain, "genesis chain");
      ledger = Ledger.genesis(json.genesis.json);
      must(ledger.log.length === json.genesis.writeLog.length, `write log length ${ledger.log.length}`);
      ledger.log.forEach((r, i) => {
        must(toHex(r) === json.genesis.writeLog[i], `genesis write record ${i}`);
      });
      must(
        toHex(
          computeAppHash(
            new Uint8Array(32),
            0,
            json.genesis.writeLog.map((h) => fromHex(h)),
          ),
        ) === json.genesis.appHash,
        "appHash from the vector's log",
      );
      must(toHex(ledger.appHash) === json.genesis.appHash, "appHash");
      must(deepEqual(eventsView(ledger.events), json.genesis.events), "events");
      return `${ledger.log.length} write records rebuilt, appHash ${json.genesis.appHash.slice(0, 16)}…`;
    }),
  );
  let prevHeader = null;
  let prevAppHash = json.genesis.appHash;
  for (const b of json.blocks) {
    let applied = null;
    let decoded = null;
    out.push(
      attempt(`${label}/block ${b.height}`, () => {
        must(ledger !== undefined, "no genesis state");
        // header encoding, hash, signing payload, signature
        const headerCbor = fromHex(b.headerCbor);
        const header = decodeCanonical(headerCbor, MAX_BLOCK);
        parseHeader(header);
        must(header.height === b.height && header.time === b.time, "height/time");
        const hash = blockHash(headerCbor);
        must(toHex(hash) === b.hash, "hash");
        must(toHex(concat(BLOCK_PREFIX, hash)) === b.signingPayload, "signingPayload");
        must(header.proposer === json.proposer, "proposer");
        must(
          verifyEd25519(decodeDid(header.proposer), fromHex(b.signingPayload), fromHex(b.sig)).ok,
          "proposer signature",
        );
        must(
          toHex(header.txRoot) === b.txRoot && toHex(header.resultRoot) === b.resultRoot,
          "roots in header",
        );
        must(toHex(header.appHash) === b.appHash, "appHash in header");
        // the whole block: CBOR and JSON view
        const blockCbor = fromHex(b.blockCbor);
        decoded = decodeBlock(blockCbor);
        must(bytesEqual(decoded.headerCbor, headerCbor), "block header is headerCbor");
        must(toHex(decoded.sig) === b.sig, "block sig");
        must(
          deepEqual(
            toJsonView({
              header: decoded.header,
              sig: decoded.sig,
              txs: decoded.txs.map((t) => ({ tx: t.tx, sigs: t.sigs })),
              results: decoded.results,
            }),
            b.json,
          ),
          "decode(blockCbor) is not json",
        );
        must(bytesEqual(encodeCbor(blockFromJson(b.json)), blockCbor), "encode(json) is not blockCbor");
        // 9.5 structure and chaining
        verifyBlockStructure(decoded, prevHeader ? { header: prevHeader } : { genesis: json.genesis.json });
        // transactions: encodings, ids, proofs
        must(decoded.txs.length === b.txs.length && b.results.length === b.txs.length, "counts");
        b.txs.forEach((t, i) => {
          const stx = decoded.txs[i];
          must(toHex(stx.signedCbor) === t.signedCbor, `txs[${i}].signedCbor`);
          must(toHex(stx.id) === t.id, `txs[${i}].id`);
          const proof = readProofJson(t.proof);
          must(proof.index === i && proof.size === b.txs.length, `txs[${i}].proof index/size`);
          must(
            deepEqual(
              merklePath(
                i,
                decoded.txs.map((x) => x.signedCbor),
              ).map(toHex),
              t.proof.path,
            ),
            `txs[${i}].proof path`,
          );
          verifyInclusion(stx.signedCbor, header.txRoot, { ...proof, size: decoded.txs.length });
        });
        b.results.forEach((r, i) => {
          must(toHex(decoded.resultCbors[i]) === r.cbor, `results[${i}].cbor`);
          must(deepEqual(toJsonView(decoded.results[i]), r.json), `results[${i}].json`);
        });
        must(toHex(merkleRoot(b.txs.map((t) => fromHex(t.signedCbor)))) === b.txRoot, "txRoot");
        must(toHex(merkleRoot(b.results.map((r) => fromHex(r.cbor)))) === b.resultRoot, "resultRoot");
        // app hash from the vector's write log
        must(b.prevAppHash === prevAppHash, "prevAppHash is the previous appHash");
        must(
          toHex(
            computeAppHash(
              fromHex(b.prevAppHash),
              b.height,
              b.writeLog.map((h) => fromHex(h)),
            ),
          ) === b.appHash,
          "appHash from the vector's writeLog",
        );
        // section 11: apply the block to our own state
        applied = ledger.applyBlock(header, decoded.txs);
        const myLog = applied.log.map(toHex);
        const firstDiff = myLog.findIndex((h, i) => h !== b.writeLog[i]);
        must(
          myLog.length === b.writeLog.length && firstDiff < 0,
          `write log differs (ours ${myLog.length}, vector ${b.writeLog.length}, first difference at ${firstDiff})`,
        );
        must(toHex(applied.appHash) === b.appHash, "recomputed appHash");
        must(deepEqual(eventsView(applied.events), b.events), "events");
        prevHeader = header;
        prevAppHash = b.appHash;
        return `${b.txs.length} txs; header, signature, chaining, roots, proofs, ${myLog.length} write records and appHash agree`;
      }),
    );
    b.txs.forEach((t, i) => {
      out.push(
        attempt(`${label}/block ${b.height}/tx ${i} ${t.note}`, () => {
          must(applied !== null, "the block did not apply");
          const mine = applied.results[i];
          must(
            deepEqual(toJsonView(mine), b.results[i].json),
            `result ${JSON.stringify(toJsonView(mine))} ≠ ${JSON.stringify(b.results[i].json)}`,
          );
          must(toHex(encodeCbor(mine)) === b.results[i].cbor, "result encoding");
          return `${mine.status}/${mine.code}${mine.decision ? ` (${mine.decision})` : ""}`;
        }),
      );
    });
  }
  return out;
}

export const checkBlocks = (json) => checkChain(json, "blocks");
export const checkScenario = (json) => checkChain(json, "scenario");

/** Expected number of entries each check returns, computed from the file alone. */
export const expectedCounts = {
  keys: (j) => j.keys.length + j.invalidDids.length,
  signatures: (j) => j.cases.length,
  transactions: (j) => j.valid.length + j.invalid.length,
  merkle: (j) => j.trees.length + j.trees.reduce((n, t) => n + t.proofs.length, 0) + j.invalid.length,
  blocks: (j) => 1 + j.blocks.length + j.blocks.reduce((n, b) => n + b.txs.length, 0),
  scenario: (j) => 1 + j.blocks.length + j.blocks.reduce((n, b) => n + b.txs.length, 0),
};
