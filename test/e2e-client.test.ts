// Goal: the whole consent-and-audit story of issue 5 works through @medledger/client alone, on a real
// 3-node cluster, and no record plaintext is ever at rest on any node. Method: three nodes started
// in-process (real SQLite, libp2p over TCP, each serving its API on 127.0.0.1); one MedledgerClient per
// node; every step (registrations, records, consents, reads, break-glass, recovery, erasure) is a
// client call, and the test reads the nodes only to wait for the vault's erasure and to scan every
// chain.db and vault.db file (with their WAL) of every data directory for the plaintext bytes.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type ClientError,
  type EventStream,
  generateIdentity,
  generateKey,
  type Identity,
  identityOf,
  isClientError,
  type LedgerStreamEvent,
  MedledgerClient,
  rotatedIdentity,
  type TxBuilder,
} from "@medledger/client";
import { type MedledgerNode, startNode } from "@medledger/node";
import { type Signer, sha256, toHex, utf8 } from "@medledger/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestNetwork, testNetwork, waitFor } from "../packages/node/test/node-helpers.js";

const ADMIN_TOKEN = "c".repeat(64);
const DAY_MS = 86_400_000;

let net: TestNetwork;
let nodes: MedledgerNode[] = [];
let clients: MedledgerClient[] = [];

beforeAll(async () => {
  net = await testNetwork(3, "client-e2e");
  nodes = await Promise.all(
    net.nodeSecrets.map((secret, index) =>
      startNode({
        dataDir: net.dirs[index] as string,
        genesis: net.genesis,
        nodeSecretKey: secret,
        listen: [net.listen[index] as string],
        peers: net.peersOf(index),
        tickMs: 50,
        api: { host: "127.0.0.1", port: 0, adminToken: ADMIN_TOKEN },
      }),
    ),
  );
  clients = nodes.map(
    (node) =>
      new MedledgerClient({ baseUrl: node.apiUrl as string, adminToken: ADMIN_TOKEN, timeoutMs: 20_000 }),
  );
});

afterAll(async () => {
  await Promise.all(nodes.map((node) => node.stop()));
  net?.cleanup();
});

/** The ClientError `promise` rejects with (fails the test if it resolves). */
async function failure(promise: Promise<unknown>): Promise<ClientError> {
  try {
    await promise;
  } catch (error) {
    if (isClientError(error)) return error;
    throw error;
  }
  throw new Error("expected a ClientError");
}

/** Collects a stream's events in the background. */
function collect(stream: EventStream): { events: LedgerStreamEvent[]; done: Promise<void> } {
  const out: LedgerStreamEvent[] = [];
  const done = (async () => {
    for await (const event of stream) out.push(event);
  })();
  return { events: out, done };
}

/** The chain.db or vault.db files of node `index` (main file, WAL and shared memory), with their bytes. */
function databaseFiles(index: number, kind: "chain" | "vault"): { path: string; bytes: Buffer }[] {
  const dir = net.dirs[index] as string;
  const pattern = kind === "chain" ? /^chain\.db(-wal|-shm)?$/ : /^vault\.db(-wal|-shm)?$/;
  return readdirSync(dir)
    .filter((name) => pattern.test(name))
    .map((name) => ({ path: join(dir, name), bytes: readFileSync(join(dir, name)) }));
}

/** The paths of the files among `files` that contain `needle`. */
function holding(files: { path: string; bytes: Buffer }[], needle: Uint8Array): string[] {
  return files.filter((file) => file.bytes.indexOf(Buffer.from(needle)) !== -1).map((file) => file.path);
}

describe("every route through the client against real nodes", () => {
  it("answers in the documented shapes, pages, streams blocks and maps errors", async () => {
    const [c0, c1] = clients as [MedledgerClient, MedledgerClient];
    await waitFor(() => nodes.every((node) => node.ledger.status().leader !== ""), 20_000, "a leader");
    const status = await c1.status();
    expect(status).toMatchObject({ chain: net.chain, halted: false, backfilling: false });
    expect(status.members.map((entry) => entry.did)).toContain(net.members[0]?.did);
    const txs = await c1.txBuilder();

    const blocks = await c1.events();
    const seen = collect(blocks);
    const patient = generateIdentity();
    const register = txs.patientRegister(patient);
    expect(await c0.submit(register)).toEqual({ id: register.id, status: "pending" });
    const committed = await c0.waitForCommit(register.id, { timeoutMs: 15_000 });
    expect(committed.result).toEqual({ status: "ok", code: "ok" });
    expect(await c0.submit(register)).toMatchObject({ status: "committed", height: committed.height });
    await expect
      .poll(() => seen.events.some((event) => event.type === "block"), { timeout: 10_000 })
      .toBe(true);
    blocks.close();
    await seen.done;

    const tip = committed.height;
    const page = await c1.getBlocks({ from: 1, limit: 1 });
    expect(page.blocks.map((block) => block.height)).toEqual([1]);
    expect(page.next).toBe(tip > 1 ? 2 : null);
    const block = await c1.getBlock(committed.height);
    expect(block.ids).toContain(register.id);
    expect(await c1.verifyTx(register.id)).toMatchObject({ id: register.id, height: committed.height });
    expect(await failure(c1.getBlock(1_000_000))).toMatchObject({ code: "BLOCK_NOT_FOUND", status: 404 });
    expect(await c1.getTx("0".repeat(64))).toEqual({ id: "0".repeat(64), status: "unknown" });
    expect(await c1.metrics()).toContain("medledger_block_height");

    const foreign = new MedledgerClient({ baseUrl: nodes[0]?.apiUrl as string, chain: "another-chain" });
    expect(await failure(foreign.submit(foreign.txs.patientRegister(generateIdentity())))).toMatchObject({
      code: "TX_INVALID",
      status: 400,
      reason: "chain-mismatch",
    });
    const rejected = await failure(c1.commit(txs.patientRegister(patient)));
    expect(rejected).toMatchObject({ code: "TX_REJECTED", reason: "identity-exists" });
    const wrongAdmin = new MedledgerClient({
      baseUrl: nodes[0]?.apiUrl as string,
      adminToken: "d".repeat(64),
    });
    expect(await failure(wrongAdmin.audit(patient.did))).toMatchObject({
      code: "ADMIN_TOKEN_INVALID",
      status: 401,
    });
    expect(await failure(c0.audit(patient.did, { as: generateIdentity() }))).toMatchObject({
      code: "FORBIDDEN",
      status: 403,
    });

    // Consents page by cursor.
    const provider = generateIdentity();
    await c0.commit(
      txs.providerRegister(identityOf(net.members[1] as Signer), {
        provider: provider.did,
        licenseHash: sha256(utf8("l")),
      }),
    );
    const grants = [0, 1, 2].map(() =>
      txs.consentGrant(patient, {
        grantee: provider.did,
        categories: ["allergies"],
        purposes: ["TREAT"],
        durationMs: DAY_MS,
      }),
    );
    for (const grant of grants) await c1.commit(grant);
    const first = await c1.consents(patient, { limit: 2 });
    expect(first.items).toHaveLength(2);
    const second = await c1.consents(patient, { limit: 2, after: first.next as string });
    expect([...first.items, ...second.items].map((row) => row.id)).toEqual(grants.map((grant) => grant.id));
    expect(second.next).toBeNull();
  });
});

describe("the issue 5 scenario through the client on a 3-node cluster", () => {
  it("registers, stores, grants, reads, audits, revokes, denies, breaks glass, recovers, erases, leaves no plaintext", async () => {
    const [c0, c1, c2] = clients as [MedledgerClient, MedledgerClient, MedledgerClient];
    await waitFor(() => nodes.every((node) => node.ledger.status().leader !== ""), 20_000, "a leader");
    for (const client of clients) {
      expect(await client.health()).toEqual({ status: "ok" });
      await expect.poll(async () => (await client.ready()).ready, { timeout: 20_000 }).toBe(true);
    }
    const txs: TxBuilder = await c0.txBuilder();
    expect(txs.chain).toBe(net.chain);
    for (const client of [c1, c2]) await client.txBuilder();

    // Node 0's hospital (member 0) holds the records; its clinician is registered by that member.
    const member: Identity = identityOf(net.members[0] as Signer);
    const patient = generateIdentity();
    const provider = generateIdentity();
    await c1.commit(txs.patientRegister(patient));
    await c2.commit(
      txs.providerRegister(member, { provider: provider.did, licenseHash: sha256(utf8("licence 0042")) }),
    );

    // Two records at node 0: labs (reachable by break-glass) and mental-health (sensitive: not).
    const marker = `PLAINTEXT-${toHex(sha256(utf8(String(Math.random())))).slice(0, 24)}`;
    const content = utf8(`{"resourceType":"Observation","code":"glucose","value":5.4,"note":"${marker}"}`);
    const sensitiveMarker = `SENSITIVE-${marker}`;
    const sensitiveContent = utf8(`{"resourceType":"Condition","note":"${sensitiveMarker}"}`);
    const record = "lab-0001";
    const sensitive = "mh-0001";
    const anchor = txs.recordAnchor(provider, {
      record,
      patient: patient.did,
      category: "labs",
      format: "Observation",
      content,
    });
    const stored = await c0.putRecord({ anchor, content });
    expect(stored).toMatchObject({ status: "committed", record, id: anchor.id });
    await c0.putRecord({
      anchor: txs.recordAnchor(provider, {
        record: sensitive,
        patient: patient.did,
        category: "mental-health",
        format: "Condition",
        content: sensitiveContent,
      }),
      content: sensitiveContent,
    });

    // Grant, then a permitted read that lands in the patient's audit trail (read from another node).
    const grant = txs.consentGrant(patient, {
      grantee: provider.did,
      categories: ["labs"],
      purposes: ["TREAT"],
      notBefore: Date.now() - 1000,
      durationMs: DAY_MS,
    });
    await c2.commit(grant);
    expect(
      await c1.checkAccess({
        provider: provider.did,
        patient: patient.did,
        category: "labs",
        purpose: "TREAT",
      }),
    ).toMatchObject({ decision: "permitted", cites: grant.id });
    const read = await c0.getRecord(record, {
      as: provider,
      accessLog: { patient: patient.did, category: "labs", purpose: "TREAT" },
    });
    expect(read).toMatchObject({ decision: "permitted", code: "consent", cites: grant.id, category: "labs" });
    expect(new TextDecoder().decode(read.content)).toBe(new TextDecoder().decode(content));
    await c1.waitForCommit(read.accessLog, { timeoutMs: 10_000 });
    const trail = await c1.audit(patient);
    expect(trail.items.find((row) => row.tx === read.accessLog)).toMatchObject({
      decision: "permitted",
      provider: provider.did,
      record,
      flagged: false,
    });

    // Revoke; the next read is denied (403), logged and flagged.
    const revoke = txs.consentRevoke(patient, { consent: grant });
    await c1.commit(revoke);
    const denied = await failure(
      c0.getRecord(record, {
        as: provider,
        accessLog: { patient: patient.did, category: "labs", purpose: "TREAT" },
      }),
    );
    expect(denied).toMatchObject({
      code: "ACCESS_DENIED",
      status: 403,
      decision: "denied",
      reason: "consent-revoked",
    });
    const deniedRow = (await c0.audit(patient.did)).items.find((row) => row.tx === denied.tx); // admin token
    expect(deniedRow).toMatchObject({ decision: "denied", code: "consent-revoked", flagged: true });
    const consents = await c2.consents(patient);
    expect(consents.items.find((row) => row.id === grant.id)?.revokedAt).toEqual(expect.any(Number));

    // A consent that has expired is no consent.
    const shortGrant = txs.consentGrant(patient, {
      grantee: provider.did,
      categories: ["labs"],
      purposes: ["HOPERAT"],
      notBefore: Date.now() - 1000,
      expires: Date.now() + 2_500,
    });
    await c0.commit(shortGrant);
    await expect
      .poll(
        async () =>
          (
            await c0.checkAccess({
              provider: provider.did,
              patient: patient.did,
              category: "labs",
              purpose: "HOPERAT",
            })
          ).code,
        { timeout: 10_000, interval: 250 },
      )
      .toBe("consent-expired");
    const expired = await failure(
      c0.getRecord(record, {
        as: provider,
        accessLog: { patient: patient.did, category: "labs", purpose: "HOPERAT" },
      }),
    );
    expect(expired).toMatchObject({ code: "ACCESS_DENIED", status: 403, reason: "consent-expired" });

    // Break-glass: the patient's stream on node 2 hears it; only the emergency scope opens.
    const stream = await c2.events({ patient });
    const heard = collect(stream);
    await c0.commit(
      txs.emergencyDeclare(provider, { patient: patient.did, reason: "unconscious in the ED" }),
    );
    const glass = await c0.getRecord(record, {
      as: provider,
      accessLog: { patient: patient.did, category: "labs", purpose: "ETREAT" },
    });
    expect(glass).toMatchObject({ decision: "emergency", code: "emergency" });
    const excluded = await failure(
      c0.getRecord(sensitive, {
        as: provider,
        accessLog: { patient: patient.did, category: "mental-health", purpose: "ETREAT" },
      }),
    );
    expect(excluded).toMatchObject({ code: "ACCESS_DENIED", reason: "emergency-scope-excluded" });
    await expect
      .poll(() => heard.events.map((event) => event.type), { timeout: 10_000 })
      .toEqual(["break-glass", "access", "access-denied"]);
    stream.close();
    await heard.done;
    const [breakGlass, access, accessDenied] = heard.events;
    expect(breakGlass).toMatchObject({ data: { patient: patient.did, provider: provider.did } });
    expect(access).toMatchObject({ data: { tx: glass.accessLog, decision: "emergency", flagged: true } });
    expect(accessDenied).toMatchObject({ data: { tx: excluded.tx, decision: "denied", record: sensitive } });

    // Guardian recovery: 2 of 3 guardians. One signature short is refused; two move the key.
    const guardians = [generateIdentity(), generateIdentity(), generateIdentity()];
    await c1.commit(
      txs.patientSetGuardians(patient, { guardians: guardians.map((g) => g.did), threshold: 2 }),
    );
    const newKey = generateKey().signer;
    const short = await failure(
      c0.commit(txs.keyRecover(guardians.slice(0, 1), { patient: patient.did, newKey: newKey.did })),
    );
    expect(short).toMatchObject({ code: "TX_INVALID", status: 400, reason: "guardian-threshold-not-met" });
    await c0.commit(
      txs.keyRecover([guardians[2], guardians[0]] as Identity[], {
        patient: patient.did,
        newKey: newKey.did,
      }),
    );
    const recovered = rotatedIdentity(patient, newKey);
    const oldKeyRead = await failure(c0.audit(patient));
    expect(oldKeyRead).toMatchObject({ code: "REQUEST_KEY_NOT_CURRENT", status: 401 });
    const oldKeyTx = await failure(c0.submit(txs.recordErase(patient, { record })));
    expect(oldKeyTx).toMatchObject({ code: "TX_INVALID", status: 400, reason: "key-not-current" });
    expect((await c0.audit(recovered)).items.length).toBeGreaterThanOrEqual(4);

    // Erasure by the recovered patient: the holder answers 410 from then on.
    await c1.commit(txs.recordErase(recovered, { record }));
    await waitFor(() => nodes[0]?.vault?.get(record).state === "erased", 10_000, "the erasure at the holder");
    const gone = await failure(
      c0.getRecord(record, {
        as: provider,
        accessLog: { patient: patient.did, category: "labs", purpose: "TREAT" },
      }),
    );
    expect(gone).toMatchObject({ code: "GONE", status: 410 });

    // One inclusion proof checked locally, and a tampered one refused.
    const detail = await c2.getTx(grant.id);
    expect(c2.verifyInclusion(detail)).toMatchObject({ id: grant.id, height: detail.height });
    expect(await c1.verifyTx(revoke.id)).toMatchObject({ id: revoke.id });
    const tampered = { ...detail, encoded: toHex(revoke.encoded) };
    expect(() => c2.verifyInclusion(tampered)).toThrow(
      expect.objectContaining({ code: "CLIENT_PROOF_INVALID" }),
    );

    // No plaintext at rest anywhere; the chain holds only the hash and the category.
    const needles = [content, sensitiveContent, utf8(marker), utf8(sensitiveMarker)];
    const scan = () => {
      for (let index = 0; index < nodes.length; index++) {
        const chain = databaseFiles(index, "chain");
        const vault = databaseFiles(index, "vault");
        expect(chain.map((file) => file.path)).toContain(join(net.dirs[index] as string, "chain.db"));
        expect(vault.map((file) => file.path)).toContain(join(net.dirs[index] as string, "vault.db"));
        for (const needle of needles) expect(holding([...chain, ...vault], needle)).toEqual([]);
        // The chain holds what the anchors declare (hash, category), the same on every node.
        expect(holding(chain, sha256(content))).not.toEqual([]);
        expect(holding(chain, sha256(sensitiveContent))).not.toEqual([]);
        expect(holding(chain, utf8("mental-health"))).not.toEqual([]);
      }
      // The scan sees the vault: node 0 still holds the sensitive record (encrypted, with its hash) and
      // kept nothing of the erased one, not even its hash.
      const holderVault = databaseFiles(0, "vault");
      expect(holding(holderVault, sha256(sensitiveContent))).not.toEqual([]);
      expect(holding(holderVault, sha256(content))).toEqual([]);
    };
    scan(); // while running: the WAL files are there
    await Promise.all(nodes.map((node) => node.stop()));
    scan(); // after the last checkpoints
  });
});
