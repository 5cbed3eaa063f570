/**
 * The start-up baseline: simple.ts's session spoken by hand, with nothing
 * imported. It connects with `Deno.connect`, sends the same commands as
 * `simple.ts` (EHLO, MAIL with SIZE, one RCPT per recipient, DATA, the
 * message with CRLF line endings, QUIT) one at a time, waits for each
 * reply, and prints the same line. It does no dot-stuffing and checks
 * only that no reply is an error: the book's message needs no more.
 *
 * ```sh
 * deno run -N bench/startup_bare.ts 127.0.0.1:2525 sender@example.com reader@example.com
 * ```
 * @module
 */

const [server, fromaddr, ...toaddrs] = Deno.args;
const [hostname, port] = server.split(":");
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const conn = await Deno.connect({ hostname, port: Number(port) });
conn.setNoDelay(true);
const buffer = new Uint8Array(4096);
let pending = "";

/** Waits for one whole reply; throws on a 4xx or 5xx. */
async function reply(): Promise<void> {
  while (true) {
    const lf = pending.indexOf("\n");
    if (lf === -1) {
      const n = await conn.read(buffer);
      if (n === null) throw new Error("the server closed the connection");
      pending += decoder.decode(buffer.subarray(0, n));
      continue;
    }
    const line = pending.slice(0, lf);
    pending = pending.slice(lf + 1);
    if (line[3] === "-") continue;
    if (line[0] === "4" || line[0] === "5") throw new Error(`the server said ${line}`);
    return;
  }
}

/** Sends `text` in one write and waits for the reply. */
async function command(text: string): Promise<void> {
  const bytes = encoder.encode(text);
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
  await reply();
}

const message = `To: ${toaddrs.join(", ")}
From: ${fromaddr}
Subject: Test Message from simple.ts

Hello,

This is a test message sent to you from the simple.ts program
in Foundations of Python Network Programming.
`;
const data = message.replaceAll("\n", "\r\n") + ".\r\n";

await reply();
await command("ehlo [127.0.0.1]\r\n");
await command(`mail FROM:<${fromaddr}> size=${data.length - 3}\r\n`);
for (const address of toaddrs) await command(`rcpt TO:<${address}>\r\n`);
await command("data\r\n");
await command(data);
await command("quit\r\n");
conn.close();
console.log(`Message sent to ${toaddrs.length} recipient${toaddrs.length === 1 ? "" : "s"}`);
