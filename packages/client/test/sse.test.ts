// Goal: the event-stream parser follows the WHATWG interpretation on every framing edge and is bounded.
// Method: fixed streams with their expected events (line endings, comments, multi-line data, fields
// without a colon, BOM, unfinished events), then a property: any split of the bytes into chunks,
// even inside a CRLF or a UTF-8 sequence, gives the same events as one chunk.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isClientError, parseEventStream, type SseMessage, SseParser } from "../src/index.js";

function parse(text: string): SseMessage[] {
  const parser = new SseParser();
  const events = parser.push(text);
  parser.end();
  return events;
}

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

async function parseChunks(chunks: Uint8Array[]): Promise<SseMessage[]> {
  const out: SseMessage[] = [];
  for await (const event of parseEventStream(streamOf(chunks))) out.push(event);
  return out;
}

describe("SseParser", () => {
  it("reads the node's frames: event, id, data, then a blank line", () => {
    expect(parse(': blocks\nretry: 2000\n\nevent: block\nid: 18\ndata: {"height":18}\n\n')).toEqual([
      { event: "block", id: "18", data: '{"height":18}', retryMs: 2000 },
    ]);
  });

  it("joins multi-line data with LF and defaults the type to message", () => {
    expect(parse("data: one\ndata:two\ndata:  three\n\n")).toEqual([
      { event: "message", id: "", data: "one\ntwo\n three" },
    ]);
  });

  it("accepts CRLF, CR and LF line endings, mixed", () => {
    expect(parse("event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\rdata: 3\n\n")).toEqual([
      { event: "a", id: "", data: "1" },
      { event: "b", id: "", data: "2" },
      { event: "message", id: "", data: "3" },
    ]);
  });

  it("skips comments, even between data lines and as keep-alives", () => {
    expect(parse(": keep-alive\n\ndata: a\n: note\ndata: b\n\n:\n\n")).toEqual([
      { event: "message", id: "", data: "a\nb" },
    ]);
  });

  it("takes a field without a colon as an empty value", () => {
    expect(parse("data\ndata\n\n")).toEqual([{ event: "message", id: "", data: "\n" }]);
    expect(parse("event\ndata: x\n\n")).toEqual([{ event: "message", id: "", data: "x" }]);
  });

  it("does not dispatch an event without data, and resets its type", () => {
    expect(parse("event: ping\n\ndata: x\n\n")).toEqual([{ event: "message", id: "", data: "x" }]);
  });

  it("keeps the last id across events, ignores an id with NUL, resets it when empty", () => {
    expect(parse("id: 7\ndata: a\n\ndata: b\n\nid: 8\u0000\ndata: c\n\nid\ndata: d\n\n")).toEqual([
      { event: "message", id: "7", data: "a" },
      { event: "message", id: "7", data: "b" },
      { event: "message", id: "7", data: "c" },
      { event: "message", id: "", data: "d" },
    ]);
  });

  it("ignores unknown fields and a retry that is not digits", () => {
    expect(parse("foo: bar\nretry: 1s\ndata: x\n\n")).toEqual([{ event: "message", id: "", data: "x" }]);
  });

  it("drops a leading BOM, only at the start", () => {
    expect(parse("\uFEFFdata: x\n\n")).toEqual([{ event: "message", id: "", data: "x" }]);
    expect(parse("data: \uFEFFx\n\n")[0]?.data).toBe("\uFEFFx");
  });

  it("discards an unfinished event at the end of the stream", () => {
    expect(parse("data: complete\n\ndata: unfinished\n")).toEqual([
      { event: "message", id: "", data: "complete" },
    ]);
  });

  it("fails with CLIENT_STREAM_INVALID past the line and data bounds", () => {
    const lines = new SseParser({ lineCharsMax: 16, dataCharsMax: 64 });
    expect(() => lines.push("data: 0123456789abcdef")).toThrow(
      expect.objectContaining({ code: "CLIENT_STREAM_INVALID" }),
    );
    const data = new SseParser({ lineCharsMax: 16, dataCharsMax: 20 });
    let error: unknown;
    try {
      for (let index = 0; index < 5; index++) data.push("data: 0123456\n");
    } catch (caught) {
      error = caught;
    }
    expect(isClientError(error, "CLIENT_STREAM_INVALID")).toBe(true);
  });
});

describe("parseEventStream", () => {
  it("handles a CRLF split between chunks without an extra blank line", async () => {
    const encoder = new TextEncoder();
    const events = await parseChunks([
      encoder.encode("data: a\r"),
      encoder.encode("\ndata: b\r"),
      encoder.encode("\n\r\n"),
    ]);
    expect(events).toEqual([{ event: "message", id: "", data: "a\nb" }]);
  });

  it("gives the same events for any chunking of the bytes (UTF-8 sequences split too)", async () => {
    const text =
      '\uFEFF: hello\r\nevent: block\r\nid: 1\r\ndata: {"é":"✓"}\r\n\r\ndata: 𝄞 line one\rdata: two\r\r' +
      "event: access-denied\ndata\n: c\ndata: last\n\n";
    const bytes = new TextEncoder().encode(text);
    const expected = await parseChunks([bytes]);
    expect(expected.map((event) => event.event)).toEqual(["block", "message", "access-denied"]);
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 12 }),
        async (cuts) => {
          const points = [0, ...cuts.sort((a, b) => a - b), bytes.length];
          const chunks = points.slice(1).map((end, index) => bytes.slice(points[index], end));
          expect(await parseChunks(chunks)).toEqual(expected);
        },
      ),
      { numRuns: 200 },
    );
  });
});
