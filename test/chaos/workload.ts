// The recording client: a workload of consent grants, revokes and access logs sent through the HTTP API
// of every node (POST /txs?wait=true), each invocation and its completion recorded with timestamps.
// An operation is "ok" when a node answered that its transaction committed (acknowledged), "fail" when
// a node refused it definitely (4xx: it cannot commit as sent), "info" when the outcome is unknown
// (a timeout, a dropped connection, 202 pending, 503): it may or may not be in the chain.
import { type BuiltTx, buildTx, type Identity, identityOf } from "@medledger/client";
import { type AccessDecision, publicKeyFromSecretKey, publicKeyToDid, toHex } from "@medledger/protocol";
import { nodeSigner } from "@medledger/protocol/node";
import { type ChaosCluster, chaosSecret } from "./cluster.js";
import { httpJson } from "./http.js";

export type OpKind = "setup" | "grant" | "revoke" | "access";

export interface Op {
  id: string;
  kind: OpKind;
  node: number;
  patient: string;
  provider: string;
  /** For a revoke: the grant it revokes. */
  consent?: string;
  invokedAt: number;
  completedAt: number;
  outcome: "ok" | "fail" | "info";
  height?: number;
  code?: string;
  decision?: AccessDecision;
  cites?: string;
  error?: string;
}

/** A deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const submit_wait_ms = 5_000;
const request_timeout_ms = 8_000;

export class Workload {
  readonly history: Op[] = [];
  private readonly patients: Identity[];
  private readonly providers: Identity[];
  private readonly members: Identity[];
  /** Acknowledged grants not yet picked for a revoke, per patient/provider pair. */
  private readonly liveGrants: Array<{ id: string; patient: number; provider: number }> = [];
  private stopped = false;
  private readonly random: () => number;

  constructor(
    private readonly cluster: ChaosCluster,
    options: { seed: number; patients: number },
  ) {
    this.random = prng(options.seed);
    this.members = cluster.memberSecrets.map((secret) => identityOf(nodeSigner(secret)));
    this.patients = Array.from({ length: options.patients }, (_, index) =>
      identityOf(nodeSigner(chaosSecret(`${cluster.chain}-patient-${index}`))),
    );
    this.providers = cluster.memberSecrets.map((_, index) =>
      identityOf(nodeSigner(chaosSecret(`${cluster.chain}-provider-${index}`))),
    );
  }

  private build<
    K extends "patient.register" | "provider.register" | "consent.grant" | "consent.revoke" | "access.log",
  >(kind: K, body: Parameters<typeof buildTx<K>>[1], identity: Identity): BuiltTx<K> {
    return buildTx(kind, body, {
      chain: this.cluster.chain,
      identity,
      nonce: Math.floor(this.random() * Number.MAX_SAFE_INTEGER),
    });
  }

  /** Registers the patients and one provider per member; retries until each is committed. */
  async setup(deadlineMs: number): Promise<void> {
    const txs: Array<{ tx: BuiltTx; patient: string; provider: string }> = [];
    for (const patient of this.patients) {
      txs.push({ tx: this.build("patient.register", {}, patient), patient: patient.did, provider: "" });
    }
    this.providers.forEach((provider, index) => {
      txs.push({
        tx: this.build(
          "provider.register",
          { provider: provider.did, licenseHash: new Uint8Array(32).fill(index + 1) },
          this.members[index] as Identity,
        ),
        patient: "",
        provider: provider.did,
      });
    });
    const deadline = Date.now() + deadlineMs;
    await Promise.all(
      txs.map(async (entry, index) => {
        for (;;) {
          const op = await this.send("setup", entry.tx, index % this.cluster.size, {
            patient: entry.patient,
            provider: entry.provider,
          });
          if (op.outcome === "ok") return;
          if (Date.now() > deadline) throw new Error(`setup did not commit: ${op.error ?? op.outcome}`);
          await sleep(500);
        }
      }),
    );
  }

  /**
   * Starts about `rate` operations per second until stop(), open loop: each operation runs on its own,
   * so operations stuck on a cut-off node (until their timeout) do not hold back the others; at most
   * `workers` are in flight at once.
   */
  async run(options: { workers: number; rate: number }): Promise<void> {
    const interval_ms = 1000 / options.rate;
    const inflight = new Set<Promise<void>>();
    while (!this.stopped) {
      if (inflight.size < options.workers) {
        const operation: Promise<void> = this.step()
          .catch(() => undefined)
          .finally(() => inflight.delete(operation));
        inflight.add(operation);
      }
      await sleep(interval_ms * (0.5 + this.random()));
    }
    await Promise.all(inflight);
  }

  stop(): void {
    this.stopped = true;
  }

  private async step(): Promise<void> {
    const node = Math.floor(this.random() * this.cluster.size);
    const patient = Math.floor(this.random() * this.patients.length);
    const provider = Math.floor(this.random() * this.providers.length);
    const roll = this.random();
    const patientId = this.patients[patient] as Identity;
    const providerId = this.providers[provider] as Identity;
    if (roll < 0.15 && this.liveGrants.length > 0) {
      const pick = Math.floor(this.random() * this.liveGrants.length);
      const grant = this.liveGrants.splice(pick, 1)[0] as { id: string; patient: number; provider: number };
      const owner = this.patients[grant.patient] as Identity;
      const tx = this.build("consent.revoke", { consent: hexBytes(grant.id) }, owner);
      await this.send("revoke", tx, node, {
        patient: owner.did,
        provider: (this.providers[grant.provider] as Identity).did,
        consent: grant.id,
      });
      return;
    }
    if (roll < 0.4) {
      const now = Date.now();
      const tx = this.build(
        "consent.grant",
        {
          grantee: providerId.did,
          categories: ["labs"],
          records: [],
          purposes: ["TREAT"],
          notBefore: now - 60_000,
          expires: now + 86_400_000,
        },
        patientId,
      );
      const op = await this.send("grant", tx, node, { patient: patientId.did, provider: providerId.did });
      if (op.outcome === "ok" && op.code === "ok") this.liveGrants.push({ id: op.id, patient, provider });
      return;
    }
    const tx = this.build(
      "access.log",
      { patient: patientId.did, category: "labs", purpose: "TREAT" },
      providerId,
    );
    await this.send("access", tx, node, { patient: patientId.did, provider: providerId.did });
  }

  /** Submits `tx` to `node`, waiting for its commit, and records the operation. */
  private async send(
    kind: OpKind,
    tx: BuiltTx,
    node: number,
    about: { patient: string; provider: string; consent?: string },
  ): Promise<Op> {
    const op: Op = {
      id: tx.id,
      kind,
      node,
      ...about,
      invokedAt: Date.now(),
      completedAt: 0,
      outcome: "info",
    };
    try {
      const answer = await httpJson({
        base: this.cluster.apiUrl(node),
        method: "POST",
        path: `/txs?wait=true&timeoutMs=${submit_wait_ms}`,
        body: { encoded: toHex(tx.encoded) },
        timeoutMs: request_timeout_ms,
        localAddress: this.cluster.clientAddress,
      });
      const body = answer.body;
      if (answer.status === 200 && body.status === "committed") {
        const result = body.result as {
          status: string;
          code: string;
          decision?: AccessDecision;
          cites?: string;
        };
        op.outcome = "ok";
        op.height = body.height as number;
        op.code = result.status === "ok" ? "ok" : result.code;
        if (result.decision !== undefined) op.decision = result.decision;
        if (result.cites !== undefined) op.cites = result.cites;
      } else if (answer.status >= 400 && answer.status < 500) {
        op.outcome = "fail";
        op.error = String((body.error as { code?: string } | undefined)?.code ?? answer.status);
      } else {
        op.error = String(
          (body.error as { code?: string } | undefined)?.code ?? body.status ?? answer.status,
        );
      }
    } catch (error) {
      op.error = error instanceof Error ? error.message : String(error);
    }
    op.completedAt = Date.now();
    this.history.push(op);
    return op;
  }
}

/** The DID of the member whose secret is `secret`. */
export function memberDid(secret: Uint8Array): string {
  return publicKeyToDid(publicKeyFromSecretKey(secret));
}

function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, "hex"));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
