/**
 * The dot-encoding writer's half that needs no socket: turns a message into
 * the bytes sent after DATA (RFC 5321 section 4.5.2).
 *
 * In one pass over the bytes it normalises every line ending (CRLF, lone LF,
 * lone CR) to CRLF, doubles a `.` that starts a line, ends the text with CRLF
 * and appends the `.` line that ends the data.
 *
 * @example
 * ```ts
 * const { payload } = encodeData("abc\n.jkl\rfoo\r\n..blue");
 * new TextDecoder().decode(payload); // "abc\r\n..jkl\r\nfoo\r\n...blue\r\n.\r\n"
 * ```
 * @module
 */

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const encoder = new TextEncoder();

/** The encoded DATA payload and the sizes the client needs. */
export interface EncodedData {
  /** Everything to write after the 354 reply, final `.\r\n` included. */
  payload: Uint8Array;
  /** The message's size with CRLF line endings, before dot-stuffing: SIZE=. */
  size: number;
  /** Whether the message has bytes over 127 (it needs 8BITMIME). */
  eightBit: boolean;
}

/** Encodes a message (text as UTF-8, or bytes as they are) for DATA. */
export function encodeData(message: string | Uint8Array): EncodedData {
  const bytes = typeof message === "string" ? encoder.encode(message) : message;
  const eightBit = typeof message === "string"
    ? bytes.length !== message.length // UTF-8 grows only for non-ASCII
    : bytes.some((b) => b > 127);

  // Room for a few added bytes per 64; grown on the rare text that needs more.
  let out = new Uint8Array(bytes.length + (bytes.length >> 6) + 8);
  let at = 0;
  let stuffed = 0;
  const reserve = (n: number) => {
    if (at + n <= out.length) return;
    const bigger = new Uint8Array(Math.max(out.length * 2, at + n));
    bigger.set(out.subarray(0, at));
    out = bigger;
  };

  // Walk line by line, finding the next CR and LF with the native indexOf.
  let nextCR = bytes.indexOf(CR);
  let nextLF = bytes.indexOf(LF);
  let start = 0;
  while (start < bytes.length) {
    if (nextCR !== -1 && nextCR < start) nextCR = bytes.indexOf(CR, start);
    if (nextLF !== -1 && nextLF < start) nextLF = bytes.indexOf(LF, start);
    const end = nextCR === -1
      ? (nextLF === -1 ? bytes.length : nextLF)
      : (nextLF === -1 ? nextCR : Math.min(nextCR, nextLF));
    reserve(end - start + 3);
    if (bytes[start] === DOT) {
      out[at++] = DOT;
      stuffed++;
    }
    out.set(bytes.subarray(start, end), at);
    at += end - start;
    out[at++] = CR;
    out[at++] = LF;
    if (end === bytes.length) break;
    start = end + (bytes[end] === CR && bytes[end + 1] === LF ? 2 : 1);
  }
  // A message that ended without a line ending got one in the loop above;
  // one that ended with a line ending got exactly that one.
  const size = at - stuffed - (endsWithBreak(bytes) || bytes.length === 0 ? 0 : 2);
  reserve(5);
  if (at === 0) {
    out[at++] = CR;
    out[at++] = LF;
  }
  out[at++] = DOT;
  out[at++] = CR;
  out[at++] = LF;
  return { payload: out.subarray(0, at), size, eightBit };
}

function endsWithBreak(bytes: Uint8Array): boolean {
  const last = bytes[bytes.length - 1];
  return last === CR || last === LF;
}
