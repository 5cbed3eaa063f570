/**
 * The reply reader: turns the bytes a server sends into SMTP replies.
 *
 * A reply is one or more lines `CODE-text` ending with a line `CODE text`
 * (RFC 5321 section 4.2). Lines end in CRLF; a bare LF is accepted, as
 * smtplib does. The reader keeps its own fixed buffer and reads with plain
 * `read()` calls, so it never holds more than one line's limit and never
 * leaves a read pending (which would get in the way of STARTTLS).
 *
 * @example
 * ```ts
 * const reader = new ReplyReader(conn);
 * const reply = await reader.readReply(); // { code: 220, message: "...", ... }
 * ```
 * @module
 */

import { SMTPResponseException, SMTPServerDisconnected } from "./errors.ts";

/** smtplib's `_MAXLINE`: a reply line longer than this is an error. */
export const MAX_LINE = 8192;

/** A reply of more lines than this is an error: a reply that never ends. */
export const MAX_REPLY_LINES = 1000;

/** Anything with `read()` in the style of `Deno.Conn`. */
export interface Source {
  /** Reads into `p`; resolves to the byte count, or null at end of input. */
  read(p: Uint8Array): Promise<number | null>;
}

/** One reply: its code, its text, and the raw lines for the transcript. */
export interface Reply {
  /** The three-digit code of the last line. */
  code: number;
  /** The text of every line, code and separator removed, joined with LF. */
  message: string;
  /** The same text as bytes, as smtplib's transcript shows it. */
  messageBytes: Uint8Array;
  /** Each line as received, line ending included. */
  lines: Uint8Array[];
}

const LF = 0x0a;
const WHITESPACE = new Set([0x20, 0x09, 0x0d, 0x0a]);
const decoder = new TextDecoder();

/** Reads replies from a source; errors close nothing, the caller does. */
export class ReplyReader {
  #source: Source;
  // Room for one over-long line plus one read.
  #buffer = new Uint8Array(MAX_LINE * 2 + 2);
  #start = 0;
  #end = 0;

  /** Reads from `source`, for example a `Deno.Conn`. */
  constructor(source: Source) {
    this.#source = source;
  }

  /** How many bytes have been received but not yet read as a reply. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /**
   * Waits until at least `n` bytes (at most {@link MAX_LINE}) are received,
   * or the input ends, and returns what is buffered without consuming it.
   */
  async peek(n: number): Promise<Uint8Array> {
    const want = Math.min(n, MAX_LINE);
    while (this.#end - this.#start < want) {
      if (this.#end === this.#buffer.length) this.#compact();
      const got = await this.#source.read(this.#buffer.subarray(this.#end));
      if (got === null) break;
      this.#end += got;
    }
    return this.#buffer.subarray(this.#start, this.#end);
  }

  /**
   * Reads one line, ending included. Throws `SMTPServerDisconnected` at end
   * of input and `SMTPResponseException` for a line over {@link MAX_LINE}.
   */
  async readLine(): Promise<Uint8Array> {
    let searched = 0; // bytes after #start known to hold no LF
    while (true) {
      const from = this.#start + searched;
      const lf = this.#buffer.subarray(from, this.#end).indexOf(LF);
      if (lf >= 0) {
        const stop = from + lf + 1;
        if (stop - this.#start > MAX_LINE) break;
        const line = this.#buffer.slice(this.#start, stop);
        this.#start = stop;
        return line;
      }
      searched = this.#end - this.#start;
      if (this.#end - this.#start > MAX_LINE) break;
      if (this.#end === this.#buffer.length) this.#compact();
      const n = await this.#source.read(this.#buffer.subarray(this.#end));
      if (n === null) {
        throw new SMTPServerDisconnected("Connection unexpectedly closed");
      }
      this.#end += n;
    }
    throw new SMTPResponseException(
      500,
      `Line too long (a reply line is over ${MAX_LINE} bytes)`,
    );
  }

  /**
   * Reads one whole reply. `onLine` sees each raw line (the transcript).
   * A line without a three-digit code is an error, as is end of input in
   * the middle of a multi-line reply.
   */
  async readReply(onLine?: (line: Uint8Array) => void): Promise<Reply> {
    const lines: Uint8Array[] = [];
    const texts: Uint8Array[] = [];
    while (true) {
      const line = await this.readLine();
      onLine?.(line);
      lines.push(line);
      if (lines.length > MAX_REPLY_LINES) {
        throw new SMTPResponseException(
          500,
          `Reply too long (more than ${MAX_REPLY_LINES} lines)`,
        );
      }
      const code = parseCode(line);
      if (code === null) {
        throw new SMTPResponseException(
          -1,
          `Malformed reply line: ${JSON.stringify(decoder.decode(line))}`,
        );
      }
      texts.push(strip(line.subarray(4)));
      if (line[3] !== 0x2d /* - */) {
        const messageBytes = join(texts);
        return {
          code,
          message: decoder.decode(messageBytes),
          messageBytes,
          lines,
        };
      }
    }
  }

  #compact(): void {
    this.#buffer.copyWithin(0, this.#start, this.#end);
    this.#end -= this.#start;
    this.#start = 0;
  }
}

/** The code of a reply line: three digits followed by space, `-` or the end. */
function parseCode(line: Uint8Array): number | null {
  for (let i = 0; i < 3; i++) {
    if (!(line[i] >= 0x30 && line[i] <= 0x39)) return null;
  }
  const next = line[3];
  if (next !== 0x20 && next !== 0x2d && !WHITESPACE.has(next)) return null;
  return (line[0] - 0x30) * 100 + (line[1] - 0x30) * 10 + (line[2] - 0x30);
}

/** Python's `bytes.strip(b' \t\r\n')`. */
function strip(bytes: Uint8Array): Uint8Array {
  let start = 0;
  let end = bytes.length;
  while (start < end && WHITESPACE.has(bytes[start])) start++;
  while (end > start && WHITESPACE.has(bytes[end - 1])) end--;
  return bytes.subarray(start, end);
}

/** Joins byte strings with LF, as smtplib joins the lines of a reply. */
function join(parts: Uint8Array[]): Uint8Array {
  const size = parts.reduce((sum, p) => sum + p.length, 0) + parts.length - 1;
  const out = new Uint8Array(Math.max(size, 0));
  let at = 0;
  parts.forEach((part, i) => {
    if (i > 0) out[at++] = LF;
    out.set(part, at);
    at += part.length;
  });
  return out;
}
