/**
 * The listings with `--chunking`, against the scripted mock server: each
 * of the five sends its message as `bdat 209 last` (stdout the book's
 * lines, nothing on stderr) when the server offers CHUNKING, with
 * `--pipelining` too, and says DATA, with one notice on stderr, when it
 * does not. `debug.ts --chunking` shows the BDAT in smtplib's transcript
 * style. No network.
 *
 * @module
 */

import assert from "node:assert/strict";
import { main as debugMain } from "../debug.ts";
import { sent } from "./mock_conn.ts";
import { ehlo, GREETING } from "./smtp_run.ts";
import { ARGS, FROM, LISTINGS, message, QUIT, run, send, SENT, SERVER, TO } from "./scripts_run.ts";

/** `before` (a listing's steps up to MAIL) with CHUNKING added to the EHLO reply. */
function offeringChunking(before: string[]): string[] {
  const last = before.findIndex((line) => line.startsWith("S: 250 "));
  return [
    ...before.slice(0, last),
    before[last].replace("S: 250 ", "S: 250-"),
    "S: 250 CHUNKING",
    ...before.slice(last + 1),
  ];
}

/** MAIL, RCPT and the listing's message as one `bdat N last` chunk, accepted. */
function bdatSend(prog: string): string[] {
  const chunk = message(prog).replaceAll("\n", "\r\n");
  return [
    `C: mail FROM:<${FROM}>`,
    "S: 250 2.1.0 Ok",
    `C: rcpt TO:<${TO}>`,
    "S: 250 2.1.5 Ok",
    `C: bdat ${chunk.length} last`,
    ...chunk.slice(0, -2).split("\r\n").map((line) => `C: ${line}`),
    "S: 250 2.0.0 Ok: queued as 98034261",
  ];
}

for (const listing of LISTINGS) {
  Deno.test(`${listing.prog} --chunking: the message as BDAT when CHUNKING is offered`, async () => {
    const result = await run(listing.main, ["--chunking", ...ARGS], [
      GREETING,
      ...offeringChunking(listing.before),
      ...bdatSend(listing.prog),
      ...QUIT,
    ]);
    assert.equal(result.error, undefined, String(result.error));
    assert.equal(result.status, 0);
    assert.deepEqual(result.stdout.slice(-1), [SENT]);
    assert.deepEqual(result.stderr, []);
    result.server.assertDone();
  });

  Deno.test(`${listing.prog} --chunking: DATA and a notice when CHUNKING is not offered`, async () => {
    const result = await run(listing.main, ["--chunking", ...ARGS], [
      GREETING,
      ...listing.before,
      ...send(listing.prog),
      ...QUIT,
    ]);
    assert.equal(result.status, 0);
    assert.deepEqual(result.stdout, [...listing.printedBefore, SENT]);
    assert.deepEqual(result.stderr, [
      `${listing.prog}: the server does not offer CHUNKING: the message went by DATA`,
    ]);
    result.server.assertDone();
  });
}

Deno.test("debug.ts --chunking: the transcript shows send: 'bdat 209 last\\r\\n', the chunk and the reply", async () => {
  const result = await run(debugMain, ["--chunking", ...ARGS], [
    GREETING,
    ...ehlo("PIPELINING", "SIZE 10240000", "CHUNKING"),
    ...bdatSend("debug.ts").map((line) => line.startsWith("C: mail") ? `${line} size=209` : line),
    ...QUIT,
  ]);
  assert.equal(result.status, 0);
  const chunk = message("debug.ts").replaceAll("\n", "\r\n");
  const from = result.transcript.indexOf("send: 'bdat 209 last\\r\\n'");
  assert.deepEqual(result.transcript.slice(from, from + 4), [
    "send: 'bdat 209 last\\r\\n'",
    `send: b'${chunk.replaceAll("\r", "\\r").replaceAll("\n", "\\n")}'`,
    "reply: b'250 2.0.0 Ok: queued as 98034261\\r\\n'",
    "reply: retcode (250); Msg: b'2.0.0 Ok: queued as 98034261'",
  ]);
  assert.ok(
    result.transcript.includes("send: 'mail FROM:<sender@example.com> size=209\\r\\n'"),
  );
  result.server.assertDone();
});

Deno.test("debug.ts --chunking --pipelining: MAIL, RCPT and the BDAT chunk in one write", async () => {
  const chunk = message("debug.ts").replaceAll("\n", "\r\n");
  const result = await run(debugMain, ["--chunking", "--pipelining", SERVER, FROM, TO], [
    GREETING,
    ...ehlo("PIPELINING", "CHUNKING"),
    sent(`mail FROM:<${FROM}>\r\nrcpt TO:<${TO}>\r\nbdat 209 last\r\n${chunk}`),
    "S: 250 2.1.0 Ok",
    "S: 250 2.1.5 Ok",
    "S: 250 2.0.0 Ok: queued as 98034262",
    ...QUIT,
  ]);
  assert.equal(result.status, 0);
  assert.deepEqual(result.stdout, [SENT]);
  const from = result.transcript.indexOf(`send: 'mail FROM:<${FROM}>\\r\\n'`);
  assert.deepEqual(result.transcript.slice(from, from + 4), [
    `send: 'mail FROM:<${FROM}>\\r\\n'`,
    `send: 'rcpt TO:<${TO}>\\r\\n'`,
    "send: 'bdat 209 last\\r\\n'",
    `send: b'${chunk.replaceAll("\r", "\\r").replaceAll("\n", "\\n")}'`,
  ]);
  result.server.assertDone();
});
