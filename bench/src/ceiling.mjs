// The machine's ceiling for this workload, measured in the same run: ed25519 verifications per second
// with node:crypto and a cached public KeyObject (one core), and fsyncs per second of small appends.

import { createPublicKey, generateKeyPairSync, sign, verify } from "node:crypto";
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** ed25519 verifications per second on one core (node:crypto, cached KeyObject). */
export function verifyPerSecond(duration_ms) {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const key = createPublicKey({
    key: publicKey.export({ format: "der", type: "spki" }),
    format: "der",
    type: "spki",
  });
  const message = Buffer.alloc(48, 7); // the signing prefix and a 32-byte id
  const signature = sign(null, message, privateKey);
  let count = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < duration_ms) {
    for (let i = 0; i < 200; i++) if (!verify(null, message, key, signature)) throw new Error("verify");
    count += 200;
    elapsed = performance.now() - start;
  }
  return Math.round((count * 1000) / elapsed);
}

/** fsyncs per second of 128-byte appends to one file in `dir` (the nodes' file system). */
export function fsyncPerSecond(duration_ms, dir = tmpdir()) {
  const root = mkdtempSync(join(dir, "medledger-fsync-"));
  const fd = openSync(join(root, "append.log"), "a");
  const record = Buffer.alloc(128, 1);
  let count = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < duration_ms) {
    writeSync(fd, record);
    fsyncSync(fd);
    count++;
    elapsed = performance.now() - start;
  }
  closeSync(fd);
  rmSync(root, { recursive: true, force: true });
  return Math.round((count * 1000) / elapsed);
}
