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
 * This module knows the protocol; the chunks come from lib/chunks.ts, and
 * the connection it talks through is a {@link ChunkWire} that `SMTP` hands
 * it, so the transcript and the deadlines stay the client's.
 *
 * @example
 * ```ts
 * const end = await sendMessage(wire, "Subject: hi\n\nHello\n", { binary: false });
 * // wire saw: "bdat 20 last\r\nSubject: hi\r\n\r\nHello\r\n"; end is the server's [250, ...]
 * ```
 * @module
 */

import { type Chunk, type ChunkOptions, messageChunks } from "./chunks.ts";
import type { Step } from "./conn.ts";
import type { Envelope } from "./envelope.ts";
import { SMTPNotSupportedError, type SMTPReply } from "./errors.ts";
import { type Message, StreamFailed, withCount } from "./stream.ts";

export { BDAT_CHUNK_SIZE, type Chunk, chunkedFacts } from "./chunks.ts";

/** What the chunks need from the connection: lines and a chunk out, replies in. */
export interface ChunkWire {
  /**
   * Writes each of `lines` with CRLF after it, then `chunk`, showing them
   * in the transcript (the lines as `send: '...'`, the chunk as `send: b'...'`).
   */
  send(lines: readonly string[], chunk: Uint8Array): Promise<void>;
  /** Reads one reply within `step`'s deadline; a 421 closes the connection. */
  reply(step: Step): Promise<SMTPReply>;
  /** How many bytes the socket has taken so far. */
  written(): number;
  /** Closes the connection at once, with no LAST chunk: the message stream failed. */
  abort(): void;
}

/** How {@link sendMessage} sends: the chunks' form and, pipelined, the envelope before them. */
export interface Sending extends Omit<ChunkOptions, "onStreamError"> {
  /** With PIPELINING: MAIL and the RCPTs to send with the first chunk, and their judge. */
  pipelined?: { commands: readonly string[]; envelope: Envelope };
}

/**
 * Sends `message` as BDAT chunks: after the envelope ({@link sendChunks}),
 * or pipelined with it ({@link pipelineChunks}). Returns the first BDAT
 * reply that is not 250, or the last chunk's (null if none came). A
 * stream's failure closes the connection and is thrown as it was; the
 * socket's failure says how many of the message's bytes had been sent
 * (and a stream is then cancelled).
 */
export async function sendMessage(
  wire: ChunkWire,
  message: Message,
  sending: Sending,
): Promise<SMTPReply | null> {
  const start = wire.written();
  let commandBytes = 0;
  const counting: ChunkWire = {
    ...wire,
    send: (lines, chunk) => {
      for (const line of lines) commandBytes += line.length + 2;
      return wire.send(lines, chunk);
    },
  };
  const chunks = messageChunks(message, { ...sending, onStreamError: () => wire.abort() });
  try {
    const { pipelined } = sending;
    return pipelined
      ? await pipelineChunks(counting, pipelined.commands, pipelined.envelope, chunks)
      : await sendChunks(counting, chunks);
  } catch (error) {
    if (error instanceof StreamFailed) throw error.cause;
    throw withCount(error, wire.written() - start - commandBytes);
  }
}

/** `bdat 209 last`: lower case, as smtplib writes its commands. */
export function bdatCommand(chunk: Chunk): string {
  return `bdat ${chunk.bytes.length}${chunk.last ? " last" : ""}`;
}

/** A chunk up to this size goes in one write with its command (copied); a larger one after it. */
const JOINED_BYTES = 64 * 1024;

/**
 * What to write for `lines` (each with CRLF after it) and `chunk`: one
 * buffer for a small chunk, so a small message is one write and one
 * segment; the command, then the chunk as it is, for a large one.
 */
export function frame(lines: readonly string[], chunk: Uint8Array): Uint8Array[] {
  const head = new TextEncoder().encode(lines.map((line) => `${line}\r\n`).join(""));
  if (chunk.length === 0) return [head];
  if (chunk.length > JOINED_BYTES) return [head, chunk];
  const bytes = new Uint8Array(head.length + chunk.length);
  bytes.set(head);
  bytes.set(chunk, head.length);
  return [bytes];
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
        // Before the next chunk is read: a stream is then cancelled, not read on.
        if (stop) break;
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
