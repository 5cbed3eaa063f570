/**
 * The benchmark's sink (bench/sink.ts) as the bench relies on it: it lists
 * CHUNKING, answers every BDAT chunk, and counts a message's bytes right,
 * by DATA (the payload with its `.` line) and by BDAT (the chunks' sum),
 * one chunk at a time, pipelined, and `BDAT 0 LAST`. It runs as the bench
 * runs it, a subprocess on a free loopback port.
 *
 * @module
 */

import assert from "node:assert/strict";
import { SMTP } from "../lib/smtp.ts";

Deno.test("bench sink: BDAT chunks answered and counted, pipelined or not, as DATA is", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.1", new URL("../bench/sink.ts", import.meta.url).pathname],
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  const next = async (): Promise<Record<string, number>> => {
    while (!pending.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) throw new Error("the sink stopped");
      pending += value;
    }
    const line = pending.slice(0, pending.indexOf("\n"));
    pending = pending.slice(pending.indexOf("\n") + 1);
    return JSON.parse(line);
  };
  try {
    const { port } = await next();
    const message = "Subject: sink\n\n" + ".dotted line\n".repeat(500); // 7017 bytes with CRLF
    const cases: [string, Parameters<typeof SMTP.connect>[1], string, number][] = [
      ["DATA", {}, message, 7017 + 500 + 3],
      ["BDAT", { chunking: true, chunkSize: 1000 }, message, 7017],
      ["BDAT pipelined", { chunking: true, chunkSize: 1000, pipelining: true }, message, 7017],
      ["BDAT 0 LAST", { chunking: true }, "", 0],
    ];
    for (const [name, options, text, bytes] of cases) {
      const smtp = await SMTP.connect(`127.0.0.1:${port}`, { timeout: 5000, ...options });
      try {
        await smtp.ehlo();
        assert.ok(smtp.hasExtn("chunking"), name);
        assert.deepEqual(await smtp.sendmail("a@example.com", ["b@example.com"], text), new Map());
        assert.equal((await next()).bytes, bytes, name);
        await smtp.quit();
      } finally {
        smtp.close();
      }
    }
  } finally {
    child.kill();
    await lines.cancel();
    await child.status;
  }
});
