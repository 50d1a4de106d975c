// Goal: the operator's path through the BUILT binary: network create → start 3 node processes →
// status shows 3 voters and a leader → a 4th hospital joins by the members' vote (members propose and
// vote through the CLI) until it is a voter → backup and restore round trip (the restored node starts
// with the same height and app hash) → verify passes on a good copy and names the height of a
// tampered block. Method: every step is a child process of dist/main.js; ports are reserved up front
// and passed as flags over the generated configs (flags win over the config file).
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts, openChainDb } from "@medledger/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, type Running, run, runJson, start } from "./helpers.js";

interface Summary {
  chain: string;
  nodes: Array<{
    name: string;
    member: string;
    memberKey: string;
    node: string;
    peerId: string;
    config: string;
  }>;
}
interface Status {
  node: string;
  leader: string | null;
  height: number;
  appHash: string;
  voters: string[];
  learners: string[];
}

const dir = mkdtempSync(join(tmpdir(), "medledger-cli-cluster-"));
const net = join(dir, "net");
const running: Running[] = [];
let summary: Summary;
let p2p: number[] = [];
let apis: number[] = [];
const TICK = ["--raft.tick-ms", "50", "--log.level", "warn"];

const api = (index: number) => `http://127.0.0.1:${apis[index]}`;
const address = (index: number) =>
  `/ip4/127.0.0.1/tcp/${p2p[index]}/p2p/${(summary.nodes[index] as Summary["nodes"][number]).peerId}`;

function startNodeProcess(index: number, extra: string[] = []): Running {
  const node = summary.nodes[index] as Summary["nodes"][number];
  const peers = summary.nodes
    .map((_, other) => other)
    .filter((other) => other !== index)
    .map(address);
  const child = start([
    "start",
    "--config",
    join(net, node.config),
    "--p2p.listen",
    `/ip4/127.0.0.1/tcp/${p2p[index]}`,
    "--p2p.peers",
    ...peers,
    "--api.port",
    String(apis[index]),
    ...TICK,
    ...extra,
  ]);
  running.push(child);
  return child;
}

beforeAll(async () => {
  const ports = await freePorts(10);
  p2p = ports.slice(0, 5);
  apis = ports.slice(5);
  summary = await runJson<Summary>([
    "network",
    "create",
    "--nodes",
    "3",
    "--out",
    net,
    "--chain",
    "cli-test",
  ]);
  await Promise.all([0, 1, 2].map((index) => startNodeProcess(index).waitFor(/started/)));
}, 60_000);

afterAll(async () => {
  await Promise.all(running.map((child) => child.stop()));
  rmSync(dir, { recursive: true, force: true });
});

describe("medledger on a 3-node network of processes", () => {
  it("network create wrote keys (0600), the genesis and one config per node", () => {
    expect(summary.nodes).toHaveLength(3);
    expect(statSync(join(net, "members", "member-0.key")).mode & 0o777).toBe(0o600);
    expect(statSync(join(net, "node-2", "node.key")).mode & 0o777).toBe(0o600);
    const genesis = JSON.parse(readFileSync(join(net, "genesis.json"), "utf8")) as { chain: string };
    expect(genesis.chain).toBe("cli-test");
  });

  it("status shows 3 voters and a leader", async () => {
    const status = await eventually(
      async () => {
        const answer = await runJson<Status>(["status", "--api", api(0)]);
        return answer.leader !== null && answer.voters.length === 3 ? answer : undefined;
      },
      30_000,
      "a leader",
    );
    expect(status.voters).toContain(status.leader);
    const table = await run(["status", "--api", api(1)]);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain("3 voters");
    expect(table.stdout).toContain("(leader)");
    const peers = await runJson<{ connected: number }>(["peers", "--api", api(2)]);
    expect(peers.connected).toBe(2);
  });

  it("the client commands: register, consent, record put/get, access check, break-glass, guardians, recovery, audit, erase", async () => {
    const key = (name: string) => join(dir, `${name}.key`);
    const did = async (name: string) => (await run(["keygen", "--out", key(name)])).stdout.trim();
    const [patient, doctor, guardianA, guardianB, newKey] = await Promise.all(
      ["patient", "doctor", "guardian-a", "guardian-b", "patient-new"].map(did),
    );
    const a = ["--api", api(0)];
    const ok = async (args: string[]) => {
      const result = await run([...args, ...a]);
      expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(0);
      return result.stdout;
    };
    const member0 = join(net, "members", "member-0.key");
    await ok(["patient", "register", "--key", key("patient")]);
    await ok(["patient", "register", "--key", key("guardian-a")]);
    await ok(["patient", "register", "--key", key("guardian-b")]);
    await ok([
      "provider",
      "register",
      "--key",
      member0,
      "--provider",
      doctor as string,
      "--license-hash",
      "ab".repeat(32),
    ]);
    const grant = JSON.parse(
      await ok([
        "consent",
        "grant",
        "--key",
        key("patient"),
        "--grantee",
        doctor as string,
        "--categories",
        "labs",
        "--purposes",
        "TREAT",
        "--json",
      ]),
    ) as { consent: string };
    const consents = JSON.parse(await ok(["consent", "list", "--key", key("patient"), "--json"])) as {
      items: { id: string }[];
    };
    expect(consents.items.map((item) => item.id)).toContain(grant.consent);
    const record = ["--record", "lab-1", "--patient", patient as string, "--category", "labs"];
    await ok(["record", "put", "--key", key("doctor"), ...record, "--content", "potassium 4.1 mmol/L"]);
    expect(await ok(["record", "get", "--key", key("doctor"), ...record, "--purpose", "TREAT"])).toBe(
      "potassium 4.1 mmol/L",
    );
    const check = [
      "access",
      "check",
      "--provider",
      doctor as string,
      "--patient",
      patient as string,
      "--category",
      "labs",
    ];
    expect(await ok([...check, "--purpose", "TREAT"])).toMatch(/^permitted \(consent\)/);
    const denied = await run([...check, "--purpose", "HRESCH", ...a]);
    expect(denied.code).toBe(4);
    const read = await run(["record", "get", "--key", key("doctor"), ...record, "--purpose", "HRESCH", ...a]);
    expect(read.code).toBe(4);
    expect(read.stderr).toMatch(/^medledger: ACCESS_DENIED: /);
    await ok(["consent", "revoke", "--key", key("patient"), "--consent", grant.consent]);
    await ok([
      "emergency",
      "declare",
      "--key",
      key("doctor"),
      "--patient",
      patient as string,
      "--reason",
      "unconscious on arrival",
    ]);
    const audit = JSON.parse(await ok(["audit", "--key", key("patient"), "--json"])) as {
      items: { decision: string }[];
    };
    expect(audit.items.map((item) => item.decision)).toEqual(["permitted", "denied"]);
    await ok([
      "guardians",
      "set",
      "--key",
      key("patient"),
      "--guardians",
      `${guardianA},${guardianB}`,
      "--threshold",
      "2",
    ]);
    await ok([
      "key",
      "recover",
      "--key",
      key("guardian-a"),
      key("guardian-b"),
      "--patient",
      patient as string,
      "--new-key",
      newKey as string,
    ]);
    await ok([
      "record",
      "erase",
      "--key",
      key("patient-new"),
      "--did",
      patient as string,
      "--record",
      "lab-1",
    ]);
    const gone = await run(["record", "get", "--key", key("doctor"), ...record, "--purpose", "TREAT", ...a]);
    expect(gone.code).toBe(3);
    expect(gone.stderr).toMatch(/^medledger: GONE: /);
  }, 60_000);

  it("a 4th hospital joins by the members' vote and becomes a voter", async () => {
    const memberKey = join(dir, "member-3.key");
    const nodeKey = join(dir, "node-3.key");
    const member = (await run(["keygen", "--out", memberKey])).stdout.trim();
    const node = (await run(["keygen", "--out", nodeKey])).stdout.trim();
    const joining = start([
      "join",
      "--genesis",
      join(net, "genesis.json"),
      "--key",
      nodeKey,
      "--data-dir",
      join(dir, "node-3"),
      "--p2p.listen",
      `/ip4/127.0.0.1/tcp/${p2p[3]}`,
      "--p2p.peers",
      address(0),
      address(1),
      address(2),
      "--api.port",
      String(apis[3]),
      "--api",
      api(0),
      "--member",
      member,
      ...TICK,
    ]);
    running.push(joining);
    await joining.waitFor(/waiting for the members' vote/);
    const proposal = await runJson<{ id: string; result: { status: string } }>([
      "members",
      "propose",
      "--key",
      join(net, "members", "member-0.key"),
      "--add",
      member,
      "--nodes",
      node,
      "--api",
      api(1),
    ]);
    expect(proposal.result.status).toBe("ok");
    const vote = await run([
      "members",
      "vote",
      "--key",
      join(net, "members", "member-1.key"),
      "--proposal",
      proposal.id,
      "--api",
      api(2),
    ]);
    expect(vote.code, vote.stderr).toBe(0);
    await joining.waitFor(/voter: did:key:\S+ votes in the consortium/, 60_000);
    const members = await runJson<{ voters: string[] }>(["members", "list", "--api", api(0)]);
    expect(members.voters).toContain(node);
    expect(members.voters).toHaveLength(4);
  }, 90_000);

  it("backup and restore round-trip a node: the restored node starts with the same height and app hash", async () => {
    const online = await runJson<{ tip: { height: number } }>([
      "backup",
      "--data-dir",
      join(net, "node-0", "data"),
      "--out",
      join(dir, "online.backup"),
    ]);
    expect(online.tip.height).toBeGreaterThanOrEqual(2);

    const before = await runJson<Status>(["status", "--api", api(2)]);
    const node2 = running[2] as Running;
    expect(await node2.stop()).toBe(0);
    const backup = await runJson<{ tip: { height: number; appHash: string } }>([
      "backup",
      "--data-dir",
      join(net, "node-2", "data"),
      "--out",
      join(dir, "node-2.backup"),
    ]);
    expect(backup.tip).toMatchObject({ height: before.height, appHash: before.appHash });
    const restoredDir = join(dir, "restored-2");
    const restored = await run(["restore", "--from", join(dir, "node-2.backup"), "--data-dir", restoredDir]);
    expect(restored.code, restored.stderr).toBe(0);
    const again = await run(["restore", "--from", join(dir, "node-2.backup"), "--data-dir", restoredDir]);
    expect(again.code).toBe(4);
    expect(again.stderr.trim().split("\n")).toHaveLength(1);

    const node = startNodeProcess(2, ["--data-dir", restoredDir]);
    await node.waitFor(/started/);
    const after = await runJson<Status>(["status", "--api", api(2)]);
    expect(after.height).toBe(before.height);
    expect(after.appHash).toBe(before.appHash);
  }, 60_000);

  it("verify passes on a good copy and names the height of a tampered block", async () => {
    const copy = join(dir, "verify-copy");
    expect((await run(["restore", "--from", join(dir, "node-2.backup"), "--data-dir", copy])).code).toBe(0);
    const good = await runJson<{ ok: boolean; height: number }>(["verify", "--data-dir", copy]);
    expect(good.ok).toBe(true);
    expect(good.height).toBeGreaterThanOrEqual(2);

    const tampered = join(dir, "verify-tampered");
    expect((await run(["restore", "--from", join(dir, "node-2.backup"), "--data-dir", tampered])).code).toBe(
      0,
    );
    const height = 2;
    const db = openChainDb({ path: join(tampered, "chain.db") });
    const row = db.sqlite.prepare("SELECT encoded FROM blocks WHERE height = ?").get(height) as {
      encoded: Buffer;
    };
    const bytes = Buffer.from(row.encoded);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = (bytes[at] ?? 0) ^ 0x01;
    db.sqlite.prepare("UPDATE blocks SET encoded = ? WHERE height = ?").run(bytes, height);
    db.close();
    const bad = await run(["verify", "--data-dir", tampered]);
    expect(bad.code).toBe(1);
    const lines = bad.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^medledger: CHAIN_INVALID: height ${height}: block ${height}`));
  }, 30_000);
});
