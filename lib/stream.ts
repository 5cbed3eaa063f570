/**
 * Sending a message after DATA's 354 in bounded memory, whatever its form:
 * a string, bytes, or a `ReadableStream<Uint8Array>` (a file's `readable`,
 * a `fetch` body). Every form goes through the one {@link DotEncoder} of
 * lib/data.ts, a piece at a time, into one reused output buffer.
 *
 * Backpressure: a stream's next chunk is read only once the socket has taken
 * every byte of the previous one, so at most one chunk is in flight and the
 * memory used is a constant (the output buffer, {@link WRITE_BYTES} and a
 * little), not the message's size.
 *
 * Failures:
 * - the socket fails (closed, or a write's deadline passes): the stream is
 *   cancelled and the error, of the same class, says how many of the
 *   message's bytes the socket had taken;
 * - the stream errors: nothing more is written, no final `.` (the caller
 *   closes the connection, so the server never takes a truncated message
 *   for a whole one), and the stream's own error is thrown, as it was.
 *
 * @example
 * ```ts
 * const file = await Deno.open("message.eml");
 * const sent = await writeMessage(file.readable, {
 *   write: (bytes) => conn.write(bytes, "dataBlock"),
 *   written: () => conn.bytesWritten,
 *   abort: () => conn.close(),
 * });
 * ```
 * @module
 */

import { DotEncoder, type DotEncoderOptions, messagePieces, PIECE_BYTES } from "./data.ts";
import { NetworkError, SMTPServerDisconnected } from "./errors.ts";

/** A message as `sendmail()` and `data()` take it. */
export type Message = string | Uint8Array | ReadableStream<Uint8Array>;

/**
 * Whether `message` is a stream. The other two forms are ruled out first:
 * the runtime loads its web streams the first time `ReadableStream` is
 * named, about 1.5 ms of a listing's start-up that a string need not pay.
 */
export function isStream(message: unknown): message is ReadableStream<Uint8Array> {
  return typeof message !== "string" && !(message instanceof Uint8Array) &&
    message instanceof ReadableStream;
}

/**
 * The most input bytes encoded into one write (the output is at most twice
 * that, plus the end), and the size of a stream's reads: 1 MiB. Read 256 KiB
 * at a time, 50 MB from a file took 66 to 69 ms to send here, 1 MiB at a
 * time 58 to 64 ms; the buffers cost a constant 3 MiB.
 */
export const WRITE_BYTES = 16 * PIECE_BYTES;

/** Where {@link writeMessage} writes, and how it gives up. */
export interface MessageSink {
  /** Writes all of `bytes` (valid only until it resolves), or rejects. */
  write(bytes: Uint8Array): Promise<void>;
  /** How many bytes the socket has taken so far (for the error's count). */
  written(): number;
  /** Ends the connection at once, without the final `.`: the stream failed. */
  abort(): void;
}

/** What {@link writeMessage} sent. */
export interface SentMessage {
  /** The message's size with CRLF line endings, before dot-stuffing. */
  size: number;
  /** Whether it had bytes over 127. */
  eightBit: boolean;
  /** The bytes written, the end included. */
  bytes: number;
}

/**
 * Encodes `message` and writes it to `sink` in pieces of at most
 * `DotEncoder.room(WRITE_BYTES) + DotEncoder.END_ROOM` bytes, the end
 * (`.` CRLF, unless `options.dotStuff` is false) in the last piece.
 */
export async function writeMessage(
  message: Message,
  sink: MessageSink,
  options?: DotEncoderOptions,
): Promise<SentMessage> {
  const dots = new DotEncoder(options);
  const out = new Uint8Array(DotEncoder.room(WRITE_BYTES) + DotEncoder.END_ROOM);
  const start = sink.written();
  let at = 0;
  // Writes what is in `out` unless the next input still fits beside it.
  const flush = async (next: number) => {
    if (at > 0 && at + DotEncoder.room(next) + DotEncoder.END_ROOM > out.length) {
      await sink.write(out.subarray(0, at));
      at = 0;
    }
  };
  const encode = async (chunk: Uint8Array) => {
    for (let from = 0; from < chunk.length; from += WRITE_BYTES) {
      const piece = chunk.subarray(from, from + WRITE_BYTES);
      await flush(piece.length);
      at = dots.encodeInto(piece, out, at);
    }
  };
  let reader: ChunkReader | null = null;
  try {
    if (isStream(message)) {
      reader = chunkReader(message);
      while (true) {
        const chunk = await nextChunk(reader, () => sink.abort());
        if (chunk === null) break;
        await encode(chunk);
        // The socket takes this chunk before the next is read.
        await flush(WRITE_BYTES);
      }
      reader = null;
    } else {
      for (const piece of messagePieces(message)) await encode(piece);
    }
    at = dots.finish(out, at);
    await sink.write(out.subarray(0, at));
  } catch (error) {
    if (error instanceof StreamFailed) throw error.cause;
    if (reader !== null) reader.cancel(error).catch(() => {});
    throw withCount(error, sink.written() - start);
  } finally {
    reader?.releaseLock();
  }
  return { size: dots.size, eightBit: dots.eightBit, bytes: sink.written() - start };
}

/** What {@link writeMessage} needs of a stream's reader. */
export interface ChunkReader {
  read(): Promise<ReadableStreamReadResult<Uint8Array>>;
  cancel(reason: unknown): Promise<void>;
  releaseLock(): void;
}

/**
 * A reader of `stream`'s chunks. A byte stream (a file's `readable`, a
 * `fetch` body) is read into one reused buffer of {@link WRITE_BYTES}
 * (a BYOB reader), so no chunk is allocated; any other stream as it gives.
 */
export function chunkReader(stream: ReadableStream<Uint8Array>): ChunkReader {
  let byob: ReadableStreamBYOBReader;
  try {
    byob = stream.getReader({ mode: "byob" });
  } catch {
    return stream.getReader();
  }
  let buffer = new ArrayBuffer(WRITE_BYTES);
  return {
    async read() {
      const result = await byob.read(new Uint8Array(buffer));
      // The buffer was handed to the stream and comes back in the view.
      if (result.value) buffer = result.value.buffer as ArrayBuffer;
      return result as ReadableStreamReadResult<Uint8Array>;
    },
    cancel: (reason) => byob.cancel(reason),
    releaseLock: () => byob.releaseLock(),
  };
}

/**
 * The stream's next chunk, or null at its end. When the stream errors, or
 * gives something other than bytes, `onStreamError` runs (the caller closes
 * the connection without ending the message) and {@link StreamFailed} is
 * thrown with the stream's error.
 */
export async function nextChunk(
  reader: ChunkReader,
  onStreamError: () => void,
): Promise<Uint8Array | null> {
  let result: ReadableStreamReadResult<Uint8Array>;
  try {
    result = await reader.read();
  } catch (error) {
    onStreamError();
    throw new StreamFailed(error);
  }
  if (result.done) return null;
  if (!(result.value instanceof Uint8Array)) {
    onStreamError();
    throw new StreamFailed(
      new TypeError(`the message stream gave a ${typeName(result.value)}, not a Uint8Array`),
    );
  }
  return result.value;
}

/** Cancels `message` if it is a stream (nothing of it read): the transaction failed. */
export function cancelMessage(message: Message, reason: unknown): void {
  if (isStream(message) && !message.locked) message.cancel(reason).catch(() => {});
}

/** The stream's own error, carried past the socket's error handling. */
export class StreamFailed {
  readonly cause: unknown;
  constructor(cause: unknown) {
    this.cause = cause;
  }
}

/** The socket's error, saying how many of the message's bytes had been sent. */
export function withCount(error: unknown, sent: number): unknown {
  const note = `; ${sent} bytes of the message had been sent`;
  if (error instanceof SMTPServerDisconnected) {
    return new SMTPServerDisconnected(error.message + note, { cause: error });
  }
  if (error instanceof NetworkError) {
    return new NetworkError(error.message + note, { cause: error });
  }
  return error;
}

function typeName(value: unknown): string {
  return value === null
    ? "null"
    : typeof value === "object"
    ? value.constructor.name
    : typeof value;
}
