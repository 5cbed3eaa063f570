/**
 * The helper under test: `SMTP.connect`, `sendmail`, `quit` from
 * lib/smtp.ts, with the connection wrapped (through `SMTPOptions.dial`) to
 * count the `write()` calls the helper makes. After the three arguments,
 * `pipelining` connects with `{ pipelining: true }`, `chunking` (or
 * `chunking=BYTES`, the chunk size) with `{ chunking: true }`: BDAT, and
 * `stream` sends the file as a stream (`SIZE=` from its size) instead of a
 * string.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-read bench/send_helper.ts PORT FILE RECIPIENTS \
 *   [pipelining] [chunking[=BYTES]]
 * ```
 * @module
 */

import { SMTP } from "../lib/smtp.ts";
import { FROM, peakKiB, recipients, report, senderArgs, settle } from "./senders.ts";

const { port, file, count } = senderArgs(Deno.args);
const modes = Deno.args.slice(3);
// `stream`: the file as a ReadableStream, its size declared, as `--message FILE` sends it.
const stream = modes.includes("stream");
const message = stream ? (await Deno.open(file)).readable : Deno.readTextFileSync(file);
const mailOptions = stream ? [`SIZE=${Deno.statSync(file).size}`] : [];
const to = recipients(count);
const settled = settle();
const pipelining = modes.includes("pipelining");
const chunkingMode = modes.find((mode) => /^chunking(=\d+)?$/.test(mode));
const chunking = chunkingMode !== undefined;
const chunkSize = chunkingMode?.includes("=") ? Number(chunkingMode.split("=")[1]) : undefined;
let writes = 0;

/** Deno.connect, with a counter on the connection's write(). */
async function countingDial(
  hostname: string,
  port: number,
  signal: AbortSignal,
): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname, port, signal });
  const write = conn.write.bind(conn);
  conn.write = (bytes: Uint8Array) => {
    writes++;
    return write(bytes);
  };
  return conn;
}

const start = performance.now();
const connection = await SMTP.connect(`127.0.0.1:${port}`, {
  dial: countingDial,
  pipelining,
  chunking,
  chunkSize,
});
await connection.sendmail(FROM, to, message, mailOptions);
await connection.quit();
report({ seconds: (performance.now() - start) / 1000, writes, peakKiB: peakKiB(settled) });
