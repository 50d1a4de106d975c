/** Standard padded base64 (RFC 4648 section 4) without Buffer or btoa, for record content in any runtime. */
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const VALUES = new Map([...ALPHABET].map((character, index) => [character, index]));

/** The padded base64 of `bytes`. */
export function base64Encode(bytes: Uint8Array): string {
  const parts: string[] = [];
  for (let index = 0; index < bytes.length; index += 3) {
    const a = bytes[index] as number;
    const b = bytes[index + 1];
    const c = bytes[index + 2];
    const triple = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    parts.push(
      (ALPHABET[(triple >> 18) & 63] as string) +
        (ALPHABET[(triple >> 12) & 63] as string) +
        (b === undefined ? "=" : (ALPHABET[(triple >> 6) & 63] as string)) +
        (c === undefined ? "=" : (ALPHABET[triple & 63] as string)),
    );
  }
  return parts.join("");
}

/** The bytes of padded base64 `text`, or undefined when it is not base64. */
export function base64Decode(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0) return undefined;
  const body = text.endsWith("==") ? text.slice(0, -2) : text.endsWith("=") ? text.slice(0, -1) : text;
  const out = new Uint8Array(Math.floor((body.length * 3) / 4));
  let buffer = 0;
  let bits = 0;
  let position = 0;
  for (const character of body) {
    const value = VALUES.get(character);
    if (value === undefined) return undefined;
    buffer = ((buffer << 6) | value) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[position++] = (buffer >> bits) & 0xff;
    }
  }
  return out;
}
