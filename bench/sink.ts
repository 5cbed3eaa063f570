/**
 * The benchmark's mail sink: a loopback SMTP server that speaks just enough
 * of the protocol (greeting, EHLO with SIZE, PIPELINING and CHUNKING, MAIL,
 * RCPT, DATA, BDAT, QUIT) and throws every message away.
 *
 * It is built not to be the bottleneck: one large read buffer per
 * connection, no copies of the DATA payload, and the end of data
 * (`CRLF . CRLF`) found by jumping between dots with the native indexOf,
 * carrying the last four bytes of each read over so a marker split across
 * reads is still found. A BDAT chunk is counted, not scanned: its size says
 * where it ends, and each chunk is answered 250 as its last byte arrives.
 *
 * It prints `{"port": N}` once listening, then one JSON line per message:
 * the DATA payload's size in bytes (final `.` line included) or the BDAT
 * chunks' sum, the seconds from the 354 reply to the final `.` (from the
 * first BDAT command to the end of the LAST chunk), and the seconds it spent
 * busy scanning (to show how little of the transfer it takes).
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 bench/sink.ts
 * ```
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

const GREETING = encoder.encode("220 sink.localhost ESMTP benchmark sink\r\n");
const EHLO_REPLY = encoder.encode(
  "250-sink.localhost\r\n250-SIZE 1073741824\r\n250-PIPELINING\r\n250-8BITMIME\r\n" +
    "250 CHUNKING\r\n",
);
const CRLF = encoder.encode("\r\n");
const OK = encoder.encode("250 OK\r\n");
const GO_AHEAD = encoder.encode("354 End data with <CR><LF>.<CR><LF>\r\n");
const BYE = encoder.encode("221 Bye\r\n");
const UNKNOWN = encoder.encode("500 Command not recognised\r\n");

/** What the sink learnt about one message. */
interface Received {
  bytes: number;
  seconds: number;
  busySeconds: number;
}

/** Writes all of `bytes`. */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

/** Serves one client until QUIT or end of input. */
async function serve(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  await writeAll(conn, GREETING);
  const buffer = new Uint8Array(1 << 20);
  let pendingCommand = new Uint8Array(0); // a command line split across reads
  let inData = false;
  // The last bytes of the DATA payload so far; starts as the CRLF that ended
  // the DATA command, so an empty message's lone "." is seen too.
  let tail = CRLF;
  let message: Received = { bytes: 0, seconds: 0, busySeconds: 0 };
  let dataStart = 0;
  let chunkLeft = 0; // bytes of the BDAT chunk still to come
  let lastChunk = false;
  let chunkPending = false; // a BDAT command read, its chunk not yet all in
  let inChunks = false; // between the first BDAT and the end of the LAST chunk

  while (true) {
    const n = await conn.read(buffer);
    if (n === null) return;
    let chunk = buffer.subarray(0, n);
    const replies: Uint8Array[] = [];
    let quit = false;

    while ((chunk.length > 0 || chunkPending && chunkLeft === 0) && !quit) {
      if (chunkPending) {
        const used = Math.min(chunkLeft, chunk.length);
        message.bytes += used;
        chunkLeft -= used;
        chunk = chunk.subarray(used);
        if (chunkLeft > 0) break;
        chunkPending = false;
        replies.push(OK);
        if (lastChunk) {
          message.seconds = (performance.now() - dataStart) / 1000;
          console.log(JSON.stringify(message));
          lastChunk = false;
          inChunks = false;
        }
        continue;
      }
      if (inData) {
        const busyFrom = performance.now();
        // First a marker straddling the previous read and this one, then
        // one wholly inside this read.
        const seam = join(tail, chunk.subarray(0, 4));
        let end = findEndOfData(seam);
        end = end === -1 ? -1 : end - tail.length;
        if (end === -1) end = findEndOfData(chunk);
        const used = end === -1 ? chunk.length : end;
        message.bytes += used;
        const kept = join(tail, chunk.subarray(Math.max(0, used - 4), used));
        tail = kept.slice(Math.max(0, kept.length - 4));
        message.busySeconds += (performance.now() - busyFrom) / 1000;
        chunk = chunk.subarray(used);
        if (end !== -1) {
          message.seconds = (performance.now() - dataStart) / 1000;
          console.log(JSON.stringify(message));
          replies.push(OK);
          inData = false;
        }
        continue;
      }
      const lf = chunk.indexOf(LF);
      if (lf === -1) {
        // Copied: the read buffer is reused.
        pendingCommand = join(pendingCommand, chunk).slice();
        break;
      }
      const line = decoder.decode(join(pendingCommand, chunk.subarray(0, lf)));
      pendingCommand = new Uint8Array(0);
      chunk = chunk.subarray(lf + 1);
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === "EHLO") replies.push(EHLO_REPLY);
      else if (["HELO", "MAIL", "RCPT", "RSET", "NOOP"].includes(verb)) replies.push(OK);
      else if (verb === "DATA") {
        replies.push(GO_AHEAD);
        inData = true;
        tail = CRLF;
        message = { bytes: 0, seconds: 0, busySeconds: 0 };
        dataStart = performance.now();
      } else if (verb === "BDAT") {
        const [, size, last] = line.trim().split(/\s+/);
        if (!inChunks) {
          message = { bytes: 0, seconds: 0, busySeconds: 0 };
          dataStart = performance.now();
          inChunks = true;
        }
        chunkLeft = Number(size);
        chunkPending = true;
        lastChunk = last?.toUpperCase() === "LAST";
      } else if (verb === "QUIT") {
        replies.push(BYE);
        quit = true;
      } else replies.push(UNKNOWN);
    }
    // Replies to pipelined commands go back in one write.
    if (replies.length > 0) {
      await writeAll(conn, replies.reduce(join));
    }
    if (quit) return;
  }
}

/**
 * Where `CR LF . CR LF` ends in `bytes`, or -1. It jumps from `.` to `.`
 * with the native indexOf: several times faster than searching for the
 * five-byte string, and dots are rare in mail.
 */
function findEndOfData(bytes: Uint8Array): number {
  for (let dot = bytes.indexOf(DOT, 2); dot !== -1; dot = bytes.indexOf(DOT, dot + 1)) {
    if (
      bytes[dot - 2] === CR && bytes[dot - 1] === LF && bytes[dot + 1] === CR &&
      bytes[dot + 2] === LF
    ) return dot + 3;
  }
  return -1;
}

function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}

if (import.meta.main) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(Deno.args[0] ?? 0) });
  console.log(JSON.stringify({ port: listener.addr.port }));
  for await (const conn of listener) {
    serve(conn).catch(() => {}).finally(() => {
      try {
        conn.close();
      } catch {
        // The client closed first.
      }
    });
  }
}
