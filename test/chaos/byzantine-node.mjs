// A byzantine consortium member's node for the chaos suite and test/byzantine.test.ts. Plain JavaScript
// over the built packages (Node 20 cannot run TypeScript). Its node key is in the genesis, so the honest
// nodes' gater admits it and it is one of the Raft voters. It runs its own libp2p (TCP, Noise, Yamux,
// gossipsub: the node's own stack, loaded from packages/node's dependencies) and speaks the real wire
// protocols: direct Raft frames, the request (state-transfer) protocol and the gossip topic.
//
// Between attacks it is a lying follower: it acknowledges appends without storing anything durable and
// grants every vote. It keeps the Raft log's terms and the last block in memory, which lets it forge
// convincing messages (the right term, index and previous entry, the real previous block hash).
//
// Usage: node byzantine-node.mjs '<json config>' with {secret, genesis, listen, peers: [{address, did}],
// seed}. It prints {"event":"ready",...}, then takes JSON lines on stdin:
//   {"seq":n,"op":"round","name":"junk-frames","ms":3000}  runs one attack round, then answers
//   {"seq":n,"event":"round","name",...,"sent":k,...} with what it did and what it saw;
//   {"seq":n,"op":"state"}                                 answers its view (term, leader, last index).
// Every round's name is in `rounds` below.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { MESSAGE_TYPES, message } from "@medledger/consensus";
import {
  chainProtocols,
  decodeRaftMessage,
  encodeFrame,
  encodeRaftMessage,
  FrameDecoder,
  publicKeyFromPeerId,
} from "@medledger/node";
import {
  blockHash,
  computeResultRoot,
  computeTxRoot,
  decodeBlock,
  encodeBlock,
  encodeSignedTx,
  fromHex,
  publicKeyFromSecretKey,
  publicKeyToDid,
  signBlockHeader,
  signTx,
} from "@medledger/protocol";
import { nodeSigner } from "@medledger/protocol/node";
import { decode, encode } from "cborg";

const here = dirname(fileURLToPath(import.meta.url));
const node_package = join(here, "..", "..", "packages", "node");

/** Imports `name` (and an exported `subpath`) as packages/node resolves it: the node's own libp2p. */
async function dependency(name, subpath = ".") {
  const dir = join(node_package, "node_modules", ...name.split("/"));
  const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  let target = typeof manifest.exports === "string" ? manifest.exports : manifest.exports?.[subpath];
  while (target !== null && typeof target === "object") {
    target = target.import ?? target.default ?? target["module-sync"];
  }
  if (typeof target !== "string") throw new Error(`cannot resolve ${name} ${subpath}`);
  return import(pathToFileURL(join(dir, target)).href);
}

const { createLibp2p } = await dependency("libp2p");
const { tcp } = await dependency("@libp2p/tcp");
const { noise } = await dependency("@chainsafe/libp2p-noise");
const { yamux } = await dependency("@chainsafe/libp2p-yamux");
const { identify } = await dependency("@libp2p/identify");
const { ping } = await dependency("@libp2p/ping");
const { gossipsub, StrictNoSign } = await dependency("@libp2p/gossipsub");
const { generateKeyPairFromSeed } = await dependency("@libp2p/crypto", "./keys");
const { multiaddr } = await dependency("@multiformats/multiaddr");

const config = JSON.parse(process.argv[2] ?? "{}");
const secret = fromHex(config.secret);
const signer = nodeSigner(secret);
const self = publicKeyToDid(publicKeyFromSecretKey(secret));
const chain = config.genesis.chain;
const protocols = chainProtocols(chain);
const peers = config.peers.map((peer) => ({
  ...peer,
  peerId: peer.address.split("/p2p/")[1],
  ma: multiaddr(peer.address),
}));
const peerByDid = new Map(peers.map((peer) => [peer.did, peer]));

// ---- Seeded randomness -----------------------------------------------------------------------------

let seed = (config.seed ?? 1) >>> 0;
function random() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
}
const randomInt = (low, high) => low + Math.floor(random() * (high - low + 1));
function randomBytes(length) {
  const bytes = new Uint8Array(length);
  for (let index = 0; index < length; index++) bytes[index] = Math.floor(random() * 256);
  return bytes;
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- libp2p: the node's own stack --------------------------------------------------------------------

const libp2p = await createLibp2p({
  privateKey: await generateKeyPairFromSeed("Ed25519", secret),
  addresses: { listen: [config.listen] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  connectionManager: { maxConnections: 256, dialTimeout: 2_000 },
  services: {
    identify: identify(),
    ping: ping(),
    pubsub: gossipsub({
      globalSignaturePolicy: StrictNoSign,
      allowedTopics: [protocols.gossipTopic],
      fallbackToFloodsub: false,
      floodPublish: true,
      emitSelf: false,
      doPX: false,
      allowPublishToZeroTopicPeers: true,
      ignoreDuplicatePublishError: true,
    }),
  },
});

/** What the byzantine node saw and did; a round reports the difference. */
const counters = {
  connects: 0,
  disconnects: 0,
  dialFailures: 0,
  dialRefused: 0,
  streamFailures: 0,
  framesIn: 0,
  sent: 0,
  requestsAnswered: 0,
  requestsErrors: 0,
  requestsRefused: 0,
  requestsFailed: 0,
};
libp2p.addEventListener("peer:connect", () => counters.connects++);
libp2p.addEventListener("peer:disconnect", () => counters.disconnects++);

// ---- The Raft view: a lying follower -----------------------------------------------------------------

const raft = {
  term: 0,
  leader: "",
  /** terms[i] is the term of log entry i (index 0 is the empty log's anchor). */
  terms: [0],
  commit: 0,
  /** The last block entry seen: its Raft position, block and hash. */
  lastBlock: null,
  /** Answer appends, heartbeats and votes. */
  follow: true,
};
const lastIndex = () => raft.terms.length - 1;

function onRaft(from, frame) {
  let m;
  try {
    m = decodeRaftMessage(frame);
  } catch {
    return;
  }
  counters.framesIn++;
  if (m.term > raft.term) raft.term = m.term;
  if (!raft.follow) return;
  if (m.type === "heartbeat") {
    raft.leader = m.from;
    raft.commit = Math.max(raft.commit, m.commit);
    reply(from, { type: "heartbeatResp", term: m.term, context: m.context });
  } else if (m.type === "app") {
    raft.leader = m.from;
    onAppend(from, m);
  } else if (m.type === "snap") {
    raft.leader = m.from;
    const { index, term } = m.snapshot.metadata;
    raft.terms = new Array(index + 1).fill(0);
    raft.terms[index] = term;
    reply(from, { type: "appResp", term: m.term, index });
  } else if (m.type === "preVote" || m.type === "vote") {
    reply(from, { type: m.type === "vote" ? "voteResp" : "preVoteResp", term: m.term });
  }
}

function onAppend(from, m) {
  if (m.index > lastIndex() || (raft.terms[m.index] !== m.logTerm && m.index > 0)) {
    reply(from, { type: "appResp", term: m.term, index: m.index, reject: true, rejectHint: lastIndex() });
    return;
  }
  for (const entry of m.entries) {
    if (raft.terms[entry.index] !== entry.term) raft.terms.length = entry.index;
    if (entry.index === raft.terms.length) raft.terms.push(entry.term);
    if (entry.type === "normal" && entry.data.length > 0) {
      try {
        const block = decodeBlock(entry.data);
        raft.lastBlock = { index: entry.index, term: entry.term, block, hash: blockHash(block.header) };
      } catch {
        // Not a block: ignore.
      }
    }
  }
  raft.commit = Math.max(raft.commit, Math.min(m.commit, m.index + m.entries.length));
  reply(from, { type: "appResp", term: m.term, index: m.index + m.entries.length });
}

function reply(to, fields) {
  sendRaft(to, message({ from: self, to, ...fields }));
}

function sendRaft(to, m) {
  sendFrame(to, encodeRaftMessage(m));
}

// ---- Direct streams --------------------------------------------------------------------------------

/** One outbound direct stream per peer, reopened after a failure. */
const outbound = new Map();

async function directStream(did) {
  const existing = outbound.get(did);
  if (existing !== undefined) return existing;
  const opening = (async () => {
    const peer = peerByDid.get(did);
    if (peer === undefined) throw new Error(`unknown peer ${did}`);
    const stream = await libp2p.dialProtocol(peer.ma, protocols.direct, {
      signal: AbortSignal.timeout(2_000),
    });
    stream.addEventListener("close", () => {
      if (outbound.get(did) === opening) outbound.delete(did);
    });
    return stream;
  })();
  outbound.set(did, opening);
  opening.catch((error) => {
    if (outbound.get(did) === opening) outbound.delete(did);
    noteDialError(error);
  });
  return opening;
}

function noteDialError(error) {
  const text = String(error?.name ?? "") + String(error?.message ?? error);
  if (/denied|refused|gater|closed|reset/i.test(text)) counters.dialRefused++;
  else counters.dialFailures++;
}

/** Writes `bytes` as they are (raw) or as one frame on the direct stream to `did`. */
async function writeDirect(did, bytes, raw = false) {
  let stream;
  try {
    stream = await directStream(did);
  } catch {
    return false;
  }
  try {
    if (!stream.send(raw ? bytes : encodeFrame(bytes))) {
      await stream.onDrain({ signal: AbortSignal.timeout(1_000) });
    }
    counters.sent++;
    return true;
  } catch {
    counters.streamFailures++;
    outbound.delete(did);
    try {
      stream.abort(new Error("byzantine: stream failed"));
    } catch {
      // Already gone.
    }
    return false;
  }
}

function sendFrame(did, bytes) {
  writeDirect(did, bytes).catch(() => undefined);
}

await libp2p.handle(
  protocols.direct,
  (stream, connection) => {
    const peer = connection.remotePeer.toString();
    let did;
    try {
      did = publicKeyToDid(publicKeyFromPeerId(peer));
    } catch {
      stream.abort(new Error("unknown peer"));
      return;
    }
    const decoder = new FrameDecoder(16 * 1024 * 1024);
    stream.addEventListener("message", (event) => {
      const chunks = event.data instanceof Uint8Array ? [event.data] : [...event.data];
      try {
        for (const chunk of chunks) for (const frame of decoder.push(chunk)) onRaft(did, frame);
      } catch {
        stream.abort(new Error("bad frame"));
      }
    });
    stream.addEventListener("remoteCloseWrite", () => stream.close().catch(() => undefined), { once: true });
  },
  { maxInboundStreams: 64, maxOutboundStreams: 256 },
);
await libp2p.handle(protocols.request, (stream) => stream.abort(new Error("byzantine serves nothing")), {
  maxInboundStreams: 64,
  maxOutboundStreams: 256,
});
await libp2p.start();
libp2p.services.pubsub.subscribe(protocols.gossipTopic);

/** Keeps dialling every honest peer that is not connected (the ban shows as refused dials). */
let redialling = true;
async function redialLoop() {
  while (redialling) {
    await Promise.all(
      peers.map(async (peer) => {
        const connected = libp2p.getConnections().some((c) => c.remotePeer.toString() === peer.peerId);
        if (connected) return;
        try {
          await libp2p.dial(peer.ma, { signal: AbortSignal.timeout(2_000) });
        } catch (error) {
          noteDialError(error);
        }
      }),
    );
    await sleep(300);
  }
}
redialLoop();

// ---- Forged messages ---------------------------------------------------------------------------------

const others = () => peers.map((peer) => peer.did);
const leaderOr = (fallback) => (raft.leader !== "" && peerByDid.has(raft.leader) ? raft.leader : fallback);

/** A block that follows the last block this node saw, signed by this node, with `tamper` applied. */
function forgedBlock(index, term, tamper) {
  const previous = raft.lastBlock;
  const header = {
    v: 1,
    chain,
    height: (previous?.block.header.height ?? 0) + 1,
    prev: previous?.hash ?? new Uint8Array(32),
    time: Math.max(Date.now(), previous?.block.header.time ?? 0),
    proposer: self,
    txRoot: computeTxRoot([]),
    resultRoot: computeResultRoot([]),
    appHash: previous?.block.header.appHash ?? new Uint8Array(32),
    raftTerm: term,
    raftIndex: index,
  };
  if (tamper === "prev") header.prev = randomBytes(32);
  if (tamper === "app-hash") header.appHash = randomBytes(32);
  if (tamper === "tx-root") header.txRoot = randomBytes(32);
  let sig = signBlockHeader(header, signer);
  if (tamper === "signature") {
    sig = new Uint8Array(sig);
    sig[randomInt(0, 31)] ^= 0x01;
  }
  return encodeBlock({ header, sig, txs: [], results: [] });
}

/** An append from this node to `to` at the current term, carrying one forged block after our last entry. */
function forgedAppend(to, tamper, term = raft.term) {
  const prevIndex = lastIndex();
  const index = prevIndex + 1;
  return message({
    type: "app",
    from: self,
    to,
    term,
    index: prevIndex,
    logTerm: raft.terms[prevIndex] ?? 0,
    entries: [{ term, index, type: "normal", data: forgedBlock(index, term, tamper) }],
    commit: index,
  });
}

/** A gossip batch ([1, salt, txs]) of `count` transactions whose signatures are broken. */
function badSignatureBatch(count) {
  const txs = [];
  for (let index = 0; index < count; index++) {
    const unsigned = {
      v: 1,
      chain,
      kind: "patient.register",
      signer: self,
      nonce: randomInt(0, 2 ** 31),
      expires: Date.now() + 600_000,
      body: {},
    };
    const signed = signTx(unsigned, [signer]);
    const sig = new Uint8Array(signed.sigs[0].sig);
    sig[randomInt(0, 31)] ^= 0x04;
    txs.push(encodeSignedTx({ ...signed, sigs: [{ ...signed.sigs[0], sig }] }));
  }
  return encode([1, randomBytes(8), txs]);
}

/** Sends one request frame (raw bytes) on a fresh request stream; counts the outcome. */
async function requestRaw(peer, bytes, wait = true) {
  let stream;
  try {
    stream = await libp2p.dialProtocol(peer.ma, protocols.request, { signal: AbortSignal.timeout(2_000) });
  } catch (error) {
    noteDialError(error);
    return;
  }
  counters.sent++;
  try {
    const answered = new Promise((resolve) => {
      const decoder = new FrameDecoder(17 * 1024 * 1024);
      const done = (status) => {
        clearTimeout(timer);
        resolve(status);
      };
      const timer = setTimeout(() => done("timeout"), 2_000);
      stream.addEventListener("message", (event) => {
        const chunks = event.data instanceof Uint8Array ? [event.data] : [...event.data];
        for (const chunk of chunks) {
          const frames = decoder.push(chunk);
          if (frames.length > 0) done(frames[0][0] === 0 ? answerKind(frames[0].subarray(1)) : "refused");
        }
      });
      stream.addEventListener("close", () => done("closed"));
    });
    stream.send(bytes);
    await stream.close({ signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
    const status = wait ? await answered : "sent";
    if (status === "ok") counters.requestsAnswered++;
    else if (status === "error") counters.requestsErrors++;
    else if (status === "refused") counters.requestsRefused++;
    else if (status !== "sent") counters.requestsFailed++;
  } catch {
    counters.requestsFailed++;
  } finally {
    try {
      stream.abort(new Error("done"));
    } catch {
      // Closed.
    }
  }
}

/** "ok" or "error" for a state-transfer answer (["ok", ...] or ["error", code]). */
function answerKind(payload) {
  try {
    return decode(payload)[0] === "ok" ? "ok" : "error";
  } catch {
    return "error";
  }
}

/** The varint prefix of `length` followed by nothing: a frame that announces more than any limit. */
function prefixOnly(length) {
  const bytes = [];
  let rest = length;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return Uint8Array.from(bytes);
}

/** Runs `step` again and again until `ms` have passed, pausing `pauseMs` between steps. */
async function repeat(ms, pauseMs, step) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    await step();
    await sleep(pauseMs);
  }
}

const forEachPeer = (action) => Promise.all(peers.map((peer) => action(peer)));

/** Every attack round, by name. Each runs for `ms` milliseconds. */
const rounds = {
  /** Frames of random bytes: not CBOR, or not a Raft message. */
  "junk-frames": (ms) =>
    repeat(ms, 50, () => forEachPeer((peer) => writeDirect(peer.did, randomBytes(randomInt(1, 300))))),
  /** Valid Raft messages cut short: truncated CBOR. */
  "truncated-cbor": (ms) =>
    repeat(ms, 50, () =>
      forEachPeer((peer) => {
        const whole = encodeRaftMessage(
          message({ type: "heartbeatResp", from: self, to: peer.did, term: raft.term }),
        );
        return writeDirect(peer.did, whole.subarray(0, randomInt(1, whole.length - 1)));
      }),
    ),
  /** Well-formed messages in another node's name, or addressed to another node. */
  "forged-from": (ms) =>
    repeat(ms, 50, () =>
      forEachPeer((peer) => {
        const victim = others().find((did) => did !== peer.did) ?? peer.did;
        const forged =
          random() < 0.5
            ? message({
                type: "heartbeat",
                from: victim,
                to: peer.did,
                term: raft.term + 1,
                commit: raft.commit,
              })
            : message({ type: "appResp", from: self, to: victim, term: raft.term, index: lastIndex() });
        return writeDirect(peer.did, encodeRaftMessage(forged));
      }),
    ),
  /** Unknown wire versions and message types, fields of the wrong type, entries that do not follow. */
  "bad-fields": (ms) =>
    repeat(ms, 50, () =>
      forEachPeer((peer) => {
        const good = [
          1,
          MESSAGE_TYPES.indexOf("heartbeatResp"),
          self,
          peer.did,
          raft.term,
          0,
          0,
          [],
          0,
          false,
          0,
          null,
          "",
          false,
        ];
        const variants = [
          () => [2, ...good.slice(1)],
          () => [good[0], 99, ...good.slice(2)],
          () => good.map((field, index) => (index === 4 ? -1 : field)),
          () => good.map((field, index) => (index === 4 ? "term" : field)),
          () => good.slice(0, 13),
          () => [
            ...good.slice(0, 1),
            MESSAGE_TYPES.indexOf("app"),
            ...good.slice(2, 7),
            [[raft.term, lastIndex() + 5, 0, new Uint8Array(0)]],
            ...good.slice(8),
          ],
          () => good.map((field, index) => (index === 12 ? "x".repeat(10_000) : field)),
        ];
        return writeDirect(peer.did, encode(variants[randomInt(0, variants.length - 1)]()));
      }),
    ),
  /** Messages of a term far behind: the honest nodes answer with their term and carry on. */
  "stale-term": (ms) =>
    repeat(ms, 50, () =>
      forEachPeer((peer) =>
        writeDirect(
          peer.did,
          encodeRaftMessage(message({ type: "heartbeat", from: self, to: peer.did, term: 1, commit: 0 })),
        ),
      ),
    ),
  /** Appends whose block carries a broken proposer signature. */
  "bad-signature-block": (ms) => forgedBlocks(ms, "signature"),
  /** Appends whose block's transaction root does not match its transactions. */
  "bad-tx-root-block": (ms) => forgedBlocks(ms, "tx-root"),
  /** Appends whose block does not chain on the previous block (valid signature and roots). */
  "bad-prev-hash-block": (ms) => forgedBlocks(ms, "prev"),
  /** Appends whose block carries a wrong app hash (valid signature, roots and chaining). */
  "bad-app-hash-block": (ms) => forgedBlocks(ms, "app-hash"),
  /** Gossip messages of random bytes (not a batch). */
  "gossip-junk": (ms) =>
    repeat(ms, 20, async () => {
      try {
        await libp2p.services.pubsub.publish(protocols.gossipTopic, randomBytes(randomInt(1, 2_000)));
        counters.sent++;
      } catch {
        counters.streamFailures++;
      }
    }),
  /** Well-formed gossip batches of transactions with broken signatures (each costs a verification). */
  "gossip-bad-signatures": (ms) =>
    repeat(ms, 100, async () => {
      try {
        await libp2p.services.pubsub.publish(protocols.gossipTopic, badSignatureBatch(64));
        counters.sent++;
      } catch {
        counters.streamFailures++;
      }
    }),
  /** State-transfer requests: opens (each pins a consistent read), unknown sessions, junk, many at once. */
  "request-flood": (ms) =>
    repeat(ms, 20, () =>
      forEachPeer(async (peer) => {
        const kinds = [
          () => encodeFrame(encode(["state-open"])),
          () => encodeFrame(encode(["state-next", randomInt(0, 1_000)])),
          () => encodeFrame(randomBytes(randomInt(1, 200))),
        ];
        await Promise.all(
          Array.from({ length: 4 }, () => requestRaw(peer, kinds[randomInt(0, kinds.length - 1)]())),
        );
      }),
    ),
  /** Hang up on every peer and dial again, over and over. */
  "reconnect-storm": (ms) =>
    repeat(ms, 30, () =>
      forEachPeer(async (peer) => {
        outbound.delete(peer.did);
        try {
          await libp2p.hangUp(peer.ma);
        } catch {
          // Not connected.
        }
        try {
          await libp2p.dial(peer.ma, { signal: AbortSignal.timeout(2_000) });
          counters.sent++;
        } catch (error) {
          noteDialError(error);
        }
      }),
    ),
  /** Responses at the next term to the leader, every 300 ms: plain Raft makes the leader step down. */
  "term-bump": (ms) =>
    repeat(ms, 300, async () => {
      const leader = leaderOr(peers[0].did);
      await writeDirect(
        leader,
        encodeRaftMessage(message({ type: "heartbeatResp", from: self, to: leader, term: raft.term + 1 })),
      );
    }),
  /** One response with the largest term the wire allows, to the leader, then silence. */
  "huge-term": async (ms) => {
    const leader = leaderOr(peers[0].did);
    await writeDirect(
      leader,
      encodeRaftMessage(
        message({ type: "heartbeatResp", from: self, to: leader, term: Number.MAX_SAFE_INTEGER }),
      ),
    );
    await sleep(ms);
  },
  /**
   * Frame length prefixes over every limit, on direct and request streams, to every peer but the first
   * (each bans the sender for a while; the first is left for malformed-prefix).
   */
  "oversized-prefix": (ms) =>
    repeat(ms, 200, () =>
      Promise.all(
        banTargets("rest").map(async (peer) => {
          await writeDirect(peer.did, prefixOnly(64 * 1024 * 1024), true);
          await requestRaw(peer, prefixOnly(1024 * 1024), false);
        }),
      ),
    ),
  /** Broken length prefixes (longer than four bytes, or not minimal) to the first peer (it bans us). */
  "malformed-prefix": (ms) =>
    repeat(ms, 200, () =>
      Promise.all(
        banTargets("first").map((peer) =>
          writeDirect(
            peer.did,
            random() < 0.5 ? Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x01) : Uint8Array.of(0x81, 0x00),
            true,
          ),
        ),
      ),
    ),
};

/** The peers a banning round targets: the first, or the rest (all of them when there is only one). */
function banTargets(which) {
  if (peers.length === 1) return peers;
  return which === "first" ? peers.slice(0, 1) : peers.slice(1);
}

/**
 * Sends forged blocks to every peer at the current term, right after the last entry this node holds,
 * with the commit index set to them (it keeps following the log meanwhile, so each forgery is fresh).
 */
function forgedBlocks(ms, tamper) {
  return repeat(ms, 200, () =>
    forEachPeer((peer) => writeDirect(peer.did, encodeRaftMessage(forgedAppend(peer.did, tamper)))),
  );
}

/** Runs round `name` for `ms` and reports what it did and saw. */
async function runRound(name, ms) {
  const round = rounds[name];
  if (round === undefined) return { error: `unknown round ${name}` };
  const before = { ...counters };
  const termBefore = raft.term;
  const started = Date.now();
  await round(ms);
  const delta = {};
  for (const key of Object.keys(counters)) delta[key] = counters[key] - before[key];
  return {
    name,
    ms: Date.now() - started,
    termBefore,
    termAfter: raft.term,
    leader: raft.leader,
    connected: libp2p.getConnections().length,
    ...delta,
  };
}

function answer(value) {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

createInterface({ input: process.stdin }).on("line", (line) => {
  let request;
  try {
    request = JSON.parse(line);
  } catch {
    return;
  }
  if (request.op === "round") {
    runRound(request.name, request.ms ?? 3_000).then(
      (result) => answer({ seq: request.seq, event: "round", ...result }),
      (error) => answer({ seq: request.seq, event: "round", name: request.name, error: String(error) }),
    );
  } else if (request.op === "state") {
    answer({
      seq: request.seq,
      event: "state",
      term: raft.term,
      leader: raft.leader,
      lastIndex: lastIndex(),
      commit: raft.commit,
      height: raft.lastBlock?.block.header.height ?? 0,
      counters,
    });
  }
});

async function shutdown() {
  redialling = false;
  await libp2p.stop().catch(() => undefined);
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

answer({ event: "ready", id: self, peerId: libp2p.peerId.toString(), rounds: Object.keys(rounds) });
