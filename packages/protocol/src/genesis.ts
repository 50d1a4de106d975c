/**
 * The genesis file: the chain id, the genesis time and the founding members with their node keys.
 * It is JSON (it has no byte strings); `parseGenesis` validates it before the rules apply it.
 */

import { parseDid } from "./did.js";
import { ProtocolError } from "./errors.js";
import { member_nodes_max, members_max } from "./limits.js";
import { parseChainId } from "./tx.js";
import type { Did } from "./types.js";

/** A founding member and the keys of its nodes. */
export interface GenesisMember {
  member: Did;
  nodes: Did[];
}

/** The validated genesis of a chain. */
export interface Genesis {
  /** The chain id ([a-z0-9-], 1 to chain_id_bytes_max bytes). */
  chain: string;
  /** Genesis time (ms since the Unix epoch); every block's time is at least this. */
  time: number;
  /** The founding members (at least one); every DID in here is distinct. */
  members: GenesisMember[];
}

/** Validates a parsed genesis JSON document and returns a clean copy (ProtocolError otherwise). */
export function parseGenesis(json: unknown): Genesis {
  const source = record(json, "genesis", ["chain", "time", "members"]);
  const chain = parseChainId(source.chain, "genesis.chain");
  const time = source.time;
  if (typeof time !== "number" || !Number.isSafeInteger(time) || time < 0) {
    throw invalid("the genesis time must be an unsigned integer (ms)", "genesis.time");
  }
  const members = list(source.members, "genesis.members", members_max).map((item, index) =>
    parseMember(item, `genesis.members[${index}]`),
  );
  const seen = new Set<Did>();
  members.forEach((member, index) => {
    for (const did of [member.member, ...member.nodes]) {
      if (seen.has(did)) throw invalid(`${did} appears twice in the genesis`, `genesis.members[${index}]`);
      seen.add(did);
    }
  });
  return { chain, time, members };
}

function parseMember(value: unknown, field: string): GenesisMember {
  const source = record(value, field, ["member", "nodes"]);
  const member = parseDid(source.member, `${field}.member`);
  const nodes = list(source.nodes, `${field}.nodes`, member_nodes_max).map((node, index) =>
    parseDid(node, `${field}.nodes[${index}]`),
  );
  return { member, nodes };
}

function record(value: unknown, field: string, names: readonly string[]): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid(`${field} must be an object`, field);
  }
  const source = value as Record<string, unknown>;
  for (const name of Object.keys(source)) {
    if (!names.includes(name)) {
      throw new ProtocolError("FIELD_UNKNOWN", `unknown field ${name}`, { field: `${field}.${name}` });
    }
  }
  for (const name of names) {
    if (!Object.hasOwn(source, name) || source[name] === undefined) {
      throw new ProtocolError("FIELD_MISSING", `missing field ${name}`, { field: `${field}.${name}` });
    }
  }
  return source;
}

function list(value: unknown, field: string, max: number): unknown[] {
  if (!Array.isArray(value)) throw invalid(`${field} must be a list`, field);
  if (value.length > max) {
    throw new ProtocolError("FIELD_TOO_LARGE", `${field} has more than ${max} items`, { field });
  }
  if (value.length === 0) throw invalid(`${field} needs at least one item`, field);
  return value;
}

function invalid(message: string, field: string): ProtocolError {
  return new ProtocolError("FIELD_INVALID", message, { field });
}
