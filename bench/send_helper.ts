/**
 * The helper under test: `SMTP.connect`, `sendmail`, `quit` from
 * lib/smtp.ts, with the connection wrapped (through `SMTPOptions.dial`) to
 * count the `write()` calls the helper makes. After the three arguments,
 * `pipelining` connects with `{ pipelining: true }`, and `chunking` (or
 * `chunking=BYTES`, the chunk size) with `{ chunking: true }`: BDAT.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-read bench/send_helper.ts PORT FILE RECIPIENTS \
 *   [pipelining] [chunking[=BYTES]]
 * ```
 * @module
 */

import { SMTP } from "../lib/smtp.ts";
import { FROM, recipients, report, senderArgs } from "./senders.ts";

const { port, file, count } = senderArgs(Deno.args);
const message = Deno.readTextFileSync(file);
const to = recipients(count);
const modes = Deno.args.slice(3);
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
await connection.sendmail(FROM, to, message);
await connection.quit();
report({ seconds: (performance.now() - start) / 1000, writes });
