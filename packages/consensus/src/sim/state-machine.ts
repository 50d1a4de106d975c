/**
 * The replicated state machine of the simulator: the ordered list of applied proposal ids and a hash
 * chain over every applied entry, so two nodes agree on their whole history by comparing one number.
 */
import type { Entry } from "../types.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A stable text key for an entry's content and term (what "the same entry" means). */
export function entryKey(entry: Entry): string {
  return entry.term + "/" + entry.type + "/" + decoder.decode(entry.data);
}

/** FNV-1a over a string, chained from a previous hash. */
export function chainHash(previous: number, text: string): number {
  let hash = (previous ^ 0x811c9dc5) >>> 0;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** What each node applies: proposal ids in order, and a hash of every entry applied. */
export class StateMachine {
  appliedIndex = 0;
  hash = 0;
  ids: string[] = [];

  apply(entry: Entry): void {
    this.appliedIndex = entry.index;
    this.hash = chainHash(this.hash, entry.index + ":" + entry.type + ":" + decoder.decode(entry.data));
    if (entry.type === "normal" && entry.data.byteLength > 0) this.ids.push(decoder.decode(entry.data));
  }

  encode(): Uint8Array {
    return encoder.encode(this.appliedIndex + "|" + this.hash + "|" + this.ids.join(","));
  }

  static decode(data: Uint8Array): StateMachine {
    const machine = new StateMachine();
    if (data.byteLength === 0) return machine;
    const [index, hash, ids] = decoder.decode(data).split("|");
    machine.appliedIndex = Number(index);
    machine.hash = Number(hash);
    machine.ids = ids === undefined || ids === "" ? [] : ids.split(",");
    return machine;
  }
}
