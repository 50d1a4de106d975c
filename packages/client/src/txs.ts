/**
 * Building signed transactions of every kind. `buildTx(kind, body, options)` is the one typed builder;
 * `txBuilder({ chain })` binds the chain and gives a named wrapper per kind. Defaults: `expires` is now
 * plus tx_ttl_default_ms (inside the protocol's tx_ttl_max_ms), `nonce` a random safe integer, so one
 * signer can send many otherwise identical transactions at once. Every built transaction is validated
 * by the protocol's own parsers before it is returned (signTx runs parseSignedTx).
 */
import {
  type Category,
  type Did,
  decodeSignedTxWithId,
  encodeSignedTx,
  fromHex,
  type Hash,
  isProtocolError,
  limits,
  type Purpose,
  randomBytes,
  type SignedTx,
  type SignedTxJson,
  sha256,
  signTx,
  type TxBodies,
  type TxKind,
  type TxSigner,
  toHex,
  txToJson,
  utf8,
} from "@medledger/protocol";
import { clientError } from "./errors.js";
import type { Identity } from "./identity.js";
import { tx_ttl_default_ms } from "./limits.js";

/** How a transaction is built: the chain, and optionally its nonce, its lifetime and the clock. */
export interface TxOptions {
  readonly chain: string;
  /** De-duplication number (default: random). Two transactions differing only in nonce are distinct. */
  readonly nonce?: number;
  /** Lifetime from now (default tx_ttl_default_ms; at most the protocol's tx_ttl_max_ms). */
  readonly ttlMs?: number;
  /** Absolute expiry in ms since the epoch (wins over ttlMs). */
  readonly expires?: number;
  /** The clock, in ms since the epoch (default Date.now). */
  readonly now?: () => number;
}

/** A built transaction in every form the API and the caller need. */
export interface BuiltTx<K extends TxKind = TxKind> {
  readonly kind: K;
  readonly signed: SignedTx<K>;
  /** The id: hex of sha256 of the unsigned transaction's canonical encoding. */
  readonly id: string;
  /** The canonical encoding of the signed transaction (what POST /txs takes as `encoded`). */
  readonly encoded: Uint8Array;
  /** The JSON view (txToJson). */
  readonly json: SignedTxJson;
}

/**
 * A signed transaction of `kind` by `identity` (with its current key). `cosigners` add their signatures
 * after the signer's (only key.recover takes more than one).
 */
export function buildTx<K extends TxKind>(
  kind: K,
  body: TxBodies[K],
  options: TxOptions & { identity: Identity; cosigners?: readonly Identity[] },
): BuiltTx<K> {
  const now = (options.now ?? Date.now)();
  const ttlMs = options.ttlMs ?? tx_ttl_default_ms;
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1 || ttlMs > limits.tx_ttl_max_ms) {
    throw clientError("CLIENT_INPUT_INVALID", `ttlMs must be 1..${limits.tx_ttl_max_ms}`, {
      field: "ttlMs",
    });
  }
  const signers: TxSigner[] = [options.identity, ...(options.cosigners ?? [])].map((identity) => ({
    key: identity.key,
    identity: identity.did,
  }));
  const signed = asClientError(() =>
    signTx(
      {
        v: 1,
        chain: options.chain,
        kind,
        signer: options.identity.did,
        nonce: options.nonce ?? randomNonce(),
        expires: options.expires ?? now + ttlMs,
        body,
      },
      signers,
    ),
  );
  return builtOf(signed);
}

/** Runs `build`, turning the protocol's validation errors into CLIENT_INPUT_INVALID (reason: the protocol code). */
function asClientError<T>(build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (!isProtocolError(error)) throw error;
    throw clientError("CLIENT_INPUT_INVALID", error.message, {
      reason: error.code,
      ...(error.field === undefined ? {} : { field: error.field }),
      cause: error,
    });
  }
}

/** The BuiltTx of an already signed transaction (its encoding, id and JSON view). */
export function builtOf<K extends TxKind>(signed: SignedTx<K>): BuiltTx<K> {
  const encoded = encodeSignedTx(signed);
  const { id } = decodeSignedTxWithId(encoded);
  return { kind: signed.tx.kind, signed, id: toHex(id), encoded, json: txToJson(signed) };
}

/** A random nonce: a uniformly random safe integer (53 bits from Web Crypto). */
export function randomNonce(): number {
  const bytes = randomBytes(7);
  let value = 0;
  for (const byte of bytes) value = value * 256 + byte;
  return value % (limits.tx_nonce_max + 1);
}

/** Per-call options of the named builders (the chain is the builder's). */
export type BuildOptions = Omit<TxOptions, "chain">;

/** A record.anchor body in which the content may be given instead of its hash. */
export type RecordAnchorInput = Omit<TxBodies["record.anchor"], "contentHash" | "format"> & {
  /** e.g. a FHIR resource type (default "Binary"). */
  readonly format?: string;
} & ({ readonly contentHash: Hash } | { readonly content: Uint8Array | string });

/** A consent.grant body with defaults: no records, notBefore now, for `durationMs` or until `expires`. */
export interface ConsentGrantInput {
  readonly grantee: Did;
  readonly categories?: readonly Category[];
  readonly records?: readonly string[];
  readonly purposes: readonly Purpose[];
  /** Default: now (the builder's clock). */
  readonly notBefore?: number;
  /** Absolute end; or give durationMs. */
  readonly expires?: number;
  /** Length from notBefore (used when expires is absent). */
  readonly durationMs?: number;
}

/** Named builders of every kind, bound to one chain. */
export interface TxBuilder {
  readonly chain: string;
  build<K extends TxKind>(
    kind: K,
    body: TxBodies[K],
    identity: Identity,
    options?: BuildOptions & { cosigners?: readonly Identity[] },
  ): BuiltTx<K>;
  memberPropose(
    member: Identity,
    body: TxBodies["member.propose"],
    options?: BuildOptions,
  ): BuiltTx<"member.propose">;
  memberVote(member: Identity, body: TxBodies["member.vote"], options?: BuildOptions): BuiltTx<"member.vote">;
  providerRegister(
    member: Identity,
    body: TxBodies["provider.register"],
    options?: BuildOptions,
  ): BuiltTx<"provider.register">;
  providerSuspend(
    member: Identity,
    body: TxBodies["provider.suspend"],
    options?: BuildOptions,
  ): BuiltTx<"provider.suspend">;
  patientRegister(patient: Identity, options?: BuildOptions): BuiltTx<"patient.register">;
  patientSetGuardians(
    patient: Identity,
    body: TxBodies["patient.set-guardians"],
    options?: BuildOptions,
  ): BuiltTx<"patient.set-guardians">;
  patientSetEmergencyScope(
    patient: Identity,
    body: TxBodies["patient.set-emergency-scope"],
    options?: BuildOptions,
  ): BuiltTx<"patient.set-emergency-scope">;
  keyRotate(identity: Identity, body: TxBodies["key.rotate"], options?: BuildOptions): BuiltTx<"key.rotate">;
  /** Co-signed by `guardians` (the first is the envelope's signer); at least the patient's threshold. */
  keyRecover(
    guardians: readonly Identity[],
    body: TxBodies["key.recover"],
    options?: BuildOptions,
  ): BuiltTx<"key.recover">;
  recordAnchor(provider: Identity, body: RecordAnchorInput, options?: BuildOptions): BuiltTx<"record.anchor">;
  consentGrant(patient: Identity, body: ConsentGrantInput, options?: BuildOptions): BuiltTx<"consent.grant">;
  /** `consent`: the grant's id (hex or bytes), or the BuiltTx of the grant. */
  consentRevoke(
    patient: Identity,
    body: { consent: Hash | string | BuiltTx<"consent.grant"> },
    options?: BuildOptions,
  ): BuiltTx<"consent.revoke">;
  accessLog(provider: Identity, body: TxBodies["access.log"], options?: BuildOptions): BuiltTx<"access.log">;
  emergencyDeclare(
    provider: Identity,
    body: TxBodies["emergency.declare"],
    options?: BuildOptions,
  ): BuiltTx<"emergency.declare">;
  recordErase(
    patient: Identity,
    body: TxBodies["record.erase"],
    options?: BuildOptions,
  ): BuiltTx<"record.erase">;
}

/** Named builders of every kind for `chain` (and optionally a clock shared by all of them). */
export function txBuilder(options: { chain: string; now?: () => number }): TxBuilder {
  const { chain } = options;
  const now = options.now ?? Date.now;
  const build = <K extends TxKind>(
    kind: K,
    body: TxBodies[K],
    identity: Identity,
    extra: BuildOptions & { cosigners?: readonly Identity[] } = {},
  ): BuiltTx<K> => buildTx(kind, body, { now, ...extra, chain, identity });
  return {
    chain,
    build,
    memberPropose: (member, body, extra) => build("member.propose", body, member, extra),
    memberVote: (member, body, extra) => build("member.vote", body, member, extra),
    providerRegister: (member, body, extra) => build("provider.register", body, member, extra),
    providerSuspend: (member, body, extra) => build("provider.suspend", body, member, extra),
    patientRegister: (patient, extra) => build("patient.register", {}, patient, extra),
    patientSetGuardians: (patient, body, extra) => build("patient.set-guardians", body, patient, extra),
    patientSetEmergencyScope: (patient, body, extra) =>
      build("patient.set-emergency-scope", body, patient, extra),
    keyRotate: (identity, body, extra) => build("key.rotate", body, identity, extra),
    keyRecover: (guardians, body, extra) => {
      const [first, ...rest] = guardians;
      if (first === undefined) {
        throw clientError("CLIENT_INPUT_INVALID", "a recovery needs at least one guardian", {
          field: "guardians",
        });
      }
      return build("key.recover", body, first, { ...extra, cosigners: rest });
    },
    recordAnchor: (provider, body, extra) => build("record.anchor", anchorBody(body), provider, extra),
    consentGrant: (patient, body, extra) =>
      build("consent.grant", grantBody(body, extra?.now?.() ?? now()), patient, extra),
    consentRevoke: (patient, body, extra) =>
      build("consent.revoke", { consent: consentId(body.consent) }, patient, extra),
    accessLog: (provider, body, extra) => build("access.log", body, provider, extra),
    emergencyDeclare: (provider, body, extra) => build("emergency.declare", body, provider, extra),
    recordErase: (patient, body, extra) => build("record.erase", body, patient, extra),
  };
}

function anchorBody(input: RecordAnchorInput): TxBodies["record.anchor"] {
  const contentHash =
    "contentHash" in input
      ? input.contentHash
      : sha256(typeof input.content === "string" ? utf8(input.content) : input.content);
  return {
    record: input.record,
    patient: input.patient,
    category: input.category,
    format: input.format ?? "Binary",
    contentHash,
  };
}

function grantBody(input: ConsentGrantInput, now: number): TxBodies["consent.grant"] {
  const notBefore = input.notBefore ?? now;
  const expires =
    input.expires ?? (input.durationMs === undefined ? undefined : notBefore + input.durationMs);
  if (expires === undefined) {
    throw clientError("CLIENT_INPUT_INVALID", "a consent needs expires or durationMs", { field: "expires" });
  }
  return {
    grantee: input.grantee,
    categories: [...(input.categories ?? [])],
    records: [...(input.records ?? [])],
    purposes: [...input.purposes],
    notBefore,
    expires,
  };
}

function consentId(consent: Hash | string | BuiltTx<"consent.grant">): Hash {
  if (consent instanceof Uint8Array) return consent;
  const hex = typeof consent === "string" ? consent : consent.id;
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw clientError("CLIENT_INPUT_INVALID", "a consent id is 64 lowercase hex characters", {
      field: "consent",
    });
  }
  return fromHex(hex, { length: 32 });
}
