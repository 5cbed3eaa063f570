/**
 * The two baselines: a bare `Deno.connect` client with no SMTP logic beyond
 * the few commands it needs.
 *
 * - `wire`: the wire limit. The DATA payload is read ready-made (CRLF,
 *   dot-stuffed, final `.`) before the clock starts and written in one
 *   large write; MAIL, every RCPT and DATA go out pipelined in one write.
 * - `string`: the string limit. It starts from the same message string as
 *   `sendmail` and only encodes it (no normalisation, no dot-stuffing)
 *   before writing; commands go one at a time, as the helper sends them.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-read bench/send_raw.ts wire PORT FILE RECIPIENTS
 * ```
 * @module
 */

import { FROM, peakKiB, recipients, report, senderArgs, settle } from "./senders.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Reads whole replies (lines `CODE text`; `CODE-text` lines continue one). */
class Replies {
  #conn: Deno.Conn;
  #buffer = new Uint8Array(65536);
  #text = "";

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Reads `count` replies and returns the last one's code; throws on 4xx/5xx. */
  async read(count = 1): Promise<number> {
    let code = 0;
    while (count > 0) {
      const lf = this.#text.indexOf("\n");
      if (lf === -1) {
        const n = await this.#conn.read(this.#buffer);
        if (n === null) throw new Error("server closed the connection");
        this.#text += decoder.decode(this.#buffer.subarray(0, n));
        continue;
      }
      const line = this.#text.slice(0, lf);
      this.#text = this.#text.slice(lf + 1);
      if (line[3] === "-") continue;
      code = Number(line.slice(0, 3));
      if (code >= 400) throw new Error(`server said ${line}`);
      count--;
    }
    return code;
  }
}

let writes = 0;

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length; writes++) at += await conn.write(bytes.subarray(at));
}

/** Sends the ready-made payload, commands pipelined. */
async function sendWire(port: number, payload: Uint8Array, to: string[]): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const replies = new Replies(conn);
  await replies.read();
  await writeAll(conn, encoder.encode("EHLO [127.0.0.1]\r\n"));
  await replies.read();
  const envelope = `MAIL FROM:<${FROM}> SIZE=${payload.length}\r\n` +
    to.map((address) => `RCPT TO:<${address}>\r\n`).join("") + "DATA\r\n";
  await writeAll(conn, encoder.encode(envelope));
  await replies.read(to.length + 2);
  await writeAll(conn, payload);
  await replies.read();
  await writeAll(conn, encoder.encode("QUIT\r\n"));
  await replies.read();
  conn.close();
}

/** Encodes the message string and sends it, commands one at a time. */
async function sendString(port: number, message: string, to: string[]): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const replies = new Replies(conn);
  const command = async (line: string) => {
    await writeAll(conn, encoder.encode(`${line}\r\n`));
    await replies.read();
  };
  await replies.read();
  await command("EHLO [127.0.0.1]");
  await command(`MAIL FROM:<${FROM}> SIZE=${message.length}`);
  for (const address of to) await command(`RCPT TO:<${address}>`);
  await command("DATA");
  await writeAll(conn, encoder.encode(message));
  await writeAll(conn, encoder.encode("\r\n.\r\n"));
  await replies.read();
  await command("QUIT");
  conn.close();
}

if (import.meta.main) {
  const [mode, ...rest] = Deno.args;
  const { port, file, count } = senderArgs(rest);
  const to = recipients(count);
  if (mode === "wire") {
    const payload = Deno.readFileSync(file);
    const settled = settle();
    const start = performance.now();
    await sendWire(port, payload, to);
    report({ seconds: (performance.now() - start) / 1000, writes, peakKiB: peakKiB(settled) });
  } else if (mode === "string") {
    const message = Deno.readTextFileSync(file);
    const settled = settle();
    const start = performance.now();
    await sendString(port, message, to);
    report({ seconds: (performance.now() - start) / 1000, writes, peakKiB: peakKiB(settled) });
  } else {
    throw new Error(`unknown mode ${mode}: wire or string`);
  }
}
