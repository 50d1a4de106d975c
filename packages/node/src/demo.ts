/**
 * The demo consortium: three fictional hospitals, each running a real node (SQLite in a data directory,
 * libp2p over TCP on 127.0.0.1), seeded with providers, patients, a record anchor, consents and a set
 * of accesses that shows every decision: permitted by consent, denied (no consent, wrong purpose,
 * revoked), break-glass for the emergency scope and denied for a sensitive category. Names are for
 * the printout only; on the ledger everyone is a DID.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Category,
  decodeSignedTxWithId,
  encodeSignedTx,
  type Genesis,
  generateSecretKey,
  type Purpose,
  publicKeyFromSecretKey,
  publicKeyToDid,
  type Signer,
  sha256,
  signTx,
  type TxBodies,
  type TxKind,
  type TxResult,
  utf8,
} from "@medledger/protocol";
import { nodeSigner } from "@medledger/protocol/node";
import { freePorts } from "./demo-ports.js";
import type { Logger } from "./logger.js";
import { peerIdFromPublicKey } from "./network/identity.js";
import { type MedledgerNode, startNode } from "./node.js";

/** Options of the demo. */
export interface DemoOptions {
  /** Where the nodes keep their data (default: a new temporary directory). */
  readonly dataDir?: string;
  /** First TCP port; node i listens on basePort + i for peers (default: any free port). */
  readonly basePort?: number;
  /** First HTTP port; node i serves its API on apiBasePort + i (default: any free port). */
  readonly apiBasePort?: number;
  readonly logger?: Logger;
  /** Where the demo's narration goes (default: standard output). */
  readonly print?: (line: string) => void;
}

/** A running demo consortium. */
export interface Demo {
  readonly dataDir: string;
  readonly chain: string;
  readonly nodes: readonly MedledgerNode[];
  /** Stops every node. */
  stop(): Promise<void>;
}

const HOSPITALS = ["St Aurelia General", "Northbridge Children's", "Harbourside Clinic"] as const;
const DAY_MS = 86_400_000;
const COMMIT_TIMEOUT_MS = 20_000;

/** Starts the demo consortium and seeds it; resolves once every demo transaction is committed. */
export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "medledger-demo-"));
  const chain = "medledger-demo";
  const members = HOSPITALS.map(() => nodeSigner(generateSecretKey()));
  const nodeSecrets = HOSPITALS.map(() => generateSecretKey());
  const genesis: Genesis = {
    chain,
    time: Date.now(),
    members: members.map((member, index) => ({
      member: member.did,
      nodes: [publicKeyToDid(publicKeyFromSecretKey(nodeSecrets[index] as Uint8Array))],
    })),
  };
  const ports = HOSPITALS.map((_, index) => (options.basePort === undefined ? 0 : options.basePort + index));
  const apiPorts =
    options.apiBasePort === undefined
      ? await freePorts(HOSPITALS.length)
      : HOSPITALS.map((_, index) => (options.apiBasePort as number) + index);
  const nodes = await startNodes({ dataDir, genesis, nodeSecrets, ports, apiPorts, options });
  const demo: Demo = {
    dataDir,
    chain,
    nodes,
    stop: async () => void (await Promise.all(nodes.map((n) => n.stop()))),
  };
  try {
    await waitForLeader(nodes);
    print(`medledger demo: ${nodes.length} hospital nodes on chain "${chain}", data in ${dataDir}`);
    nodes.forEach((node, index) => {
      print(`  ${HOSPITALS[index]}: API ${node.apiUrl ?? "(none)"}  p2p ${node.addresses()[0] ?? "(none)"}`);
    });
    await seed(new Seeder(chain, nodes), members, print);
    const status = await waitForAgreement(nodes);
    print(
      `all ${nodes.length} nodes agree: height ${status.height}, app hash ${status.appHash.slice(0, 16)}…`,
    );
    const first = nodes[0]?.apiUrl ?? "";
    print("try next:");
    print(`  curl ${first}/status             # role, term, leader, height, peers, members`);
    print(`  curl '${first}/blocks?from=1&limit=5'`);
    print(`  curl ${first}/metrics            # Prometheus`);
    print(`  open ${first}/docs               # the OpenAPI document and UI`);
    return demo;
  } catch (error) {
    await demo.stop();
    throw error;
  }
}

async function startNodes(parts: {
  dataDir: string;
  genesis: Genesis;
  nodeSecrets: Uint8Array[];
  ports: number[];
  apiPorts: number[];
  options: DemoOptions;
}): Promise<MedledgerNode[]> {
  const { ports, nodeSecrets } = parts;
  const chosen = ports.every((port) => port > 0) ? ports : await freePorts(ports.length);
  const addresses = chosen.map(
    (port, index) =>
      `/ip4/127.0.0.1/tcp/${port}/p2p/${peerIdFromPublicKey(publicKeyFromSecretKey(nodeSecrets[index] as Uint8Array))}`,
  );
  return Promise.all(
    nodeSecrets.map((secret, index) =>
      startNode({
        dataDir: join(parts.dataDir, `node-${index}`),
        genesis: parts.genesis,
        nodeSecretKey: secret,
        listen: [`/ip4/127.0.0.1/tcp/${chosen[index]}`],
        peers: addresses.filter((_, other) => other !== index),
        api: { host: "127.0.0.1", port: parts.apiPorts[index] as number },
        ...(parts.options.logger === undefined ? {} : { logger: parts.options.logger }),
      }),
    ),
  );
}

async function waitForLeader(nodes: readonly MedledgerNode[]): Promise<void> {
  const deadline = Date.now() + COMMIT_TIMEOUT_MS;
  while (!nodes.some((node) => node.ledger.status().role === "leader")) {
    if (Date.now() > deadline) throw new Error("the demo nodes elected no leader");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function waitForAgreement(
  nodes: readonly MedledgerNode[],
): Promise<{ height: number; appHash: string }> {
  const deadline = Date.now() + COMMIT_TIMEOUT_MS;
  for (;;) {
    const statuses = nodes.map((node) => node.ledger.status());
    const first = statuses[0];
    if (
      first !== undefined &&
      statuses.every((s) => s.height === first.height && s.appHash === first.appHash)
    ) {
      return first;
    }
    if (Date.now() > deadline) throw new Error("the demo nodes did not converge on one chain");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Signs demo transactions and submits them through the nodes in turn. */
class Seeder {
  private nonce = 0;
  private turn = 0;

  constructor(
    private readonly chain: string,
    private readonly nodes: readonly MedledgerNode[],
  ) {}

  /** Submits one transaction and resolves with its committed result. */
  async send<K extends TxKind>(
    kind: K,
    signer: Signer,
    body: TxBodies[K],
  ): Promise<{ id: Uint8Array; result: TxResult }> {
    const unsigned = {
      v: 1 as const,
      chain: this.chain,
      kind,
      signer: signer.did,
      nonce: this.nonce++,
      expires: Date.now() + 600_000,
      body,
    };
    const encoded = encodeSignedTx(signTx(unsigned, [signer]));
    const node = this.nodes[this.turn++ % this.nodes.length] as MedledgerNode;
    node.ledger.submit(encoded);
    const { id } = decodeSignedTxWithId(encoded);
    const committed = await node.ledger.waitForTx(id, COMMIT_TIMEOUT_MS);
    return { id, result: committed.result };
  }
}

function person(name: string): Signer {
  // Demo keys are derived from random bytes and a name, so every run has fresh identities.
  return nodeSigner(sha256(utf8(`${name}:${Array.from(generateSecretKey()).join(",")}`)));
}

async function seed(
  seeder: Seeder,
  members: readonly Signer[],
  print: (line: string) => void,
): Promise<void> {
  const [aurelia, northbridge, harbourside] = members as [Signer, Signer, Signer];
  const drAdams = person("Dr Adams (St Aurelia, cardiology)");
  const drBaker = person("Dr Baker (Northbridge, paediatrics)");
  const drChen = person("Dr Chen (Harbourside, emergency)");
  const patients = ["Patient 1", "Patient 2", "Patient 3"].map(person) as [Signer, Signer, Signer];
  const [alice] = patients;
  const now = Date.now();

  print("seeding: providers, patients, a record, consents and accesses");
  await seeder.send("provider.register", aurelia, {
    provider: drAdams.did,
    licenseHash: sha256(utf8("licence A-1")),
  });
  await seeder.send("provider.register", northbridge, {
    provider: drBaker.did,
    licenseHash: sha256(utf8("licence N-7")),
  });
  await seeder.send("provider.register", harbourside, {
    provider: drChen.did,
    licenseHash: sha256(utf8("licence H-3")),
  });
  for (const patient of patients) await seeder.send("patient.register", patient, {});
  await seeder.send("patient.set-guardians", alice, {
    guardians: [patients[1].did, patients[2].did],
    threshold: 2,
  });
  await seeder.send("record.anchor", drAdams, {
    record: "aurelia:lab-0001",
    patient: alice.did,
    category: "labs",
    format: "Observation",
    contentHash: sha256(utf8("demo lab result: potassium 4.1 mmol/L")),
  });
  const grant = await seeder.send("consent.grant", alice, {
    grantee: drAdams.did,
    categories: ["labs", "medications"],
    records: [],
    purposes: ["TREAT"],
    notBefore: now - 60_000,
    expires: now + 30 * DAY_MS,
  });

  const access = async (
    who: string,
    provider: Signer,
    category: Category,
    purpose: Purpose,
  ): Promise<void> => {
    const { result } = await seeder.send("access.log", provider, { patient: alice.did, category, purpose });
    print(`  ${who} reads ${category} for ${purpose}: ${result.decision ?? result.status} (${result.code})`);
  };
  await access("Dr Adams", drAdams, "labs", "TREAT");
  await access("Dr Baker", drBaker, "labs", "TREAT");
  await access("Dr Adams", drAdams, "labs", "HRESCH");
  await seeder.send("consent.revoke", alice, { consent: grant.id });
  print("  Patient 1 revokes Dr Adams' consent");
  await access("Dr Adams", drAdams, "labs", "TREAT");
  await seeder.send("emergency.declare", drChen, { patient: alice.did, reason: "unconscious on arrival" });
  print("  Dr Chen declares a break-glass emergency for Patient 1");
  await access("Dr Chen", drChen, "allergies", "ETREAT");
  await access("Dr Chen", drChen, "mental-health", "ETREAT");
}
