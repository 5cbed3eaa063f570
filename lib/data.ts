/**
 * The dot-encoding writer's half that needs no socket: turns a message into
 * the bytes sent after DATA (RFC 5321 section 4.5.2), in one piece or chunk
 * by chunk.
 *
 * {@link DotEncoder} is the one encoder: like Go's `textproto.DotWriter` it
 * is a small state machine (at the beginning of a line, in a line, just
 * after a CR) that never looks back, so a message may be cut anywhere, a
 * CRLF or a line split between two chunks, and the bytes out are the same.
 * It normalises every line ending (CRLF, lone LF, lone CR) to CRLF, doubles
 * a `.` that starts a line, and at the end adds CRLF to a last line that has
 * none and the `.` line that ends the data. With `{ dotStuff: false }` it
 * only normalises the line endings (for BDAT, RFC 3030, which has no dots).
 *
 * {@link encodeData} (the whole message at once) and
 * lib/stream.ts's `writeMessage` (the message in bounded pieces) are its users.
 *
 * @example The whole message at once
 * ```ts
 * const { payload } = encodeData("abc\n.jkl\rfoo\r\n..blue");
 * new TextDecoder().decode(payload); // "abc\r\n..jkl\r\nfoo\r\n...blue\r\n.\r\n"
 * ```
 *
 * @example Chunk by chunk, with the state kept between chunks
 * ```ts
 * const encoder = new DotEncoder();
 * const out = new Uint8Array(DotEncoder.room(4) + DotEncoder.END_ROOM);
 * let at = encoder.encodeInto(new TextEncoder().encode("a\r"), out, 0); // "a\r\n"
 * at = encoder.encodeInto(new TextEncoder().encode("\n.b"), out, at); // "..b": the LF was the CR's
 * at = encoder.finish(out, at); // "\r\n.\r\n"
 * encoder.size; // 5: "a\r\n.b" with CRLF line endings, before dot-stuffing
 * ```
 * @module
 */

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const encoder = new TextEncoder();

/** The encoder's states, as in Go's `DotWriter`. */
const BEGIN_LINE = 0;
const IN_LINE = 1;
const AFTER_CR = 2; // a CR was written as CRLF; an LF now is its own and is dropped

/** Options for {@link DotEncoder}. */
export interface DotEncoderOptions {
  /**
   * Double a `.` that starts a line and end with the `.` line (DATA); true
   * by default. False only normalises the line endings (BDAT).
   */
  dotStuff?: boolean;
}

/**
 * A streaming DATA encoder. Feed it the message's bytes in any chunks with
 * {@link DotEncoder.encodeInto}, then call {@link DotEncoder.finish} once.
 * The output is the same for every way of cutting the message.
 *
 * - Every line ending (CRLF, lone LF, lone CR) comes out as CRLF.
 * - With `dotStuff` (the default), a `.` that starts a line is doubled, and
 *   `finish()` writes CRLF if the last line had no line ending (or the
 *   message was empty), then `.` CRLF.
 * - With `{ dotStuff: false }` (for BDAT), dots are left alone and `finish()`
 *   writes only the CRLF that a last line without one needs (nothing for an
 *   empty message).
 *
 * The caller owns the output buffer: `encodeInto(input, out, at)` needs
 * `DotEncoder.room(input.length)` bytes free from `at`, `finish(out, at)`
 * needs {@link DotEncoder.END_ROOM}. No allocation happens per chunk.
 */
export class DotEncoder {
  /** The most bytes {@link DotEncoder.finish} writes. */
  static readonly END_ROOM = 5;

  /** The most bytes {@link DotEncoder.encodeInto} writes for `n` input bytes. */
  static room(n: number): number {
    return 2 * n;
  }

  /** The message's size so far with CRLF line endings, before dot-stuffing: SIZE=. */
  size = 0;
  /** The input bytes taken so far. */
  bytesIn = 0;
  readonly #dotStuff: boolean;
  #state = BEGIN_LINE;
  #high = 0; // every input byte (and word) OR-ed together: a bit 7 set means 8-bit
  #stuffed = 0;

  /** A new encoder, at the beginning of a message. */
  constructor(options: DotEncoderOptions = {}) {
    this.#dotStuff = options.dotStuff ?? true;
  }

  /** Whether the message so far has bytes over 127 (it needs 8BITMIME). */
  get eightBit(): boolean {
    return (this.#high & 0x80808080) !== 0;
  }

  /**
   * Encodes `input` into `out` from `at`, and returns where the output
   * ends. `out` must have {@link DotEncoder.room}`(input.length)` bytes free;
   * a few of them past the end returned may have been written over.
   */
  encodeInto(input: Uint8Array, out: Uint8Array, at: number): number {
    const dotStuff = this.#dotStuff;
    const n = input.length;
    // Four bytes at a time through these views (unaligned, little-endian).
    const inWords = new DataView(input.buffer, input.byteOffset, n);
    const outWords = new DataView(out.buffer, out.byteOffset, out.length);
    const lastWord = n - 4;
    let state = this.#state;
    let high = this.#high;
    let o = at;
    let stuffed = 0;
    let i = 0;
    while (i < n) {
      let b = input[i];
      if (state !== IN_LINE && b !== LF && b !== CR) {
        // The first byte of a line.
        if (b === DOT && dotStuff) {
          out[o++] = DOT;
          stuffed++;
        }
        state = IN_LINE;
      }
      // The hot loop: copy the line a word at a time, up to its first byte
      // that is CR or below. The whole word is stored; what follows that
      // byte is written over next.
      while (i <= lastWord) {
        const word = inWords.getInt32(i, true);
        high |= word; // bytes past the line's end too: they are the message's
        outWords.setInt32(o, word, true);
        const controls = controlBytes(word);
        if (controls !== 0) {
          const ordinary = firstMarked(controls);
          i += ordinary;
          o += ordinary;
          break;
        }
        i += 4;
        o += 4;
      }
      if (i === n) break;
      // Then byte by byte up to the line's end: a word ended by the input's
      // end (every byte above CR is ordinary).
      b = input[i];
      while (b > CR) {
        high |= b;
        out[o++] = b;
        if (++i === n) break;
        b = input[i];
      }
      if (i === n) break;
      if (b === LF) {
        // The LF of a CRLF was written with its CR.
        if (state !== AFTER_CR) {
          out[o++] = CR;
          out[o++] = LF;
        }
        state = BEGIN_LINE;
      } else if (b === CR) {
        out[o++] = CR;
        out[o++] = LF;
        state = AFTER_CR;
      } else {
        // A control byte other than CR and LF (a tab): part of the line.
        high |= b;
        out[o++] = b;
        state = IN_LINE;
      }
      i++;
    }
    this.#state = state;
    this.#high = high;
    this.#stuffed += stuffed;
    this.bytesIn += n;
    this.size = o - at - stuffed + this.size;
    return o;
  }

  /**
   * Ends the message into `out` from `at` (which needs
   * {@link DotEncoder.END_ROOM} bytes free) and returns where it ends.
   */
  finish(out: Uint8Array, at: number): number {
    let o = at;
    if (this.#state === IN_LINE || (this.bytesIn === 0 && this.#dotStuff)) {
      out[o++] = CR;
      out[o++] = LF;
    }
    if (this.#dotStuff) {
      out[o++] = DOT;
      out[o++] = CR;
      out[o++] = LF;
    }
    this.#state = BEGIN_LINE;
    return o;
  }
}

/**
 * The bytes of a little-endian `word` below 0x0E (CR, LF and the other
 * controls), each marked by its bit 7; zero when there are none. A SWAR
 * test ("has a byte less than n"): a borrow may mark a byte above the
 * lowest marked one, never the lowest itself, which is exact.
 */
function controlBytes(word: number): number {
  return (word - 0x0e0e0e0e) & ~word & 0x80808080;
}

/** The index (0 to 3) of the lowest byte that {@link controlBytes} marked. */
function firstMarked(marks: number): number {
  return (31 - Math.clz32(marks & -marks)) >> 3;
}

/** The encoded DATA payload and the sizes the client needs. */
export interface EncodedData {
  /** Everything to write after the 354 reply, final `.\r\n` included. */
  payload: Uint8Array;
  /** The message's size with CRLF line endings, before dot-stuffing: SIZE=. */
  size: number;
  /** Whether the message has bytes over 127 (it needs 8BITMIME). */
  eightBit: boolean;
}

/** The most input bytes the encoder takes at a time from a string or bytes. */
export const PIECE_BYTES = 64 * 1024;

/**
 * A message's bytes in pieces: bytes are viewed in place, {@link PIECE_BYTES}
 * at a time; a string is encoded as UTF-8 {@link PIECE_BYTES} code units at a
 * time (at most three times as many bytes) into one reused buffer, never
 * cutting a surrogate pair in two. Each piece is valid only until the next
 * is asked for.
 */
export function* messagePieces(message: string | Uint8Array): Generator<Uint8Array> {
  if (typeof message !== "string") {
    for (let at = 0; at < message.length; at += PIECE_BYTES) {
      yield message.subarray(at, at + PIECE_BYTES);
    }
    return;
  }
  // A UTF-16 code unit gives at most 3 bytes of UTF-8; a pair gives 4.
  const chars = PIECE_BYTES;
  const scratch = new Uint8Array(3 * chars);
  for (let at = 0; at < message.length;) {
    let end = Math.min(at + chars, message.length);
    const last = message.charCodeAt(end - 1);
    if (end < message.length && last >= 0xd800 && last <= 0xdbff) end--; // keep the pair whole
    const { written } = encoder.encodeInto(message.slice(at, end), scratch);
    yield scratch.subarray(0, written);
    at = end;
  }
}

/**
 * Encodes a whole message (text as UTF-8, or bytes as they are) for DATA,
 * with {@link DotEncoder}, into one buffer a little larger than the
 * message (grown should the added bytes need more room). With
 * `{ dotStuff: false }` (for BDAT) the line endings only are normalised and
 * the payload has no `.` line.
 */
export function encodeData(
  message: string | Uint8Array,
  options: DotEncoderOptions = {},
): EncodedData {
  const dots = new DotEncoder(options);
  const room = DotEncoder.room(PIECE_BYTES) + DotEncoder.END_ROOM;
  let out = new Uint8Array(message.length + (message.length >> 4) + room);
  let at = 0;
  for (const piece of messagePieces(message)) {
    if (at + DotEncoder.room(piece.length) + DotEncoder.END_ROOM > out.length) {
      const needed = at + DotEncoder.room(piece.length) + DotEncoder.END_ROOM;
      const bigger = new Uint8Array(Math.max(2 * out.length, needed));
      bigger.set(out.subarray(0, at));
      out = bigger;
    }
    at = dots.encodeInto(piece, out, at);
  }
  at = dots.finish(out, at);
  return { payload: out.subarray(0, at), size: dots.size, eightBit: dots.eightBit };
}

/** What MAIL needs to know of a message before it is sent. */
export interface MessageFacts {
  /** Its size with CRLF line endings, before dot-stuffing: SIZE=, as {@link DotEncoder.size}. */
  size: number;
  /** Whether it has bytes over 127, as {@link DotEncoder.eightBit}. */
  eightBit: boolean;
}

/**
 * A message's SIZE and 8-bit flag before it is sent in pieces, so that MAIL
 * can say them. For text it counts the UTF-8 bytes and the lone CRs and LFs
 * (each becomes CRLF, one byte more) with the runtime's native string
 * search, without encoding it; bytes go through {@link DotEncoder} itself,
 * the output thrown away. The tests hold both to the encoder's figures.
 */
export function measureMessage(message: string | Uint8Array): MessageFacts {
  if (typeof message === "string") {
    let bytes = 0;
    for (const piece of messagePieces(message)) bytes += piece.length;
    const lone = loneLineEnds(message);
    // Only ASCII gives one byte per UTF-16 code unit.
    return { size: bytes + lone, eightBit: bytes !== message.length };
  }
  return measureBytes(message);
}

/** How many LFs of `text` have no CR before them and CRs no LF after them. */
function loneLineEnds(text: string): number {
  // Without a CR every LF is lone: count them a piece at a time with the
  // native regex matcher, about twice as fast as an indexOf a line.
  if (text.indexOf("\r") === -1) {
    let count = 0;
    for (let at = 0; at < text.length; at += PIECE_BYTES) {
      count += text.slice(at, at + PIECE_BYTES).match(/\n/g)?.length ?? 0;
    }
    return count;
  }
  let lone = 0;
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) {
    if (i === 0 || text.charCodeAt(i - 1) !== CR) lone++;
  }
  for (let i = text.indexOf("\r"); i !== -1; i = text.indexOf("\r", i + 1)) {
    if (text.charCodeAt(i + 1) !== LF) lone++;
  }
  return lone;
}

/**
 * {@link measureMessage} for bytes: {@link DotEncoder}'s own count, its
 * output thrown away a piece at a time (as fast as a pass that only counts).
 */
function measureBytes(bytes: Uint8Array): MessageFacts {
  const dots = new DotEncoder({ dotStuff: false });
  const scratch = new Uint8Array(DotEncoder.room(PIECE_BYTES));
  for (const piece of messagePieces(bytes)) dots.encodeInto(piece, scratch, 0);
  return { size: dots.size, eightBit: dots.eightBit };
}
