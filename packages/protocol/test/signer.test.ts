// Goal: both ed25519 verifiers (noble, node:crypto) accept and reject exactly the same inputs.
// Method: RFC 8032 section 7.1 vectors, the 12 edge-case vectors of "Taming the many EdDSAs"
// (Chalkias, Garillot, Nikolaenko, SSR 2020; github.com/novifinancial/ed25519-speccheck cases.txt),
// hand-made non-canonical encodings, and a fast-check property over random keys, messages and
// mutated signatures.
import * as ed from "@noble/ed25519";
import { sha512 } from "@noble/hashes/sha2.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fromHex, toHex } from "../src/bytes.js";
import { isCanonicalPoint, isSmallOrderPoint, SMALL_ORDER_POINTS } from "../src/did.js";
import { createNodeVerifier, nodeSigner, nodeVerifier } from "../src/node.js";
import { nobleSigner, nobleVerifier, strictPreCheck, type Verifier } from "../src/signer.js";

const verifiers: Verifier[] = [nobleVerifier, nodeVerifier];

/** RFC 8032 section 7.1, TEST 1, 2, 3, 1024 and SHA(abc). */
const RFC8032 = [
  {
    name: "TEST 1",
    secret: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    public: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    message: "",
    signature:
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  },
  {
    name: "TEST 2",
    secret: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    public: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    message: "72",
    signature:
      "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
  },
  {
    name: "TEST 3",
    secret: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
    public: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
    message: "af82",
    signature:
      "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
  },
  {
    name: "TEST 1024",
    secret: "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
    public: "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
    message:
      "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1" +
      "e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d" +
      "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a" +
      "7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e" +
      "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc10" +
      "3b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1" +
      "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594e1a2297acbbb39d" +
      "502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270" +
      "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089b" +
      "eccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba" +
      "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af8969b" +
      "e3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7" +
      "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988d" +
      "cda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df" +
      "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7" +
      "984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4" +
      "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac09" +
      "43bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f" +
      "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f161" +
      "0e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d" +
      "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8ca" +
      "c60c905c15fc910840b94c00a0b9d0",
    signature:
      "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03",
  },
  {
    name: "TEST SHA(abc)",
    secret: "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
    public: "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
    message:
      "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    signature:
      "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
  },
];

/**
 * "Taming the many EdDSAs" Table 6 (cases.txt of novifinancial/ed25519-speccheck), with the paper's
 * description and our expected outcome. Our policy (canonical A and R, S < L, no small-order A or R,
 * cofactorless) accepts only case 3, as libsodium and ed25519-dalek's verify_strict do.
 */
const TAMING = [
  {
    case: 0,
    what: "S = 0, small-order A and R",
    message: "8c93255d71dcab10e8f379c26200f3c7bd5f09d9bc3068d3ef4edeb4853022b6",
    publicKey: "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    signature:
      "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a0000000000000000000000000000000000000000000000000000000000000000",
    valid: false,
  },
  {
    case: 1,
    what: "0 < S < L, small-order A, mixed-order R",
    message: "9bd9f44f4dcc75bd531b56b2cd280b0bb38fc1cd6d1230e14861d861de092e79",
    publicKey: "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    signature:
      "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43a5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04",
    valid: false,
  },
  {
    case: 2,
    what: "0 < S < L, mixed-order A, small-order R",
    message: "aebf3f2601a0c8c5d39cc7d8911642f740b78168218da8471772b35f9d35b9ab",
    publicKey: "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
    signature:
      "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa8c4bd45aecaca5b24fb97bc10ac27ac8751a7dfe1baff8b953ec9f5833ca260e",
    valid: false,
  },
  {
    case: 3,
    what: "0 < S < L, mixed-order A and R, passes cofactored and cofactorless",
    message: "9bd9f44f4dcc75bd531b56b2cd280b0bb38fc1cd6d1230e14861d861de092e79",
    publicKey: "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
    signature:
      "9046a64750444938de19f227bb80485e92b83fdb4b6506c160484c016cc1852f87909e14428a7a1d62e9f22f3d3ad7802db02eb2e688b6c52fcd6648a98bd009",
    valid: true,
  },
  {
    case: 4,
    what: "0 < S < L, mixed-order A and R, passes cofactored only",
    message: "e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec4011eaccd55b53f56c",
    publicKey: "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
    signature:
      "160a1cb0dc9c0258cd0a7d23e94d8fa878bcb1925f2c64246b2dee1796bed5125ec6bc982a269b723e0668e540911a9a6a58921d6925e434ab10aa7940551a09",
    valid: false,
  },
  {
    case: 5,
    what: "0 < S < L, mixed-order A, L-order R, passes cofactored (pre-reduced k) only",
    message: "e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec4011eaccd55b53f56c",
    publicKey: "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
    signature:
      "21122a84e0b5fca4052f5b1235c80a537878b38f3142356b2c2384ebad4668b7e40bc836dac0f71076f9abe3a53f9c03c1ceeeddb658d0030494ace586687405",
    valid: false,
  },
  {
    case: 6,
    what: "S > L",
    message: "85e241a07d148b41e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec40",
    publicKey: "442aad9f089ad9e14647b1ef9099a1ff4798d78589e66f28eca69c11f582a623",
    signature:
      "e96f66be976d82e60150baecff9906684aebb1ef181f67a7189ac78ea23b6c0e547f7690a0e2ddcd04d87dbc3490dc19b3b3052f7ff0538cb68afb369ba3a514",
    valid: false,
  },
  {
    case: 7,
    what: "S >> L",
    message: "85e241a07d148b41e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec40",
    publicKey: "442aad9f089ad9e14647b1ef9099a1ff4798d78589e66f28eca69c11f582a623",
    signature:
      "8ce5b96c8f26d0ab6c47958c9e68b937104cd36e13c33566acd2fe8d38aa19427e71f98a473474f2f13f06f97c20d58cc3f54b8bd0d272f42b695dd7e89a8c22",
    valid: false,
  },
  {
    case: 8,
    what: "non-canonical R (small order)",
    message: "9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41",
    publicKey: "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
    signature:
      "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff03be9678ac102edcd92b0210bb34d7428d12ffc5df5f37e359941266a4e35f0f",
    valid: false,
  },
  {
    case: 9,
    what: "non-canonical R (small order)",
    message: "9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41",
    publicKey: "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
    signature:
      "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffca8c5b64cd208982aa38d4936621a4775aa233aa0505711d8fdcfdaa943d4908",
    valid: false,
  },
  {
    case: 10,
    what: "non-canonical A (small order)",
    message: "e96b7021eb39c1a163b6da4e3093dcd3f21387da4cc4572be588fafae23c155b",
    publicKey: "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    signature:
      "a9d55260f765261eb9b84e106f665e00b867287a761990d7135963ee0a7d59dca5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04",
    valid: false,
  },
  {
    case: 11,
    what: "non-canonical A (small order)",
    message: "39a591f5321bbe07fd5a23dc2f39d025d74526615746727ceefd6e82ae65c06f",
    publicKey: "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    signature:
      "a9d55260f765261eb9b84e106f665e00b867287a761990d7135963ee0a7d59dca5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04",
    valid: false,
  },
];

describe("RFC 8032 section 7.1 vectors", () => {
  for (const vector of RFC8032) {
    it(`${vector.name}: both signers reproduce the signature, both verifiers accept it`, () => {
      const secret = fromHex(vector.secret);
      const message = fromHex(vector.message);
      for (const signer of [nobleSigner(secret), nodeSigner(secret)]) {
        expect(toHex(signer.publicKey)).toBe(vector.public);
        expect(toHex(signer.sign(message))).toBe(vector.signature);
      }
      for (const verifier of verifiers) {
        expect(verifier.verify(fromHex(vector.public), message, fromHex(vector.signature))).toBe(true);
      }
    });
  }

  it("a changed message or signature bit is rejected by both", () => {
    const vector = RFC8032[1]!;
    const signature = fromHex(vector.signature);
    signature[10] = (signature[10] as number) ^ 1;
    for (const verifier of verifiers) {
      expect(verifier.verify(fromHex(vector.public), fromHex(vector.message), signature)).toBe(false);
      expect(verifier.verify(fromHex(vector.public), fromHex("73"), fromHex(vector.signature))).toBe(false);
    }
  });
});

describe("edge cases of Taming the many EdDSAs", () => {
  for (const vector of TAMING) {
    it(`case ${vector.case} (${vector.what}) is ${vector.valid ? "accepted" : "rejected"} by both`, () => {
      for (const verifier of verifiers) {
        const outcome = verifier.verify(
          fromHex(vector.publicKey),
          fromHex(vector.message),
          fromHex(vector.signature),
        );
        expect(outcome, verifier.name).toBe(vector.valid);
      }
    });
  }

  it("cases 4 and 5 pass noble's own cofactored verify: the reason noble's verify is not used", () => {
    for (const vector of TAMING.filter((entry) => entry.case === 4)) {
      const signature = fromHex(vector.signature);
      expect(
        ed.verify(signature, fromHex(vector.message), fromHex(vector.publicKey), { zip215: false }),
      ).toBe(true);
    }
  });
});

describe("the shared strict pre-check", () => {
  it("the small-order list holds exactly the eight canonical torsion points", () => {
    expect(new Set(SMALL_ORDER_POINTS).size).toBe(8);
    for (const hex of SMALL_ORDER_POINTS) {
      const point = ed.Point.fromBytes(fromHex(hex), false);
      expect(point.isSmallOrder()).toBe(true);
      expect(toHex(point.toBytes())).toBe(hex);
    }
    // Every multiple of an order-8 point is in the list.
    const generator = ed.Point.fromBytes(fromHex(SMALL_ORDER_POINTS[4]!), false);
    let point = ed.Point.ZERO;
    for (let index = 0; index < 8; index++) {
      expect(isSmallOrderPoint(point.toBytes())).toBe(true);
      point = point.add(generator);
    }
  });

  it("rejects y >= p, a sign bit on x = 0, S >= L and wrong lengths", () => {
    const good = RFC8032[0]!;
    const publicKey = fromHex(good.public);
    const signature = fromHex(good.signature);
    expect(strictPreCheck(publicKey, signature)).toBe(true);
    // y = p + 1 is the non-canonical spelling of y = 1; y = 2^255 - 1 is past p.
    const yPastPrime = fromHex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
    expect(isCanonicalPoint(yPastPrime)).toBe(false);
    expect(
      isCanonicalPoint(fromHex("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")),
    ).toBe(false);
    expect(
      isCanonicalPoint(fromHex("0100000000000000000000000000000000000000000000000000000000000080")),
    ).toBe(false);
    expect(
      isCanonicalPoint(fromHex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff")),
    ).toBe(false);
    // S = S + L is the same scalar, non-canonically.
    const order = (1n << 252n) + 27742317777372353535851937790883648493n;
    const s = BigInt(`0x${toHex(signature.slice(32).reverse())}`) + order;
    const sPlusL = fromHex(s.toString(16).padStart(64, "0")).reverse();
    const malleated = new Uint8Array(64);
    malleated.set(signature.subarray(0, 32), 0);
    malleated.set(sPlusL, 32);
    for (const verifier of verifiers) {
      expect(verifier.verify(publicKey, new Uint8Array(0), malleated)).toBe(false);
      expect(verifier.verify(publicKey.subarray(0, 31), new Uint8Array(0), signature)).toBe(false);
      expect(verifier.verify(publicKey, new Uint8Array(0), signature.subarray(0, 63))).toBe(false);
      expect(verifier.verify(publicKey, new Uint8Array(0), new Uint8Array(65))).toBe(false);
    }
  });

  it("a public key that is not on the curve is rejected by both", () => {
    // y = 2 is not the y of any curve point (checked below with noble).
    const offCurve = fromHex("0200000000000000000000000000000000000000000000000000000000000000");
    expect(() => ed.Point.fromBytes(offCurve, false)).toThrow();
    const signature = fromHex(RFC8032[0]!.signature);
    for (const verifier of verifiers)
      expect(verifier.verify(offCurve, new Uint8Array(0), signature)).toBe(false);
  });
});

describe("mixed-order public keys (A + a point of order 2)", () => {
  it("both accept exactly when k is even (cofactorless), where cofactored noble accepts always", () => {
    const order = ed.Point.CURVE().n;
    const { scalar } = ed.utils.getExtendedPublicKey(new Uint8Array(32).fill(42));
    const twoTorsion = ed.Point.fromBytes(fromHex(SMALL_ORDER_POINTS[1]!), false);
    const mixedKey = ed.Point.BASE.multiply(scalar).add(twoTorsion).toBytes();
    const outcomes = new Set<boolean>();
    for (let attempt = 1; attempt <= 12; attempt++) {
      const message = Uint8Array.of(attempt);
      const nonce = BigInt(attempt) * 7919n;
      const r = ed.Point.BASE.multiply(nonce).toBytes();
      const k = bigIntLittleEndian(sha512(Uint8Array.from([...r, ...mixedKey, ...message]))) % order;
      const s = (nonce + k * scalar) % order;
      const signature = Uint8Array.from([...r, ...littleEndianBytes(s)]);
      const expected = k % 2n === 0n;
      outcomes.add(expected);
      expect(nobleVerifier.verify(mixedKey, message, signature)).toBe(expected);
      expect(nodeVerifier.verify(mixedKey, message, signature)).toBe(expected);
      expect(ed.verify(signature, message, mixedKey, { zip215: false })).toBe(true);
    }
    expect(outcomes.size).toBe(2); // both branches were exercised
  });
});

function bigIntLittleEndian(bytes: Uint8Array): bigint {
  return BigInt(`0x${toHex(bytes.slice().reverse())}`);
}

function littleEndianBytes(value: bigint): Uint8Array {
  return fromHex(value.toString(16).padStart(64, "0")).reverse();
}

describe("cross-verifier agreement (property)", () => {
  const freshNode = createNodeVerifier({ cacheEntriesMax: 4 });

  it("random keys, messages and mutated signatures: both verifiers agree", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 64 }),
        fc.oneof(
          fc.constant({ kind: "none" as const }),
          fc.record({ kind: fc.constant("flip" as const), index: fc.nat(63), bit: fc.nat(7) }),
          fc.record({
            kind: fc.constant("random" as const),
            bytes: fc.uint8Array({ minLength: 64, maxLength: 64 }),
          }),
          fc.record({ kind: fc.constant("small-r" as const), index: fc.nat(7) }),
          fc.record({ kind: fc.constant("add-l" as const) }),
          fc.record({ kind: fc.constant("truncate" as const), length: fc.nat(70) }),
        ),
        fc.boolean(),
        (secret, message, mutation, mutateKey) => {
          const signer = nobleSigner(secret);
          const signature = mutate(signer.sign(message), mutation);
          const publicKey = mutateKey ? mutatePublicKey(signer.publicKey, message) : signer.publicKey;
          const noble = nobleVerifier.verify(publicKey, message, signature);
          expect(nodeVerifier.verify(publicKey, message, signature)).toBe(noble);
          expect(freshNode.verify(publicKey, message, signature)).toBe(noble);
          if (mutation.kind === "none" && !mutateKey) expect(noble).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
    expect(freshNode.cacheSize()).toBeLessThanOrEqual(4);
  });
});

type Mutation =
  | { kind: "none" }
  | { kind: "flip"; index: number; bit: number }
  | { kind: "random"; bytes: Uint8Array }
  | { kind: "small-r"; index: number }
  | { kind: "add-l" }
  | { kind: "truncate"; length: number };

function mutate(signature: Uint8Array, mutation: Mutation): Uint8Array {
  const out = signature.slice();
  switch (mutation.kind) {
    case "none":
      return out;
    case "flip":
      out[mutation.index] = (out[mutation.index] as number) ^ (1 << mutation.bit);
      return out;
    case "random":
      return mutation.bytes;
    case "small-r":
      out.set(fromHex(SMALL_ORDER_POINTS[mutation.index]!), 0);
      return out;
    case "add-l": {
      const order = (1n << 252n) + 27742317777372353535851937790883648493n;
      const s = BigInt(`0x${toHex(out.slice(32).reverse())}`) + order;
      out.set(fromHex(s.toString(16).padStart(64, "0")).reverse(), 32);
      return out;
    }
    case "truncate":
      return mutation.length <= 64 ? out.slice(0, mutation.length) : new Uint8Array(mutation.length);
  }
}

/** A public key with a small-order component added (mixed order), chosen by the message's first byte. */
function mutatePublicKey(publicKey: Uint8Array, message: Uint8Array): Uint8Array {
  const torsion = ed.Point.fromBytes(fromHex(SMALL_ORDER_POINTS[(message[0] ?? 0) % 8]!), false);
  return ed.Point.fromBytes(publicKey, false).add(torsion).toBytes();
}
