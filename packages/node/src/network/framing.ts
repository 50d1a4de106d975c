/**
 * Length-prefixed framing: each frame is an unsigned LEB128 varint length (minimal, at most
 * `frame_prefix_bytes_max` bytes) followed by that many payload bytes. The decoder is incremental, bounds
 * every length before it allocates, and throws FRAME_TOO_LARGE or FRAME_MALFORMED on a hostile stream.
 */

import { NodeError } from "../errors.js";
import { frame_prefix_bytes_max } from "../limits.js";

/** Bytes the varint prefix of `length` takes. */
export function prefixBytes(length: number): number {
  let bytes = 1;
  for (let rest = length >>> 7; rest > 0; rest >>>= 7) bytes += 1;
  return bytes;
}

/** Writes the varint prefix of `length` into `target` at `offset`; returns the offset after it. */
export function writePrefix(target: Uint8Array, offset: number, length: number): number {
  let rest = length;
  let at = offset;
  while (rest >= 0x80) {
    target[at++] = (rest & 0x7f) | 0x80;
    rest >>>= 7;
  }
  target[at++] = rest;
  return at;
}

/** Encodes frames into one buffer, each with its length prefix. */
export function encodeFrames(frames: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const frame of frames) total += prefixBytes(frame.byteLength) + frame.byteLength;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const frame of frames) {
    offset = writePrefix(out, offset, frame.byteLength);
    out.set(frame, offset);
    offset += frame.byteLength;
  }
  return out;
}

/** Encodes one frame with its length prefix. */
export function encodeFrame(frame: Uint8Array): Uint8Array {
  return encodeFrames([frame]);
}

/** An incremental decoder of length-prefixed frames, bounded by `frameBytesMax`. */
export class FrameDecoder {
  readonly #frameBytesMax: number;
  #prefixValue = 0;
  #prefixBytes = 0;
  #body: Uint8Array | undefined;
  #bodyFilled = 0;

  constructor(frameBytesMax: number) {
    this.#frameBytesMax = frameBytesMax;
  }

  /** True when no partial frame is buffered. */
  get idle(): boolean {
    return this.#prefixBytes === 0 && this.#body === undefined;
  }

  /** Feeds bytes; returns the frames they complete, in order. Throws on a hostile prefix. */
  push(chunk: Uint8Array): Uint8Array[] {
    const frames: Uint8Array[] = [];
    let offset = 0;
    while (offset < chunk.byteLength) {
      offset = this.#body === undefined ? this.#readPrefix(chunk, offset) : this.#readBody(chunk, offset);
      if (this.#body !== undefined && this.#bodyFilled === this.#body.byteLength) {
        frames.push(this.#body);
        this.#body = undefined;
      }
    }
    return frames;
  }

  #readPrefix(chunk: Uint8Array, offset: number): number {
    const byte = chunk[offset]!;
    if (this.#prefixBytes === frame_prefix_bytes_max) {
      throw new NodeError("FRAME_MALFORMED", `length prefix longer than ${frame_prefix_bytes_max} bytes`);
    }
    this.#prefixValue += (byte & 0x7f) * 2 ** (7 * this.#prefixBytes);
    this.#prefixBytes += 1;
    if ((byte & 0x80) !== 0) return offset + 1;
    if (byte === 0 && this.#prefixBytes > 1)
      throw new NodeError("FRAME_MALFORMED", "non-minimal length prefix");
    this.#startBody(this.#prefixValue);
    return offset + 1;
  }

  #startBody(length: number): void {
    if (length > this.#frameBytesMax) {
      throw new NodeError("FRAME_TOO_LARGE", `frame of ${length} bytes exceeds ${this.#frameBytesMax}`);
    }
    this.#prefixValue = 0;
    this.#prefixBytes = 0;
    this.#body = new Uint8Array(length);
    this.#bodyFilled = 0;
  }

  #readBody(chunk: Uint8Array, offset: number): number {
    const body = this.#body!;
    const take = Math.min(body.byteLength - this.#bodyFilled, chunk.byteLength - offset);
    body.set(chunk.subarray(offset, offset + take), this.#bodyFilled);
    this.#bodyFilled += take;
    return offset + take;
  }
}
