/**
 * Small helpers over libp2p 3 streams (EventTargets): feeding received chunks to a frame decoder, reading
 * exactly one frame, and closing an inbound stream once the remote has closed its end.
 */

import type { Stream, StreamMessageEvent } from "@libp2p/interface";
import { NodeError } from "../errors.js";
import { FrameDecoder } from "./framing.js";

/** Opens an outbound stream of one protocol to one peer (the narrow slice of libp2p a channel needs). */
export type OpenStream = (peer: string, signal: AbortSignal) => Promise<Stream>;

/** Feeds every chunk of a 'message' event to `decoder`; returns the frames completed, in order. */
export function decodeMessage(decoder: FrameDecoder, event: StreamMessageEvent): Uint8Array[] {
  const data = event.data;
  if (data instanceof Uint8Array) return decoder.push(data);
  const frames: Uint8Array[] = [];
  for (const chunk of data) frames.push(...decoder.push(chunk));
  return frames;
}

/** Closes this end of `stream` once the remote has closed its end (or at once if it already has). */
export function closeAfterRemote(stream: Stream): void {
  const close = (): void => {
    stream.close().catch((error: unknown) => stream.abort(asError(error)));
  };
  if (stream.remoteWriteStatus === "closed") close();
  else stream.addEventListener("remoteCloseWrite", close, { once: true });
}

/**
 * Resolves with the first frame `stream` delivers (at most `frameBytesMax` bytes). Rejects with the
 * decoder's error, REQUEST_FAILED when the stream ends or closes first, or the signal's reason.
 */
export function readOneFrame(
  stream: Stream,
  frameBytesMax: number,
  signal: AbortSignal,
): Promise<Uint8Array> {
  return new Promise<Uint8Array>((resolve, reject) => {
    const decoder = new FrameDecoder(frameBytesMax);
    const settle = (result: { frame: Uint8Array } | { error: unknown }): void => {
      stream.removeEventListener("message", onMessage);
      stream.removeEventListener("end", onEnd);
      stream.removeEventListener("close", onClose);
      signal.removeEventListener("abort", onAbort);
      if ("frame" in result) resolve(result.frame);
      else reject(result.error);
    };
    const onMessage = (event: StreamMessageEvent): void => {
      try {
        const frames = decodeMessage(decoder, event);
        if (frames.length > 0) settle({ frame: frames[0]! });
      } catch (error) {
        settle({ error });
      }
    };
    const onEnd = (): void =>
      settle({ error: new NodeError("REQUEST_FAILED", "stream ended before a frame") });
    const onClose = (): void =>
      settle({ error: new NodeError("REQUEST_FAILED", "stream closed before a frame") });
    const onAbort = (): void => settle({ error: signal.reason });
    if (signal.aborted) return onAbort();
    stream.addEventListener("message", onMessage);
    stream.addEventListener("end", onEnd);
    stream.addEventListener("close", onClose);
    signal.addEventListener("abort", onAbort);
  });
}

/** `value` as an Error (libp2p's abort wants one). */
export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
