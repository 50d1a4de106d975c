// Goal: the consent-and-audit story works end to end through HTTP on a 3-node cluster over real sockets.
// Method: three nodes in this process, each serving its API on 127.0.0.1; a patient, a provider and a
// record anchored at the provider's hospital; grant, read, revoke, denied read, break-glass with the
// patient's event stream watching, erasure. Every step goes through fetch, signed as a client would.
import { randomBytes } from "node:crypto";
import { fromHex, type Signer, signRequest, utf8 } from "@medledger/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACCESS_LOG_HEADER } from "../src/api/routes/records.js";
import { type MedledgerNode, startNode } from "../src/node.js";
import { ADMIN, accessLogOf, anchorOf, people, registerProvider, signed } from "./api-helpers.js";
import { type TestNetwork, testNetwork, waitFor } from "./node-helpers.js";

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field below
type Json = any;

let net: TestNetwork;
let nodes: MedledgerNode[] = [];
const who = people("e2e");

function url(index: number, path: string): string {
  return `${(nodes[index] as MedledgerNode).apiUrl}${path}`;
}

function signedHeaders(path: string, signer: Signer): Record<string, string> {
  return {
    ...signRequest(
      { method: "GET", path, body: new Uint8Array(0) },
      {
        signer: signer.did,
        key: signer,
        created: Math.floor(Date.now() / 1000),
        nonce: randomBytes(16).toString("base64url"),
      },
    ),
  };
}

async function post(index: number, path: string, body: unknown): Promise<{ status: number; json: Json }> {
  const response = await fetch(url(index, path), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

async function get(index: number, path: string, headers: Record<string, string> = {}) {
  const response = await fetch(url(index, path), { headers });
  return { status: response.status, json: (await response.json()) as Json };
}

async function commit(index: number, tx: { json: unknown }): Promise<void> {
  const answer = await post(index, "/txs?wait=true&timeoutMs=15000", tx.json);
  expect(answer.status, JSON.stringify(answer.json)).toBe(200);
  expect(answer.json.result.status).toBe("ok");
}

async function readRecord(index: number, record: string, log: { hex: string }) {
  const path = `/records/${record}`;
  return get(index, path, { ...signedHeaders(path, who.provider), [ACCESS_LOG_HEADER]: log.hex });
}

beforeAll(async () => {
  net = await testNetwork(3, "api-e2e");
  nodes = await Promise.all(
    net.nodeSecrets.map((secret, index) =>
      startNode({
        dataDir: net.dirs[index] as string,
        genesis: net.genesis,
        nodeSecretKey: secret,
        listen: [net.listen[index] as string],
        peers: net.peersOf(index),
        tickMs: 50,
        api: { host: "127.0.0.1", port: 0, ...(index === 0 ? { adminToken: ADMIN } : {}) },
      }),
    ),
  );
  await waitFor(
    () => nodes.every((node) => node.ledger.status().leader !== ""),
    20_000,
    "a leader everywhere",
  );
});

afterAll(async () => {
  await Promise.all(nodes.map((node) => node.stop()));
  net?.cleanup();
});

describe("a 3-node cluster through HTTP", () => {
  it("grant, read, audit, revoke, denied, break-glass with notification, erasure", async () => {
    for (let index = 0; index < 3; index++) expect((await get(index, "/ready")).status).toBe(200);
    const chain = net.chain;
    const member = net.members[0] as Signer; // node 0's hospital: it holds the record
    await commit(1, signed(chain, "patient.register", who.patient, {}));
    await commit(2, registerProvider(chain, member, who.provider));

    const record = "e2e-record-1";
    const content = utf8('{"resourceType":"Observation","code":"glucose","value":5.4}');
    const anchor = anchorOf(chain, who.provider, {
      record,
      patient: who.patient.did,
      category: "labs",
      content,
    });
    const stored = await post(0, "/records", {
      anchor: anchor.json,
      content: Buffer.from(content).toString("base64"),
    });
    expect(stored.status, JSON.stringify(stored.json)).toBe(201);

    const grant = signed(chain, "consent.grant", who.patient, {
      grantee: who.provider.did,
      categories: ["labs"],
      records: [],
      purposes: ["TREAT"],
      notBefore: Date.now() - 1000,
      expires: Date.now() + 86_400_000,
    });
    await commit(2, grant);

    const permitted = accessLogOf(chain, who.provider, {
      patient: who.patient.did,
      category: "labs",
      purpose: "TREAT",
      record,
    });
    const read = await readRecord(0, record, permitted);
    expect(read.status, JSON.stringify(read.json)).toBe(200);
    expect(Buffer.from(read.json.content, "base64").toString()).toBe(Buffer.from(content).toString());
    expect(read.json.decision).toBe("permitted");

    // The access is in the audit trail, read from another node by the patient.
    const auditPath = `/patients/${who.patient.did}/audit`;
    await waitFor(
      () => (nodes[1] as MedledgerNode).ledger.committedTx(Buffer.from(permitted.id, "hex")) !== null,
      10_000,
      "the access on node 1",
    );
    const audit = await get(1, auditPath, signedHeaders(auditPath, who.patient));
    expect(audit.status).toBe(200);
    expect(audit.json.items.map((row: { tx: string }) => row.tx)).toContain(permitted.id);

    await commit(1, signed(chain, "consent.revoke", who.patient, { consent: Buffer.from(grant.id, "hex") }));
    const denied = accessLogOf(chain, who.provider, {
      patient: who.patient.did,
      category: "labs",
      purpose: "TREAT",
      record,
    });
    const refused = await readRecord(0, record, denied);
    expect(refused.status).toBe(403);
    expect(refused.json.error).toMatchObject({ code: "ACCESS_DENIED", decision: "denied", tx: denied.id });
    const afterDenial = await get(0, auditPath, { authorization: `Bearer ${ADMIN}` });
    const deniedRow = afterDenial.json.items.find((row: { tx: string }) => row.tx === denied.id);
    expect(deniedRow).toMatchObject({ decision: "denied", flagged: true });

    // Break-glass, watched by the patient's event stream on node 2.
    const eventsPath = `/events?patient=${encodeURIComponent(who.patient.did)}`;
    const controller = new AbortController();
    const stream = await fetch(url(2, eventsPath), {
      headers: signedHeaders(eventsPath, who.patient),
      signal: controller.signal,
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get("content-type")).toContain("text/event-stream");
    const received = collect(stream);
    await commit(
      0,
      signed(chain, "emergency.declare", who.provider, {
        patient: who.patient.did,
        reason: "unconscious in the ED",
      }),
    );
    const emergency = accessLogOf(chain, who.provider, {
      patient: who.patient.did,
      category: "labs",
      purpose: "ETREAT",
      record,
    });
    const glass = await readRecord(0, record, emergency);
    expect(glass.status, JSON.stringify(glass.json)).toBe(200);
    expect(glass.json.decision).toBe("emergency");
    await waitFor(
      () => received.text.includes("event: break-glass") && received.text.includes(emergency.id),
      10_000,
      "the notifications",
    );
    controller.abort();
    expect(received.text).toContain(`"provider":"${who.provider.did}"`);

    await commit(1, signed(chain, "record.erase", who.patient, { record }));
    await waitFor(
      () => (nodes[0] as MedledgerNode).vault?.get(record).state === "erased",
      10_000,
      "the erasure at the holder",
    );
    const after = accessLogOf(chain, who.provider, {
      patient: who.patient.did,
      category: "labs",
      purpose: "TREAT",
      record,
    });
    const gone = await readRecord(0, record, after);
    expect(gone.status).toBe(410);
    expect(gone.json.error.code).toBe("GONE");
    // Even that attempt was logged before the answer: the committed access.log says record-erased.
    const logged = (nodes[0] as MedledgerNode).ledger.committedTx(fromHex(after.id));
    expect(logged?.result).toMatchObject({ decision: "denied", code: "record-erased", flagged: true });
    // Other nodes do not hold it.
    const elsewhere = await readRecord(1, record, after);
    expect(elsewhere.json.error.code).toBe("RECORD_NOT_HELD_HERE");
  });

  it("streams committed blocks to anyone", async () => {
    const controller = new AbortController();
    const stream = await fetch(url(1, "/events"), { signal: controller.signal });
    const received = collect(stream);
    await commit(1, signed(net.chain, "patient.register", who.other, {}));
    await waitFor(() => received.text.includes("event: block"), 10_000, "a block event");
    controller.abort();
    expect(received.text).toMatch(/"txCount":\d+/);
  });
});

/** Reads a stream in the background into `text`. */
function collect(response: Response): { text: string } {
  const out = { text: "" };
  const reader = response.body?.getReader();
  const decoder = new TextDecoder();
  void (async () => {
    try {
      for (;;) {
        const chunk = await reader?.read();
        if (chunk === undefined || chunk.done) return;
        out.text += decoder.decode(chunk.value, { stream: true });
      }
    } catch {
      // aborted
    }
  })();
  return out;
}
