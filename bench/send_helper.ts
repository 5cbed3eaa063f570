/**
 * The helper under test: `SMTP.connect`, `sendmail`, `quit` from
 * lib/smtp.ts, with the connection wrapped (through `SMTPOptions.dial`) to
 * count the `write()` calls the helper makes. A fourth argument,
 * `pipelining`, connects with `{ pipelining: true }`.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-read bench/send_helper.ts PORT FILE RECIPIENTS [pipelining]
 * ```
 * @module
 */

import { SMTP } from "../lib/smtp.ts";
import { FROM, recipients, report, senderArgs } from "./senders.ts";

const { port, file, count } = senderArgs(Deno.args);
const message = Deno.readTextFileSync(file);
const to = recipients(count);
const pipelining = Deno.args[3] === "pipelining";
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
const connection = await SMTP.connect(`127.0.0.1:${port}`, { dial: countingDial, pipelining });
await connection.sendmail(FROM, to, message);
await connection.quit();
report({ seconds: (performance.now() - start) / 1000, writes });
