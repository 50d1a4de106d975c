/**
 * Commands that talk to a running node's HTTP API through @medledger/client: status, peers, members,
 * and the integrator operations (patients, providers, consents, records, access, emergencies,
 * guardians, key recovery, audit). Each takes --api (default MEDLEDGER_API or http://127.0.0.1:8080)
 * and, where something is signed, --key.
 */
import { readFileSync, writeFileSync } from "node:fs";
import {
  type BuiltTx,
  type Identity,
  identityFromKeyFile,
  MedledgerClient,
  type NodeStatus,
  type TxStatus,
} from "@medledger/client";
import {
  CATEGORIES,
  type Category,
  type Did,
  fromHex,
  isCategory,
  isPurpose,
  PURPOSES,
  type Purpose,
  parseDid,
  sha256,
} from "@medledger/protocol";
import { nodeSigner } from "@medledger/protocol/node";
import { type Command, InvalidArgumentError, Option } from "commander";
import { CliError, EXIT, usageError } from "../exit.js";
import { type Io, parseDuration, parseList, parsePositive, report, table } from "../io.js";

/** The API a client command talks to when --api is not given and MEDLEDGER_API is unset. */
export const DEFAULT_API = "http://127.0.0.1:8080";
const DAY_MS = 86_400_000;

interface ApiFlags {
  api: string;
  json?: boolean;
  adminToken?: string;
}
interface KeyFlags extends ApiFlags {
  key: string;
  did?: string;
}

/** A command with --api and --json. */
function apiCommand(parent: Command, name: string, description: string): Command {
  return parent
    .command(name)
    .description(description)
    .addOption(new Option("--api <url>", "the node's API").env("MEDLEDGER_API").default(DEFAULT_API))
    .option("--json", "print JSON");
}

/** A command with --api, --json, --key (required) and --did. */
function signedCommand(parent: Command, name: string, description: string, keyWhat: string): Command {
  return apiCommand(parent, name, description)
    .requiredOption("--key <file>", `${keyWhat}'s key file`)
    .option(
      "--did <did>",
      "the identity's DID when its key is not its first (after key.rotate or key.recover)",
      didArgument,
    );
}

function clientOf(flags: ApiFlags): MedledgerClient {
  const adminToken =
    flags.adminToken === undefined ? undefined : readFileSync(flags.adminToken, "utf8").trim();
  return new MedledgerClient({ baseUrl: flags.api, ...(adminToken === undefined ? {} : { adminToken }) });
}

function identityOf(path: string, did?: string): Identity {
  return identityFromKeyFile(readFileSync(path), {
    signerFactory: nodeSigner,
    ...(did === undefined ? {} : { did: did as Did }),
  });
}

function didArgument(value: string): string {
  try {
    return parseDid(value, "did");
  } catch {
    throw new InvalidArgumentError("expected a did:key");
  }
}

function hashArgument(value: string): string {
  if (!/^[0-9a-f]{64}$/.test(value)) throw new InvalidArgumentError("expected 64 lowercase hex characters");
  return value;
}

function categories(values: readonly string[] | undefined): Category[] {
  const list = values ?? [];
  for (const value of list) {
    if (!isCategory(value)) throw usageError(`${value} is not a category (${CATEGORIES.join(", ")})`);
  }
  return list as Category[];
}

function purposes(values: readonly string[]): Purpose[] {
  for (const value of values) {
    if (!isPurpose(value)) throw usageError(`${value} is not a purpose (${PURPOSES.join(", ")})`);
  }
  return values as Purpose[];
}

function timeArgument(value: string): number {
  const time = Date.parse(value);
  if (Number.isNaN(time))
    throw new InvalidArgumentError("expected an ISO 8601 time, e.g. 2030-01-31T12:00:00Z");
  return time;
}

/** Submits a built transaction, waits for its commit, prints the outcome (TX_REJECTED → exit 4). */
async function commitAndReport(
  io: Io,
  client: MedledgerClient,
  built: BuiltTx,
  flags: ApiFlags,
  extra: Record<string, unknown> = {},
  lines: string[] = [],
): Promise<TxStatus> {
  const status = await client.commit(built);
  report(io, flags.json, { ...status, kind: built.kind, ...extra }, () => [
    `${built.kind} committed: tx ${status.id} at height ${status.height} (${status.result?.code ?? "ok"})`,
    ...lines,
  ]);
  return status;
}

export function registerClientCommands(program: Command, io: Io): void {
  apiCommand(program, "status", "the node's status: role, leader, height, hashes, voters, peers").action(
    async (flags: ApiFlags) => {
      const status = await clientOf(flags).status();
      report(io, flags.json, status, () => statusLines(status));
    },
  );

  apiCommand(program, "peers", "the member nodes this node is connected to").action(
    async (flags: ApiFlags) => {
      const status = await clientOf(flags).status();
      report(io, flags.json, status.peers, () => [
        `${status.peers.connected} peers connected`,
        ...table(
          status.peers.ids.map((id) => ({ peer: id })),
          ["peer"],
        ),
      ]);
    },
  );

  registerMembers(program, io);
  registerIdentities(program, io);
  registerConsents(program, io);
  registerRecords(program, io);
  registerAccess(program, io);
}

function statusLines(status: NodeStatus): string[] {
  return [
    `node      ${status.node}`,
    `chain     ${status.chain}`,
    `role      ${status.role}${status.halted ? " (HALTED)" : ""}`,
    `term      ${status.term}`,
    `leader    ${status.leader ?? "(none known)"}`,
    `height    ${status.height} (commit index ${status.commitIndex}, applied ${status.appliedIndex})`,
    `app hash  ${status.appHash}`,
    `member    ${status.member ?? "(none)"}`,
    `nodes     ${status.voters.length} voters, ${status.learners.length} learners`,
    ...status.voters.map((voter) => `  voter   ${voter}${voter === status.leader ? " (leader)" : ""}`),
    ...status.learners.map((learner) => `  learner ${learner}`),
    `peers     ${status.peers.connected} connected`,
    `members   ${status.members.length}`,
    `mempool   ${status.mempoolSize}`,
  ];
}

function registerMembers(program: Command, io: Io): void {
  const members = program
    .command("members")
    .description("the consortium's members: list, propose a change, vote");
  apiCommand(members, "list", "members and their nodes (voter, learner or not yet in consensus)").action(
    async (flags: ApiFlags) => {
      const status = await clientOf(flags).status();
      const rows = status.members.flatMap((member) =>
        member.nodes.map((node) => ({
          member: member.did,
          node,
          consensus: status.voters.includes(node)
            ? "voter"
            : status.learners.includes(node)
              ? "learner"
              : "-",
        })),
      );
      report(
        io,
        flags.json,
        { members: status.members, voters: status.voters, learners: status.learners },
        () => table(rows, ["member", "node", "consensus"]),
      );
    },
  );

  signedCommand(
    members,
    "propose",
    "propose adding, removing or updating a member (the proposer's approval counts)",
    "a member",
  )
    .addOption(new Option("--add <did>", "admit this new member").conflicts(["remove", "update"]))
    .addOption(new Option("--remove <did>", "remove this member").conflicts(["update"]))
    .option("--update <did>", "replace this member's node keys")
    .option("--nodes <dids>", "the member's node DIDs after the change (comma-separated)", parseList)
    .option("--deadline <duration>", "the proposal expires after this long", parseDuration, DAY_MS)
    .action(
      async (
        flags: KeyFlags & {
          add?: string;
          remove?: string;
          update?: string;
          nodes?: string[];
          deadline: number;
        },
      ) => {
        const [action, member] =
          flags.add !== undefined
            ? (["add", flags.add] as const)
            : flags.remove !== undefined
              ? (["remove", flags.remove] as const)
              : flags.update !== undefined
                ? (["update", flags.update] as const)
                : ([null, ""] as const);
        if (action === null) throw usageError("give one of --add, --remove or --update");
        const nodes = flags.nodes ?? [];
        if (action !== "remove" && nodes.length === 0) throw usageError(`--${action} needs --nodes`);
        const client = clientOf(flags);
        const txs = await client.txBuilder();
        const built = txs.memberPropose(identityOf(flags.key, flags.did), {
          action,
          member: parseDid(member, "member"),
          nodes: nodes.map((node) => parseDid(node, "nodes")),
          deadline: Date.now() + flags.deadline,
        });
        const status = await commitAndReport(io, client, built, flags, { proposal: built.id });
        if (flags.json !== true)
          io.out(
            `proposal ${status.id}: other members vote with "medledger members vote --proposal ${status.id}"`,
          );
      },
    );

  signedCommand(members, "vote", "approve (or --reject) an open proposal", "a member")
    .requiredOption("--proposal <id>", "the proposal's transaction id", hashArgument)
    .option("--reject", "vote against")
    .action(async (flags: KeyFlags & { proposal: string; reject?: boolean }) => {
      const client = clientOf(flags);
      const txs = await client.txBuilder();
      const built = txs.memberVote(identityOf(flags.key, flags.did), {
        proposal: fromHex(flags.proposal, { length: 32 }),
        approve: flags.reject !== true,
      });
      await commitAndReport(io, client, built, flags, { proposal: flags.proposal });
    });
}

function registerIdentities(program: Command, io: Io): void {
  const patient = program.command("patient").description("patients");
  signedCommand(patient, "register", "register the key's owner as a patient", "the patient").action(
    async (flags: KeyFlags) => {
      const client = clientOf(flags);
      const identity = identityOf(flags.key, flags.did);
      const built = (await client.txBuilder()).patientRegister(identity);
      await commitAndReport(io, client, built, flags, { patient: identity.did }, [`patient ${identity.did}`]);
    },
  );

  const provider = program
    .command("provider")
    .description("providers (clinicians), registered by their member");
  signedCommand(provider, "register", "register a clinician of the key's member", "the member")
    .requiredOption("--provider <did>", "the clinician's DID", didArgument)
    .addOption(
      new Option("--license-hash <hex>", "sha256 of the licence document checked").argParser(hashArgument),
    )
    .addOption(
      new Option("--license <file>", "the licence document (its sha256 is recorded)").conflicts(
        "licenseHash",
      ),
    )
    .action(async (flags: KeyFlags & { provider: string; licenseHash?: string; license?: string }) => {
      const licenseHash =
        flags.licenseHash !== undefined
          ? fromHex(flags.licenseHash, { length: 32 })
          : flags.license !== undefined
            ? sha256(readFileSync(flags.license))
            : null;
      if (licenseHash === null) throw usageError("give --license <file> or --license-hash <hex>");
      const client = clientOf(flags);
      const built = (await client.txBuilder()).providerRegister(identityOf(flags.key, flags.did), {
        provider: flags.provider as Did,
        licenseHash,
      });
      await commitAndReport(io, client, built, flags, { provider: flags.provider });
    });

  const guardians = program.command("guardians").description("a patient's guardians (M-of-N key recovery)");
  signedCommand(guardians, "set", "name the guardians who can recover the patient's key", "the patient")
    .requiredOption("--guardians <dids>", "guardian DIDs (comma-separated)", parseList)
    .requiredOption("--threshold <m>", "how many guardians must co-sign a recovery", parsePositive)
    .action(async (flags: KeyFlags & { guardians: string[]; threshold: number }) => {
      const client = clientOf(flags);
      const built = (await client.txBuilder()).patientSetGuardians(identityOf(flags.key, flags.did), {
        guardians: flags.guardians.map((did) => parseDid(did, "guardians")),
        threshold: flags.threshold,
      });
      await commitAndReport(io, client, built, flags);
    });

  const key = program.command("key").description("keys");
  apiCommand(key, "recover", "move a patient to a new key, co-signed by a threshold of its guardians")
    .requiredOption(
      "--key <file...>",
      "the guardians' key files (repeat or list; the first signs the envelope)",
    )
    .requiredOption("--patient <did>", "the patient", didArgument)
    .requiredOption("--new-key <file-or-did>", "the patient's new key file (medledger keygen) or its DID")
    .action(async (flags: ApiFlags & { key: string[]; patient: string; newKey: string }) => {
      const newKey = flags.newKey.startsWith("did:")
        ? parseDid(flags.newKey, "newKey")
        : identityOf(flags.newKey).did;
      const client = clientOf(flags);
      const built = (await client.txBuilder()).keyRecover(
        flags.key.map((path) => identityOf(path)),
        { patient: flags.patient as Did, newKey },
      );
      await commitAndReport(io, client, built, flags, { patient: flags.patient, newKey }, [
        `patient ${flags.patient} now signs with ${newKey} (use --did ${flags.patient} with the new key file)`,
      ]);
    });
}

function registerConsents(program: Command, io: Io): void {
  const consent = program.command("consent").description("a patient's consents");
  signedCommand(
    consent,
    "grant",
    "let a provider or a whole member see categories and/or records",
    "the patient",
  )
    .requiredOption("--grantee <did>", "a provider's or a member's DID", didArgument)
    .option("--categories <list>", `categories (comma-separated): ${CATEGORIES.join(", ")}`, parseList)
    .option("--records <list>", "record ids (comma-separated)", parseList)
    .requiredOption("--purposes <list>", `purposes (comma-separated): ${PURPOSES.join(", ")}`, parseList)
    .option("--not-before <time>", "start (ISO 8601; default now)", timeArgument)
    .addOption(new Option("--expires <time>", "end (ISO 8601)").argParser(timeArgument).conflicts("duration"))
    .option("--duration <duration>", "length (e.g. 30d; default 30d)", parseDuration)
    .action(
      async (
        flags: KeyFlags & {
          grantee: string;
          categories?: string[];
          records?: string[];
          purposes: string[];
          notBefore?: number;
          expires?: number;
          duration?: number;
        },
      ) => {
        const client = clientOf(flags);
        if ((flags.categories ?? []).length === 0 && (flags.records ?? []).length === 0) {
          throw usageError("give --categories and/or --records");
        }
        const built = (await client.txBuilder()).consentGrant(identityOf(flags.key, flags.did), {
          grantee: flags.grantee as Did,
          categories: categories(flags.categories),
          records: flags.records ?? [],
          purposes: purposes(flags.purposes),
          ...(flags.notBefore === undefined ? {} : { notBefore: flags.notBefore }),
          ...(flags.expires === undefined
            ? { durationMs: flags.duration ?? 30 * DAY_MS }
            : { expires: flags.expires }),
        });
        await commitAndReport(io, client, built, flags, { consent: built.id }, [`consent ${built.id}`]);
      },
    );

  signedCommand(consent, "revoke", "withdraw a consent now", "the patient")
    .requiredOption("--consent <id>", "the consent's id (its grant's transaction id)", hashArgument)
    .action(async (flags: KeyFlags & { consent: string }) => {
      const client = clientOf(flags);
      const built = (await client.txBuilder()).consentRevoke(identityOf(flags.key, flags.did), {
        consent: flags.consent,
      });
      await commitAndReport(io, client, built, flags, { consent: flags.consent });
    });

  patientRead(
    consent,
    "list",
    "the patient's consents (signed by the patient, or with the node's admin token)",
  ).action(
    async (
      flags: ApiFlags & { key?: string; did?: string; patient?: string; limit: number; after?: string },
    ) => {
      const { client, patient, as } = patientReader(flags);
      const page = await client.consents(patient, {
        ...as,
        limit: flags.limit,
        ...(flags.after === undefined ? {} : { after: flags.after }),
      });
      report(io, flags.json, page, () => [
        ...table(
          page.items.map((item) => ({
            id: item.id,
            grantee: item.grantee,
            what: [...item.categories, ...item.records].join(","),
            purposes: item.purposes.join(","),
            expires: new Date(item.expires).toISOString(),
            revoked: item.revokedAt === null ? "no" : new Date(item.revokedAt).toISOString(),
          })),
          ["id", "grantee", "what", "purposes", "expires", "revoked"],
        ),
        ...(page.next === null ? [] : [`more: --after ${page.next}`]),
      ]);
    },
  );

  patientRead(program, "audit", "the patient's audit trail: every access attempt and its decision").action(
    async (
      flags: ApiFlags & { key?: string; did?: string; patient?: string; limit: number; after?: string },
    ) => {
      const { client, patient, as } = patientReader(flags);
      const page = await client.audit(patient, {
        ...as,
        limit: flags.limit,
        ...(flags.after === undefined ? {} : { after: flags.after }),
      });
      report(io, flags.json, page, () => [
        ...table(
          page.items.map((item) => ({
            time: new Date(item.time).toISOString(),
            provider: item.provider,
            what: item.record ?? item.category,
            purpose: item.purpose,
            decision: item.decision,
            code: item.code,
            flagged: item.flagged ? "FLAGGED" : "",
          })),
          ["time", "provider", "what", "purpose", "decision", "code", "flagged"],
        ),
        ...(page.next === null ? [] : [`more: --after ${page.next}`]),
      ]);
    },
  );
}

/** A patient-scoped read: signed with --key (the patient), or --admin-token with --patient. */
function patientRead(parent: Command, name: string, description: string): Command {
  return apiCommand(parent, name, description)
    .option("--key <file>", "the patient's key file (signs the request)")
    .option("--did <did>", "the patient's DID when its key is not its first", didArgument)
    .option("--patient <did>", "the patient (default: the key's identity)", didArgument)
    .option(
      "--admin-token <file>",
      "the node's admin token file (dataDir/admin.token) instead of a signature",
    )
    .option("--limit <n>", "items per page (at most 500)", parsePositive, 50)
    .option("--after <cursor>", "the cursor printed after the previous page");
}

function patientReader(flags: ApiFlags & { key?: string; did?: string; patient?: string }) {
  const client = clientOf(flags);
  if (flags.key !== undefined) {
    const identity = identityOf(flags.key, flags.did);
    return { client, patient: (flags.patient ?? identity.did) as Did, as: { as: identity } };
  }
  if (flags.adminToken === undefined || flags.patient === undefined) {
    throw usageError("give --key (the patient's), or --admin-token with --patient");
  }
  return { client, patient: flags.patient as Did, as: {} };
}

function registerRecords(program: Command, io: Io): void {
  const record = program
    .command("record")
    .description("records held in a hospital's vault (anchored on the ledger)");
  signedCommand(
    record,
    "put",
    "store a record in this node's vault and anchor it",
    "the provider (of this node's member)",
  )
    .requiredOption("--record <id>", "the record id")
    .requiredOption("--patient <did>", "the patient", didArgument)
    .requiredOption("--category <category>", `one of ${CATEGORIES.join(", ")}`)
    .option("--format <format>", "e.g. a FHIR resource type", "Binary")
    .addOption(new Option("--file <file>", "the record's content"))
    .addOption(new Option("--content <text>", "the record's content as text").conflicts("file"))
    .action(
      async (
        flags: KeyFlags & {
          record: string;
          patient: string;
          category: string;
          format: string;
          file?: string;
          content?: string;
        },
      ) => {
        const content = flags.file !== undefined ? new Uint8Array(readFileSync(flags.file)) : flags.content;
        if (content === undefined) throw usageError("give --file or --content");
        const [category] = categories([flags.category]);
        const client = clientOf(flags);
        const anchor = (await client.txBuilder()).recordAnchor(identityOf(flags.key, flags.did), {
          record: flags.record,
          patient: flags.patient as Did,
          category: category as Category,
          format: flags.format,
          content,
        });
        const stored = await client.putRecord({ anchor, content });
        if (stored.status === "committed" && stored.result.status === "rejected") {
          throw new CliError("TX_REJECTED", `the anchor was rejected: ${stored.result.code}`, EXIT.refused);
        }
        report(io, flags.json, stored, () => [
          `record ${flags.record} stored and ${stored.status === "committed" ? `anchored at height ${stored.height}` : "pending"} (tx ${stored.id})`,
        ]);
      },
    );

  signedCommand(
    record,
    "get",
    "log an access (access.log) and, if permitted, read the record",
    "the provider",
  )
    .requiredOption("--record <id>", "the record id")
    .requiredOption("--patient <did>", "the patient", didArgument)
    .requiredOption("--category <category>", "the record's category")
    .requiredOption("--purpose <purpose>", `one of ${PURPOSES.join(", ")}`)
    .option("--out <file>", "write the content here (default: stdout)")
    .action(
      async (
        flags: KeyFlags & {
          record: string;
          patient: string;
          category: string;
          purpose: string;
          out?: string;
        },
      ) => {
        const [category] = categories([flags.category]);
        const [purpose] = purposes([flags.purpose]);
        const client = clientOf(flags);
        const disclosed = await client.getRecord(flags.record, {
          as: identityOf(flags.key, flags.did),
          accessLog: {
            patient: flags.patient as Did,
            category: category as Category,
            purpose: purpose as Purpose,
          },
        });
        if (flags.out !== undefined) writeFileSync(flags.out, disclosed.content, { mode: 0o600 });
        const { content, ...meta } = disclosed;
        if (flags.json === true) {
          io.out(JSON.stringify({ ...meta, content: Buffer.from(content).toString("base64") }, null, 2));
        } else if (flags.out === undefined) {
          process.stdout.write(content);
        } else {
          io.out(
            `record ${flags.record}: ${content.length} bytes to ${flags.out} (${meta.decision}, ${meta.code}, logged by ${meta.accessLog})`,
          );
        }
      },
    );

  signedCommand(
    record,
    "erase",
    "erase a record (right to be forgotten): the vault destroys it",
    "the patient",
  )
    .requiredOption("--record <id>", "the record id")
    .action(async (flags: KeyFlags & { record: string }) => {
      const client = clientOf(flags);
      const built = (await client.txBuilder()).recordErase(identityOf(flags.key, flags.did), {
        record: flags.record,
      });
      await commitAndReport(io, client, built, flags, { record: flags.record });
    });
}

function registerAccess(program: Command, io: Io): void {
  const access = program.command("access").description("access decisions");
  apiCommand(access, "check", "the decision the rules would give now (nothing is logged); exit 4 when denied")
    .option("--key <file>", "unused: accepted for symmetry with the other commands")
    .requiredOption("--provider <did>", "the provider", didArgument)
    .requiredOption("--patient <did>", "the patient", didArgument)
    .requiredOption("--category <category>", "the category")
    .requiredOption("--purpose <purpose>", "the purpose")
    .option("--record <id>", "one record")
    .action(
      async (
        flags: ApiFlags & {
          provider: string;
          patient: string;
          category: string;
          purpose: string;
          record?: string;
        },
      ) => {
        categories([flags.category]);
        purposes([flags.purpose]);
        const answer = await clientOf(flags).checkAccess({
          provider: flags.provider as Did,
          patient: flags.patient as Did,
          category: flags.category,
          purpose: flags.purpose,
          ...(flags.record === undefined ? {} : { record: flags.record }),
        });
        report(io, flags.json, answer, () => [
          `${answer.decision} (${answer.code})${answer.cites === null ? "" : `, citing ${answer.cites}`}${answer.flagged ? ", flagged" : ""}`,
        ]);
        if (answer.decision === "denied") process.exitCode = EXIT.refused;
      },
    );

  const emergency = program.command("emergency").description("break-glass");
  signedCommand(
    emergency,
    "declare",
    "break-glass: time-limited access to the patient's emergency scope (flagged)",
    "the provider",
  )
    .requiredOption("--patient <did>", "the patient", didArgument)
    .requiredOption("--reason <text>", "why (recorded on the ledger; no PHI)")
    .option("--duration <duration>", "how long (default 24h)", parseDuration)
    .action(async (flags: KeyFlags & { patient: string; reason: string; duration?: number }) => {
      const client = clientOf(flags);
      const built = (await client.txBuilder()).emergencyDeclare(identityOf(flags.key, flags.did), {
        patient: flags.patient as Did,
        reason: flags.reason,
        ...(flags.duration === undefined ? {} : { durationMs: flags.duration }),
      });
      await commitAndReport(io, client, built, flags, { emergency: built.id });
    });
}
