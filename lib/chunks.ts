/**
 * A message cut into BDAT chunks (RFC 3030) in bounded memory, whatever its
 * form: a string, bytes, or a `ReadableStream<Uint8Array>`. The line endings
 * are made CRLF by the one {@link DotEncoder} that DATA uses, with
 * `{ dotStuff: false }` (so the message arrives as DATA would deliver it); with
 * `binary` (BODY=BINARYMIME) the bytes go as they are.
 *
 * Every chunk but the last is exactly `chunkSize` bytes, in one reused
 * buffer: memory is that buffer and one encoded piece, not the message. A
 * stream's next chunk is read only when the consumer asks for the next BDAT
 * chunk, that is once the socket took the one before.
 *
 * @example
 * ```ts
 * for await (const chunk of messageChunks("Subject: hi\n\nHello\n", { chunkSize: 8 })) {
 *   console.log(chunk.bytes.length, chunk.last); // 8 false, 8 false, 3 true
 * }
 * ```
 * @module
 */

import { DotEncoder, measureMessage, messagePieces, PIECE_BYTES } from "./data.ts";
import { chunkReader, isStream, type Message, nextChunk } from "./stream.ts";

/**
 * The default chunk size: 1 MiB. Memory holds one chunk; on loopback 1 MiB
 * chunks beat 64 KiB ones by a round trip each when not pipelined (see the
 * README's bench table).
 */
export const BDAT_CHUNK_SIZE = 1 << 20;

/** One chunk of the message and whether it is the last. */
export interface Chunk {
  /** The chunk's bytes (valid until the next chunk is asked for), sent after `BDAT n`. */
  bytes: Uint8Array;
  /** True for the last chunk (`BDAT n LAST`). */
  last: boolean;
}

/** How {@link messageChunks} cuts the message. */
export interface ChunkOptions {
  /** The bytes as they are, for BODY=BINARYMIME (no CRLF normalisation). */
  binary?: boolean;
  /** Every chunk but the last has this many bytes; {@link BDAT_CHUNK_SIZE} by default. */
  chunkSize?: number;
  /**
   * Called when a stream errors (or gives something else than bytes),
   * before {@link StreamFailed} is thrown: the caller closes the
   * connection, so the server never takes what it got for a whole message.
   */
  onStreamError?: () => void;
}

/**
 * The message's chunks, the last marked (an empty message is one empty last
 * chunk). A stream left before its end (a refusal, a socket that failed) is
 * cancelled; one that errors throws {@link StreamFailed} with its error.
 */
export async function* messageChunks(
  message: Message,
  options: ChunkOptions = {},
): AsyncGenerator<Chunk> {
  const chunkSize = options.chunkSize ?? BDAT_CHUNK_SIZE;
  const dots = options.binary ? null : new DotEncoder({ dotStuff: false });
  const encoded = new Uint8Array(DotEncoder.room(PIECE_BYTES) + DotEncoder.END_ROOM);
  const chunk = new Uint8Array(chunkSize);
  let filled = 0;
  // Copies `bytes` into the chunk, handing out each full chunk once more bytes follow it.
  function* put(bytes: Uint8Array): Generator<Chunk> {
    for (let from = 0; from < bytes.length;) {
      if (filled === chunkSize) {
        yield { bytes: chunk, last: false };
        filled = 0;
      }
      const n = Math.min(chunkSize - filled, bytes.length - from);
      chunk.set(bytes.subarray(from, from + n), filled);
      filled += n;
      from += n;
    }
  }
  const encode = (piece: Uint8Array) =>
    dots === null ? piece : encoded.subarray(0, dots.encodeInto(piece, encoded, 0));

  if (isStream(message)) {
    const reader = chunkReader(message);
    let ended = false;
    try {
      while (true) {
        const value = await nextChunk(reader, () => options.onStreamError?.());
        if (value === null) break;
        for (let from = 0; from < value.length; from += PIECE_BYTES) {
          yield* put(encode(value.subarray(from, from + PIECE_BYTES)));
        }
      }
      ended = true;
    } finally {
      if (!ended) reader.cancel("the transaction ended before the message").catch(() => {});
      reader.releaseLock();
    }
  } else {
    for (const piece of messagePieces(message)) yield* put(encode(piece));
  }
  if (dots !== null) yield* put(encoded.subarray(0, dots.finish(encoded, 0)));
  yield { bytes: chunk.subarray(0, filled), last: true };
}

/**
 * What MAIL declares for a string or bytes sent by BDAT: `size`, the exact
 * number of bytes the chunks will carry (SIZE=), and `eightBit`; null for a
 * stream, whose size is not known.
 */
export function chunkedFacts(
  message: Message,
  binary: boolean,
): { size: number; eightBit: boolean } | null {
  if (isStream(message)) return null;
  const facts = measureMessage(message);
  if (binary) {
    // The bytes as they are: for a string, its UTF-8 bytes, counted a piece at a time.
    let size = 0;
    for (const piece of messagePieces(message)) size += piece.length;
    return { size, eightBit: facts.eightBit };
  }
  // The encoder ends a last line that has no line ending with CRLF.
  const last = message.length === 0
    ? -1
    : typeof message === "string"
    ? message.charCodeAt(message.length - 1)
    : message[message.length - 1];
  const unended = last !== -1 && last !== 0x0d && last !== 0x0a;
  return { size: facts.size + (unended ? 2 : 0), eightBit: facts.eightBit };
}
