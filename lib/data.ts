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

/**
 * Encodes a message (text as UTF-8, or bytes as they are) for DATA.
 *
 * The message's bytes are put at the back of the output buffer, with a
 * little room in front, and each line is moved forward to its place with
 * the native `copyWithin`, so there is no second copy of the message and
 * no per-line allocation. Should the added bytes use up the room (many
 * short lines), the rest moves to a bigger buffer once.
 */
export function encodeData(message: string | Uint8Array): EncodedData {
  let buf: Uint8Array;
  let read: number; // where the unread input starts
  let end: number; // where the input ends
  let eightBit: boolean;
  const roomFor = (n: number) => (n >> 4) + 8;
  if (typeof message === "string") {
    // Plain ASCII (the common case) is encoded straight into place.
    read = roomFor(message.length);
    buf = new Uint8Array(read + message.length + 5);
    const done = encoder.encodeInto(message, buf.subarray(read, read + message.length));
    eightBit = done.read !== message.length || done.written !== message.length;
    if (eightBit) {
      const bytes = encoder.encode(message);
      read = roomFor(bytes.length);
      buf = new Uint8Array(read + bytes.length + 5);
      buf.set(bytes, read);
    }
    end = buf.length - 5;
  } else {
    eightBit = message.some((b) => b > 127);
    read = roomFor(message.length);
    buf = new Uint8Array(read + message.length + 5);
    buf.set(message, read);
    end = read + message.length;
  }
  const inputLength = end - read;
  const endsWithBreak = inputLength > 0 && (buf[end - 1] === CR || buf[end - 1] === LF);

  let at = 0; // where the output goes next; always at or before `read`
  let stuffed = 0;
  // Walk line by line, finding the next CR and LF with the native indexOf.
  let nextCR = buf.indexOf(CR, read);
  let nextLF = buf.indexOf(LF, read);
  while (read < end) {
    if (nextCR !== -1 && nextCR < read) nextCR = buf.indexOf(CR, read);
    if (nextLF !== -1 && nextLF < read) nextLF = buf.indexOf(LF, read);
    const cr = nextCR === -1 || nextCR >= end ? end : nextCR;
    const lf = nextLF === -1 || nextLF >= end ? end : nextLF;
    const lineEnd = Math.min(cr, lf);
    const breakLength = lineEnd === end ? 0 : (lineEnd === cr && lf === cr + 1 ? 2 : 1);
    const dot = buf[read] === DOT ? 1 : 0;
    const lineLength = lineEnd - read;
    if (at + dot + lineLength + 2 > lineEnd + breakLength) {
      // The output would overwrite unread input: give the rest more room.
      const rest = end - read;
      const bigger = new Uint8Array(at + roomFor(rest) + 2 * rest + 5);
      bigger.set(buf.subarray(0, at));
      const newRead = bigger.length - 5 - rest;
      bigger.set(buf.subarray(read, end), newRead);
      const shift = newRead - read;
      if (nextCR !== -1) nextCR += shift;
      if (nextLF !== -1) nextLF += shift;
      buf = bigger;
      read = newRead;
      end = bigger.length - 5;
      continue;
    }
    buf.copyWithin(at + dot, read, lineEnd);
    if (dot) {
      buf[at] = DOT;
      stuffed++;
    }
    at += dot + lineLength;
    buf[at++] = CR;
    buf[at++] = LF;
    read = lineEnd + breakLength;
  }
  // A message that ended without a line ending got one in the loop above;
  // one that ended with a line ending got exactly that one.
  const size = at - stuffed - (endsWithBreak || inputLength === 0 ? 0 : 2);
  if (at === 0) {
    buf[at++] = CR;
    buf[at++] = LF;
  }
  buf[at++] = DOT;
  buf[at++] = CR;
  buf[at++] = LF;
  return { payload: buf.subarray(0, at), size, eightBit };
}
