/**
 * Server-sent events: every client gets committed blocks (height, hash, time, tx count); a client opened
 * for one patient gets that patient's notifications instead (break-glass, access, access-denied), from
 * the ledger's LedgerEvents. Streams are bounded in number and in buffered bytes: a slow client is cut.
 */
import { type LedgerEvent, toHex } from "@medledger/protocol";
import type { FastifyReply } from "fastify";
import type { AppliedBlock, LedgerNode } from "../ledger/ledger-node.js";
import {
  api_event_heartbeat_ms,
  api_event_stream_buffer_bytes_max,
  api_event_streams_max,
} from "../limits.js";
import { ApiError } from "./errors.js";

interface Client {
  readonly reply: FastifyReply;
  readonly patient: string | null;
}

/** The fan-out of committed blocks to event streams. */
export class EventHub {
  private readonly clients = new Set<Client>();
  private readonly unsubscribe: () => void;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(ledger: Pick<LedgerNode, "onBlock">) {
    this.unsubscribe = ledger.onBlock((applied) => this.publish(applied));
    this.heartbeat = setInterval(() => this.broadcast(": keep-alive\n\n"), api_event_heartbeat_ms);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Takes over `reply` as an event stream (optionally for one patient). Throws STREAMS_FULL. */
  open(reply: FastifyReply, patient: string | null): void {
    if (this.clients.size >= api_event_streams_max) {
      throw new ApiError("STREAMS_FULL", `at most ${api_event_streams_max} event streams`, {
        retryAfterSeconds: 5,
      });
    }
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    const client: Client = { reply, patient };
    this.clients.add(client);
    raw.on("close", () => this.clients.delete(client));
    raw.write(`: ${patient === null ? "blocks" : "patient notifications"}\nretry: 2000\n\n`);
  }

  /** Ends every stream and stops listening. */
  close(): void {
    clearInterval(this.heartbeat);
    this.unsubscribe();
    for (const client of this.clients) client.reply.raw.end();
    this.clients.clear();
  }

  private publish(applied: AppliedBlock): void {
    if (this.clients.size === 0) return;
    const header = applied.block.header;
    const block = frame("block", String(header.height), {
      height: header.height,
      hash: toHex(applied.hash),
      time: header.time,
      txCount: applied.block.txs.length,
    });
    for (const client of this.clients) {
      if (client.patient === null) {
        this.write(client, block);
        continue;
      }
      for (const event of applied.outcome.events) {
        const text = patientFrame(event, client.patient, header.height);
        if (text !== null) this.write(client, text);
      }
    }
  }

  private broadcast(text: string): void {
    for (const client of this.clients) this.write(client, text);
  }

  private write(client: Client, text: string): void {
    const raw = client.reply.raw;
    if (raw.writableLength > api_event_stream_buffer_bytes_max) {
      this.clients.delete(client);
      raw.destroy();
      return;
    }
    raw.write(text);
  }
}

/** The SSE frame of `event` for `patient`, or null when it is not that patient's notification. */
function patientFrame(event: LedgerEvent, patient: string, height: number): string | null {
  if (event.type === "break-glass" && event.patient === patient) {
    return frame("break-glass", String(height), {
      patient: event.patient,
      provider: event.provider,
      emergency: toHex(event.emergency),
      reason: event.reason,
      until: event.until,
      height,
    });
  }
  if (event.type === "access" && event.patient === patient) {
    return frame(event.decision === "denied" ? "access-denied" : "access", String(height), {
      patient: event.patient,
      provider: event.provider,
      tx: toHex(event.tx),
      category: event.category,
      purpose: event.purpose,
      record: event.record,
      decision: event.decision,
      code: event.code,
      cites: event.cites === null ? null : toHex(event.cites),
      flagged: event.flagged,
      height,
    });
  }
  return null;
}

function frame(event: string, id: string, data: unknown): string {
  return `event: ${event}\nid: ${id}\ndata: ${JSON.stringify(data)}\n\n`;
}
