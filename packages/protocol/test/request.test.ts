// Goal: a signed request verifies exactly when its method, path, query, body, signer, key and time are
// the ones signed, under both verifiers, and no header text makes the verifier throw anything but a
// ProtocolError. Method: round trips, one alteration per test, malformed headers by hand, a fast-check
// property over random and mutated header strings, and a pinned vector (RFC 8032's TEST 1 key) whose
// headers and signature base are the example in the docs.
import type { IncomingHttpHeaders } from "node:http";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fromHex, utf8 } from "../src/bytes.js";
import { isProtocolError } from "../src/errors.js";
import { request_header_bytes_max, request_skew_max_s } from "../src/limits.js";
import { nodeSigner, nodeVerifier } from "../src/node.js";
import {
  contentDigestOf,
  type RequestHeaders,
  type RequestToSign,
  requestNonce,
  requestSignatureBase,
  type SignedRequestHeaders,
  signRequest,
  verifyRequest,
} from "../src/request.js";
import { nobleSigner, nobleVerifier, type Signer, type Verifier } from "../src/signer.js";

/** RFC 8032 section 7.1 TEST 1 and TEST 2 secret keys: the key that signs, and another. */
const keyA = nobleSigner(fromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
const keyB = nobleSigner(fromHex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"));
/** The identity signing: it rotated from keyB's DID to keyA, so keyid and signer differ. */
const identity = keyB.did;
const CREATED = 1_767_225_600; // 2026-01-01T00:00:00Z
const NONCE = "AAECAwQFBgcICQoLDA0ODw"; // bytes 0..15
const NOW = CREATED + 10;

const getRecord: RequestToSign = {
  method: "GET",
  path: "/records/rec-1?purpose=TREAT",
  body: new Uint8Array(0),
};
const postTx: RequestToSign = { method: "POST", path: "/txs", body: utf8('{"tx":"a1b2"}') };

function sign(request: RequestToSign, key: Signer = keyA, created = CREATED): SignedRequestHeaders {
  return signRequest(request, { signer: identity, key, created, nonce: NONCE });
}

function verify(
  request: RequestToSign,
  headers: RequestHeaders,
  verifier: Verifier = nodeVerifier,
  nowSeconds = NOW,
) {
  return verifyRequest(request, headers, { verifier, nowSeconds });
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    expect(isProtocolError(error), String(error)).toBe(true);
    return (error as { code: string }).code;
  }
}

describe("signed request vector", () => {
  it("pins the headers and the signature base of a GET signed with RFC 8032's TEST 1 key", () => {
    const headers = sign(getRecord);
    expect(keyA.did).toBe("did:key:z6MktwupdmLXVVqTzCw4i46r4uGyosGXRnR3XjN4Zq7oMMsw");
    expect(keyB.did).toBe("did:key:z6MkiaMbhXHNA4eJVCCj8dbzKzTgYDKf6crKgHVHid1F1WCT");
    expect(headers).toEqual({
      "content-digest": "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:",
      "signature-input":
        'sig1=("@method" "@path" "@query" "content-digest");created=1767225600;nonce="AAECAwQFBgcICQoLDA0ODw"' +
        ';keyid="did:key:z6MktwupdmLXVVqTzCw4i46r4uGyosGXRnR3XjN4Zq7oMMsw";alg="ed25519";tag="medledger"' +
        ';signer="did:key:z6MkiaMbhXHNA4eJVCCj8dbzKzTgYDKf6crKgHVHid1F1WCT"',
      signature:
        "sig1=:Lf8aaVQsnV5TROood+31CJce6XsTQC9d11cNmRqmuEUzzuy/H68F6aXElcQrzf1QojxGGuH9pNCMvBEi3UBnCw==:",
    });
    const base = requestSignatureBase(
      getRecord,
      headers["content-digest"],
      headers["signature-input"].slice("sig1=".length),
    );
    expect(base).toBe(
      [
        '"@method": GET',
        '"@path": /records/rec-1',
        '"@query": ?purpose=TREAT',
        '"content-digest": sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:',
        `"@signature-params": ("@method" "@path" "@query" "content-digest");created=1767225600;nonce="AAECAwQFBgcICQoLDA0ODw";keyid="${keyA.did}";alg="ed25519";tag="medledger";signer="${keyB.did}"`,
      ].join("\n"),
    );
    expect(verify(getRecord, headers)).toEqual({
      signer: keyB.did,
      key: keyA.did,
      created: CREATED,
      nonce: NONCE,
    });
  });

  it("digests a body as RFC 9530 does (its section 2 example body)", () => {
    expect(contentDigestOf(utf8('{"hello": "world"}\n'))).toBe(
      "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:",
    );
  });
});

describe("signed request round trips", () => {
  const pairs: Array<[string, Signer, Verifier]> = [
    ["noble signs, noble verifies", keyA, nobleVerifier],
    ["noble signs, node verifies", keyA, nodeVerifier],
    [
      "node signs, noble verifies",
      nodeSigner(fromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")),
      nobleVerifier,
    ],
  ];
  for (const [name, key, verifier] of pairs) {
    it(name, () => {
      for (const request of [getRecord, postTx, { method: "GET", path: "/", body: new Uint8Array(0) }]) {
        const headers = sign(request, key);
        expect(verify(request, headers, verifier)).toEqual({
          signer: identity,
          key: keyA.did,
          created: CREATED,
          nonce: NONCE,
        });
      }
    });
  }

  it("makes fresh 16-byte base64url nonces, and accepts header names in any case", () => {
    const nonces = new Set(Array.from({ length: 50 }, requestNonce));
    expect(nonces.size).toBe(50);
    for (const nonce of nonces) expect(nonce).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const headers = sign(postTx);
    const upper = {
      "Content-Digest": headers["content-digest"],
      "Signature-Input": headers["signature-input"],
      Signature: headers.signature,
      host: "example.org",
    };
    expect(verify(postTx, upper).signer).toBe(identity);
    // Node's IncomingHttpHeaders (set-cookie is a list) is accepted as it is, without a cast.
    const incoming: IncomingHttpHeaders = { ...headers, "set-cookie": ["a=b"], host: "example.org" };
    expect(verify(postTx, incoming).key).toBe(keyA.did);
  });
});

describe("signed request refusals", () => {
  const headers = sign(getRecord);
  const input = headers["signature-input"];
  const withInput = (value: string) => ({ ...headers, "signature-input": value });

  const altered: Array<[string, RequestToSign, Record<string, string | undefined>]> = [
    ["the method", { ...getRecord, method: "POST" }, headers],
    ["the method's case", { ...getRecord, method: "get" }, headers],
    ["the path", { ...getRecord, path: "/records/rec-2?purpose=TREAT" }, headers],
    ["the query", { ...getRecord, path: "/records/rec-1?purpose=HRESCH" }, headers],
    ["the query, removed", { ...getRecord, path: "/records/rec-1" }, headers],
    ["the body", { ...getRecord, body: utf8("x") }, headers],
    ["content-digest", getRecord, { ...headers, "content-digest": contentDigestOf(utf8("x")) }],
    [
      "created (within the window)",
      getRecord,
      withInput(input.replace("created=1767225600", "created=1767225601")),
    ],
    ["the nonce", getRecord, withInput(input.replace(NONCE, "AAECAwQFBgcICQoLDA0OEA"))],
    ["keyid", getRecord, withInput(input.replace(`keyid="${keyA.did}"`, `keyid="${keyB.did}"`))],
    ["signer", getRecord, withInput(input.replace(`signer="${keyB.did}"`, `signer="${keyA.did}"`))],
    [
      "the parameters' order",
      getRecord,
      withInput(input.replace(';alg="ed25519";tag="medledger"', ';tag="medledger";alg="ed25519"')),
    ],
    ["the signature", getRecord, { ...headers, signature: sign(postTx).signature }],
  ];
  for (const [what, request, changed] of altered) {
    it(`refuses a request whose ${what} was altered after signing`, () => {
      expect(codeOf(() => verify(request, changed, nobleVerifier))).toBe("REQUEST_SIGNATURE_INVALID");
      expect(codeOf(() => verify(request, changed, nodeVerifier))).toBe("REQUEST_SIGNATURE_INVALID");
    });
  }

  it("refuses a signature by a key other than keyid", () => {
    const impostor: Signer = { did: keyA.did, publicKey: keyA.publicKey, sign: keyB.sign };
    expect(codeOf(() => verify(getRecord, sign(getRecord, impostor)))).toBe("REQUEST_SIGNATURE_INVALID");
  });

  it(`answers REQUEST_STALE beyond ${request_skew_max_s} s of skew either way, and only then`, () => {
    expect(verify(getRecord, headers, nodeVerifier, CREATED + request_skew_max_s).created).toBe(CREATED);
    expect(verify(getRecord, headers, nodeVerifier, CREATED - request_skew_max_s).created).toBe(CREATED);
    expect(codeOf(() => verify(getRecord, headers, nodeVerifier, CREATED + request_skew_max_s + 1))).toBe(
      "REQUEST_STALE",
    );
    expect(codeOf(() => verify(getRecord, headers, nodeVerifier, CREATED - request_skew_max_s - 1))).toBe(
      "REQUEST_STALE",
    );
    expect(codeOf(() => verify(getRecord, headers, nodeVerifier, Number.NaN))).toBe("REQUEST_STALE");
  });

  const signature = headers.signature;
  const malformed: Array<[string, Record<string, string | undefined>]> = [
    ["no content-digest", { ...headers, "content-digest": undefined }],
    ["no signature-input", { ...headers, "signature-input": undefined }],
    ["no signature", { ...headers, signature: undefined }],
    ["no headers at all", {}],
    ["a header given twice", { ...headers, Signature: signature }],
    ["an over-long header", withInput(input + ";x".repeat(request_header_bytes_max))],
    ["a second signature", withInput(`${input}, sig2=("@method");created=1`)],
    ["another label", withInput(input.replace("sig1=", "sig2="))],
    ["a component missing", withInput(input.replace(' "content-digest"', ""))],
    ["components reordered", withInput(input.replace('"@path" "@query"', '"@query" "@path"'))],
    ["an extra component", withInput(input.replace('"content-digest")', '"content-digest" "@authority")'))],
    ["an unknown parameter", withInput(`${input};expires=1767225900`)],
    ["a repeated parameter", withInput(`${input};tag="medledger"`)],
    ["a missing parameter", withInput(input.replace(';tag="medledger"', ""))],
    ["created with a leading zero", withInput(input.replace("created=", "created=0"))],
    ["created negative", withInput(input.replace("created=1767225600", "created=-1"))],
    ["created as a string", withInput(input.replace("created=1767225600", 'created="1767225600"'))],
    ["a nonce as an integer", withInput(input.replace(`nonce="${NONCE}"`, "nonce=5"))],
    ["a short nonce", withInput(input.replace(NONCE, "AAECAwQFBgcICQoLDA0O"))],
    ["a non-canonical nonce", withInput(input.replace(NONCE, "AAECAwQFBgcICQoLDA0ODx"))],
    ["another alg", withInput(input.replace('alg="ed25519"', 'alg="ecdsa-p256-sha256"'))],
    ["another tag", withInput(input.replace('tag="medledger"', 'tag="other-app"'))],
    [
      "a keyid that is no did:key",
      withInput(input.replace(`keyid="${keyA.did}"`, 'keyid="test-key-ed25519"')),
    ],
    ["an escaped string", withInput(input.replace('tag="medledger"', 'tag="med\\"ledger"'))],
    ["whitespace between parameters", withInput(input.replace(";alg=", "; alg="))],
    [
      "a signature of 63 bytes",
      { ...headers, signature: `sig1=:${Buffer.alloc(63, 1).toString("base64")}:` },
    ],
    ["a signature without padding", { ...headers, signature: signature.replace("==:", ":") }],
    [
      "a signature in base64url",
      { ...headers, signature: `sig1=:${Buffer.alloc(64, 0xfb).toString("base64url")}==:` },
    ],
    ["a signature with parameters", { ...headers, signature: `${signature};x=1` }],
    ["a digest by another algorithm", { ...headers, "content-digest": "sha-512=:AAAA:" }],
    [
      "a digest with a second algorithm",
      { ...headers, "content-digest": `${headers["content-digest"]}, sha-512=:AAAA:` },
    ],
  ];
  for (const [what, bad] of malformed) {
    it(`refuses ${what}`, () => {
      expect(codeOf(() => verify(getRecord, bad))).toBe("REQUEST_SIGNATURE_INVALID");
    });
  }

  it("refuses malformed requests and values of the wrong type", () => {
    const asHeaders = (value: unknown) => value as Record<string, string>;
    expect(codeOf(() => verify({ ...getRecord, path: "records" }, headers))).toBe(
      "REQUEST_SIGNATURE_INVALID",
    );
    expect(codeOf(() => verify({ ...getRecord, path: "/a b" }, headers))).toBe("REQUEST_SIGNATURE_INVALID");
    expect(codeOf(() => verify({ ...getRecord, method: "GE T" }, headers))).toBe("REQUEST_SIGNATURE_INVALID");
    expect(codeOf(() => verify({ ...getRecord, body: "" as unknown as Uint8Array }, headers))).toBe(
      "REQUEST_SIGNATURE_INVALID",
    );
    expect(codeOf(() => verify(getRecord, asHeaders(null)))).toBe("REQUEST_SIGNATURE_INVALID");
    expect(
      codeOf(() => verify(getRecord, asHeaders({ ...headers, signature: [signature, signature] }))),
    ).toBe("REQUEST_SIGNATURE_INVALID");
  });

  it("refuses to sign with a malformed nonce, time, signer or request", () => {
    const options = { signer: identity, key: keyA, created: CREATED, nonce: NONCE };
    expect(codeOf(() => signRequest(getRecord, { ...options, nonce: "short" }))).toBe("FIELD_INVALID");
    expect(codeOf(() => signRequest(getRecord, { ...options, created: -1 }))).toBe("FIELD_INVALID");
    expect(codeOf(() => signRequest(getRecord, { ...options, created: 1.5 }))).toBe("FIELD_INVALID");
    expect(codeOf(() => signRequest(getRecord, { ...options, signer: "did:web:example.org" }))).toBe(
      "DID_INVALID",
    );
    expect(codeOf(() => signRequest({ ...getRecord, path: "/a#b" }, options))).toBe("FIELD_INVALID");
  });
});

describe("signed request parsing property", () => {
  const valid = sign(postTx);
  const mutated = (text: string) =>
    fc
      .tuple(fc.nat({ max: text.length }), fc.nat({ max: 8 }), fc.string({ maxLength: 8 }))
      .map(([at, cut, insert]) => text.slice(0, at) + insert + text.slice(at + cut));
  const headerValue = (text: string) =>
    fc.oneof(
      fc.constant(undefined),
      fc.constant(text),
      fc.string({ maxLength: 300 }),
      mutated(text),
      mutated(text),
    );

  it("never throws anything but a ProtocolError on random or mutated header strings", () => {
    fc.assert(
      fc.property(
        headerValue(valid["content-digest"]),
        headerValue(valid["signature-input"]),
        headerValue(valid.signature),
        fc.dictionary(fc.string({ maxLength: 16 }), fc.string({ maxLength: 32 }), { maxKeys: 3 }),
        (contentDigest, signatureInput, signature, extra) => {
          const headers = {
            ...extra,
            "content-digest": contentDigest,
            "signature-input": signatureInput,
            signature,
          };
          try {
            verifyRequest(postTx, headers, { verifier: nodeVerifier, nowSeconds: NOW });
          } catch (error) {
            expect(isProtocolError(error), String(error)).toBe(true);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("never throws anything but a ProtocolError on random requests", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 20 }),
        fc.string({ maxLength: 60 }),
        fc.uint8Array({ maxLength: 32 }),
        (method, path, body) => {
          try {
            verifyRequest({ method, path, body }, valid, { verifier: nodeVerifier, nowSeconds: NOW });
          } catch (error) {
            expect(isProtocolError(error), String(error)).toBe(true);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
