/**
 * A parser of server-sent events (the WHATWG HTML "event stream interpretation", section 9.2.6) over
 * a fetch body: lines end in CRLF, LF or CR (also split across chunks); a leading BOM is dropped;
 * `:` lines are comments; `data` lines accumulate joined by LF; a field without a colon has an empty
 * value; one space after the colon is dropped; an event is dispatched at a blank line, never at the end
 * of the stream (an unfinished event is discarded); an event with no data is not dispatched; `id` with
 * a NUL is ignored; `retry` only with digits. Bounded: a line over event_line_chars_max or data over
 * event_data_chars_max fails with CLIENT_STREAM_INVALID.
 */
import { clientError } from "./errors.js";
import { event_data_chars_max, event_line_chars_max } from "./limits.js";

/** One dispatched event. */
export interface SseMessage {
  /** The event type ("message" when the stream named none). */
  readonly event: string;
  /** The data lines joined by LF. */
  readonly data: string;
  /** The last event id seen on the stream so far ("" when none). */
  readonly id: string;
  /** The reconnection time the stream last asked for, in ms, if any. */
  readonly retryMs?: number;
}

/** Bounds of a parser (defaults from limits.ts). */
export interface SseBounds {
  readonly lineCharsMax?: number;
  readonly dataCharsMax?: number;
}

/** An incremental parser: push decoded text, get the events it completes. */
export class SseParser {
  private buffer = "";
  private started = false;
  private skipLineFeed = false;
  private eventType = "";
  private data: string[] = [];
  private dataChars = 0;
  private lastId = "";
  private retryMs: number | undefined;
  private readonly lineCharsMax: number;
  private readonly dataCharsMax: number;

  constructor(bounds: SseBounds = {}) {
    this.lineCharsMax = bounds.lineCharsMax ?? event_line_chars_max;
    this.dataCharsMax = bounds.dataCharsMax ?? event_data_chars_max;
  }

  /** Feeds `text` (already decoded); returns the events completed by it, in order. */
  push(text: string): SseMessage[] {
    let chunk = text;
    if (!this.started && chunk.length > 0) {
      this.started = true;
      if (chunk.startsWith("\uFEFF")) chunk = chunk.slice(1);
    }
    if (this.skipLineFeed && chunk.startsWith("\n")) chunk = chunk.slice(1);
    this.skipLineFeed = false;
    this.buffer += chunk;
    const out: SseMessage[] = [];
    let start = 0;
    for (;;) {
      const end = lineEnd(this.buffer, start);
      if (end === -1) break;
      const message = this.line(this.buffer.slice(start, end));
      if (message !== null) out.push(message);
      if (this.buffer[end] === "\r") {
        if (end + 1 === this.buffer.length) this.skipLineFeed = true;
        start = this.buffer[end + 1] === "\n" ? end + 2 : end + 1;
      } else {
        start = end + 1;
      }
    }
    this.buffer = this.buffer.slice(start);
    if (this.buffer.length > this.lineCharsMax) {
      throw clientError(
        "CLIENT_STREAM_INVALID",
        `an event stream line is longer than ${this.lineCharsMax} characters`,
      );
    }
    return out;
  }

  /** The end of the stream: an unfinished event is discarded (as the standard says). */
  end(): void {
    this.buffer = "";
    this.data = [];
    this.dataChars = 0;
    this.eventType = "";
  }

  private line(line: string): SseMessage | null {
    if (line.length > this.lineCharsMax) {
      throw clientError(
        "CLIENT_STREAM_INVALID",
        `an event stream line is longer than ${this.lineCharsMax} characters`,
      );
    }
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    this.field(field, value);
    return null;
  }

  private field(field: string, value: string): void {
    switch (field) {
      case "event":
        this.eventType = value;
        return;
      case "data":
        this.dataChars += value.length + 1;
        if (this.dataChars > this.dataCharsMax) {
          throw clientError(
            "CLIENT_STREAM_INVALID",
            `an event's data is longer than ${this.dataCharsMax} characters`,
          );
        }
        this.data.push(value);
        return;
      case "id":
        if (!value.includes("\u0000")) this.lastId = value;
        return;
      case "retry":
        if (/^[0-9]+$/.test(value)) this.retryMs = Number(value);
        return;
      default:
        return; // unknown fields are ignored
    }
  }

  private dispatch(): SseMessage | null {
    const data = this.data;
    const event = this.eventType === "" ? "message" : this.eventType;
    this.data = [];
    this.dataChars = 0;
    this.eventType = "";
    if (data.length === 0) return null;
    return {
      event,
      data: data.join("\n"),
      id: this.lastId,
      ...(this.retryMs === undefined ? {} : { retryMs: this.retryMs }),
    };
  }
}

/** Index of the first CR or LF at or after `start`, or -1. */
function lineEnd(text: string, start: number): number {
  for (let index = start; index < text.length; index++) {
    const character = text.charCodeAt(index);
    if (character === 10 || character === 13) return index;
  }
  return -1;
}

/** The events of a byte stream (a fetch body), decoded as UTF-8; ends when the stream ends. */
export async function* parseEventStream(
  body: ReadableStream<Uint8Array>,
  bounds: SseBounds = {},
): AsyncGenerator<SseMessage, void, undefined> {
  const parser = new SseParser(bounds);
  const decoder = new TextDecoder("utf-8");
  const reader = body.getReader();
  try {
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      yield* parser.push(decoder.decode(chunk.value, { stream: true }));
    }
    parser.push(decoder.decode());
    parser.end();
  } finally {
    await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
