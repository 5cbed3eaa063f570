/**
 * CHUNKING (RFC 3030): the message sent as `BDAT n` chunks instead of after
 * DATA, with no dot-stuffing and no end-of-data line, the last chunk as
 * `BDAT n LAST`. An empty message is `BDAT 0 LAST`.
 *
 * The chunks hold the message with its line endings made CRLF, exactly as
 * DATA would deliver it, so a server gets the same message either way; with
 * `BODY=BINARYMIME` the bytes go as they are.
 *
 * Each BDAT is answered 250; any other reply fails the transaction, and no
 * further BDAT is sent (RFC 3030 section 2): the caller says RSET. With
 * PIPELINING (section 4.2) MAIL, every RCPT and the chunks go without waiting
 * for a reply, the replies read as they come; a refusal stops the chunks
 * after the one being written, which the server reads and discards.
 *
 * This module knows the protocol; the connection it talks through is a
 * {@link ChunkWire} that `SMTP` hands it, so the transcript and the deadlines
 * stay the client's.
 *
 * @example
 * ```ts
 * const chunks = [...chunksOf(new TextEncoder().encode("Subject: hi\r\n\r\nHello\r\n"), 16)];
 * chunks.map(bdatCommand); // ["bdat 16", "bdat 7 last"]
 * ```
 * @module
 */

import type { Step } from "./conn.ts";
import { encodeData, type EncodedData } from "./data.ts";
import type { Envelope } from "./envelope.ts";
import { SMTPNotSupportedError, type SMTPReply } from "./errors.ts";

/**
 * The default chunk size: 1 MiB. Memory holds at most one chunk (and one
 * being written); larger chunks gain nothing measurable on loopback (see
 * the README's bench table), smaller ones cost a round trip each when not
 * pipelined.
 */
export const BDAT_CHUNK_SIZE = 1 << 20;

/** One chunk of the message and whether it is the last. */
export interface Chunk {
  /** The chunk's bytes, sent as they are after `BDAT n`. */
  bytes: Uint8Array;
  /** True for the last chunk (`BDAT n LAST`). */
  last: boolean;
}

/** What the chunks need from the connection: lines and a chunk out, replies in. */
export interface ChunkWire {
  /**
   * Writes each of `lines` with CRLF after it, then `chunk`, showing them
   * in the transcript (the lines as `send: '...'`, the chunk as `send: b'...'`).
   */
  send(lines: readonly string[], chunk: Uint8Array): Promise<void>;
  /** Reads one reply within `step`'s deadline; a 421 closes the connection. */
  reply(step: Step): Promise<SMTPReply>;
}

/**
 * `payload` cut into chunks of at most `chunkSize` bytes (views, no copy),
 * the last one marked; an empty payload is one empty last chunk.
 */
export function* chunksOf(
  payload: Uint8Array,
  chunkSize: number = BDAT_CHUNK_SIZE,
): Generator<Chunk> {
  if (payload.length === 0) {
    yield { bytes: payload, last: true };
    return;
  }
  for (let at = 0; at < payload.length; at += chunkSize) {
    const end = Math.min(at + chunkSize, payload.length);
    yield { bytes: payload.subarray(at, end), last: end === payload.length };
  }
}

/** `bdat 209 last`: lower case, as smtplib writes its commands. */
export function bdatCommand(chunk: Chunk): string {
  return `bdat ${chunk.bytes.length}${chunk.last ? " last" : ""}`;
}

/** Each of `lines` with CRLF after it, then `chunk`, in one buffer for one write. */
export function frame(lines: readonly string[], chunk: Uint8Array): Uint8Array {
  const head = new TextEncoder().encode(lines.map((line) => `${line}\r\n`).join(""));
  if (chunk.length === 0) return head;
  const bytes = new Uint8Array(head.length + chunk.length);
  bytes.set(head);
  bytes.set(chunk, head.length);
  return bytes;
}

/**
 * Whether `sendmail` sends by BDAT (`chunking` asked for and CHUNKING
 * offered) and whether the bytes go as they are (`BODY=BINARYMIME` among
 * `mailOptions`). BINARYMIME without BDAT is an `SMTPNotSupportedError`
 * before anything is sent (RFC 3030 section 3: it may not follow DATA).
 */
export function choose(
  options: { chunking?: boolean },
  offered: boolean,
  mailOptions: readonly string[] = [],
): { chunked: boolean; binary: boolean } {
  const chunked = options.chunking === true && offered;
  const binary = asksForBinary(mailOptions);
  if (binary && !chunked) {
    throw new SMTPNotSupportedError(
      "BODY=BINARYMIME needs BDAT: " +
        (options.chunking ? "the server does not offer CHUNKING" : "pass { chunking: true }"),
    );
  }
  return { chunked, binary };
}

/** True when `options` (MAIL's) ask for `BODY=BINARYMIME`: the bytes go as they are. */
export function asksForBinary(options: readonly string[]): boolean {
  return options.some((option) => /^body=binarymime$/i.test(option));
}

/**
 * Sends the chunks one at a time, each BDAT waiting for its reply. Returns
 * the first reply that is not 250 (nothing more is sent after it), or the
 * last chunk's.
 */
export async function sendChunks(
  wire: ChunkWire,
  chunks: Iterable<Chunk> | AsyncIterable<Chunk>,
): Promise<SMTPReply> {
  for await (const chunk of chunks) {
    await wire.send([bdatCommand(chunk)], chunk.bytes);
    const reply = await wire.reply(chunk.last ? "dataEnd" : "command");
    if (reply[0] !== 250 || chunk.last) return reply;
  }
  throw new TypeError("sendChunks(): the chunks had no last one");
}

/** What a reply in a pipelined BDAT transaction answers. */
type Answers = "envelope" | "chunk" | "last";

/**
 * RFC 3030 section 4.2: the envelope `commands` (MAIL and the RCPTs) go in
 * one write with the first chunk, the other chunks after it, none waiting
 * for a reply; the replies are read while the chunks are written. MAIL's
 * and the RCPTs' replies go to `envelope`. A refused sender, every
 * recipient refused, a BDAT not answered 250 or a 421 stops the chunks
 * after the one being written. Every reply to what was sent is read
 * (unless the server closed), so the session stays in step.
 *
 * Returns the first BDAT reply that is not 250, or the last chunk's; null
 * if no BDAT reply came (the server closed during the envelope).
 */
export async function pipelineChunks(
  wire: ChunkWire,
  commands: readonly string[],
  envelope: Envelope,
  chunks: Iterable<Chunk> | AsyncIterable<Chunk>,
): Promise<SMTPReply | null> {
  const sent: Answers[] = [];
  let stop = false;
  let writing = true;
  let wake: (() => void) | null = null;
  const notify = () => {
    wake?.();
    wake = null;
  };
  let writeError: unknown = null;
  const writer = (async () => {
    try {
      let lines = [...commands];
      for await (const chunk of chunks) {
        if (stop) break;
        lines.push(bdatCommand(chunk));
        // Marked as sent before the write: its reply may come while the write goes on.
        sent.push(...lines.slice(0, -1).map((): Answers => "envelope"));
        sent.push(chunk.last ? "last" : "chunk");
        notify();
        await wire.send(lines, chunk.bytes);
        lines = [];
      }
    } catch (error) {
      writeError = error;
    } finally {
      writing = false;
      notify();
    }
  })();

  let end: SMTPReply | null = null;
  try {
    for (let i = 0;; i++) {
      while (i >= sent.length && writing) await new Promise<void>((resolve) => wake = resolve);
      if (i >= sent.length) break;
      const answers = sent[i];
      const reply = await wire.reply(answers === "last" ? "dataEnd" : "command");
      if (answers === "envelope") {
        if (!envelope.take(reply)) stop = true;
        if (envelope.closing) break;
        continue;
      }
      if (reply[0] !== 250) stop = true;
      if (end === null || end[0] === 250) end = reply;
      if (reply[0] === 421) break;
    }
  } catch (error) {
    stop = true;
    await writer; // the failure closed the connection, so the write ends too
    throw writeError ?? error;
  }
  stop = true;
  await writer;
  if (writeError !== null && !envelope.closing && end?.[0] !== 421) throw writeError;
  return end;
}

/**
 * The message as BDAT carries it: line endings made CRLF by the one
 * encoder DATA uses (a last line without one gets CRLF), nothing
 * dot-stuffed; with `binary` (BODY=BINARYMIME), the bytes as they are.
 * `size`, what SIZE= declares, is the exact number of bytes the chunks
 * carry; `eightBit` whether a byte is over 127.
 */
export function encodeChunked(message: string | Uint8Array, binary: boolean): EncodedData {
  if (!binary) {
    const encoded = encodeData(message, { dotStuff: false });
    return { ...encoded, size: encoded.payload.length };
  }
  const payload = typeof message === "string" ? new TextEncoder().encode(message) : message;
  return { payload, size: payload.length, eightBit: payload.some((b) => b > 127) };
}
