/**
 * Unit tests of a `ReadableStream` sent by BDAT (RFC 3030), against the
 * scripted mock server: chunks of exactly `chunkSize` cut across the
 * stream's own chunks (a CRLF split between two), no size= unless declared,
 * BODY=8BITMIME when offered; backpressure (the next piece read only when
 * the chunk before it is taken); the stream cancelled on every envelope
 * failure, pipelined or not; the count of bytes sent when the connection
 * fails mid-message; a stream that errors mid-message (no LAST chunk, the
 * connection closed, its error thrown); and a property test: a stream cut
 * anywhere, in chunks of any size, carries what DATA would deliver (more
 * cases with FUZZ_RUNS, as in `deno task fuzz`). No network.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type Dialer,
  SMTP,
  SMTPRecipientsRefused,
  SMTPSenderRefused,
  SMTPServerDisconnected,
} from "../lib/smtp.ts";
import fc from "fast-check";
import { chunkedFacts, messageChunks } from "../lib/chunks.ts";
import { encodeData } from "../lib/data.ts";
import { MockServer, sent } from "./mock_conn.ts";
import { ehlo, GREETING, rejects, streamOf } from "./smtp_run.ts";

const FROM = "a@example.com";
const TO = "b@example.com";

/** A mock server playing `script` after the greeting, and the helper connected with chunking. */
async function connect(script: (string | ReturnType<typeof sent>)[], options = {}, dial?: Dialer) {
  const server = new MockServer([GREETING, ...script], { patientReads: true });
  const smtp = await SMTP.connect("mail.example.com", {
    dial: dial ?? server.dial,
    chunking: true,
    chunkSize: 4,
    timeout: 2000,
    ...options,
  });
  return { server, smtp };
}

/** MAIL and RCPT, accepted. */
const ACCEPTED = ["C: mail FROM:<a@example.com>", "S: 250 ok", `C: rcpt TO:<${TO}>`, "S: 250 ok"];

const ENVELOPE = ["C: mail FROM:<a@example.com> BODY=8BITMIME", "S: 250 ok", `C: rcpt TO:<${TO}>`];

Deno.test("bdat(stream): chunks of exactly chunkSize across the stream's chunks, no size=, 8BITMIME", async () => {
  const { server, smtp } = await connect([
    ...ehlo("SIZE 1000", "8BITMIME", "CHUNKING"),
    ...ENVELOPE,
    "S: 250 ok",
    sent("bdat 4\r\nab\r\n"),
    "S: 250 ok",
    sent("bdat 4\r\ncdef"),
    "S: 250 ok",
    sent("bdat 2 last\r\n\r\n"),
    "S: 250 2.0.0 Ok: queued",
  ]);
  // A CR at the end of one chunk of the stream, its LF at the start of the next.
  const source = streamOf(["a", "b\r", "\ncd", "ef"]);
  assert.deepEqual(await smtp.sendmail(FROM, TO, source.stream), new Map());
  assert.deepEqual(source.log, ["pull 0", "pull 1", "pull 2", "pull 3", "pull 4"]);
  server.assertDone();
  smtp.close();
});

Deno.test("bdat(stream): SIZE=n declared goes out as given; bdat() takes a stream too", async () => {
  const { server, smtp } = await connect([
    ...ehlo("SIZE 1000", "CHUNKING"),
    "C: mail FROM:<a@example.com> SIZE=3",
    "S: 250 ok",
    `C: rcpt TO:<${TO}>`,
    "S: 250 ok",
    sent("bdat 3 last\r\nx\r\n"),
    "S: 250 ok",
    ...ACCEPTED,
    sent("bdat 3 last\r\ny\r\n"),
    "S: 250 ok",
  ]);
  await smtp.sendmail(FROM, TO, streamOf(["x\n"]).stream, ["SIZE=3"]);
  await smtp.mail(FROM);
  await smtp.rcpt(TO);
  assert.deepEqual(await smtp.bdat(streamOf(["y\n"]).stream), [250, "ok"]);
  server.assertDone();
  smtp.close();
});

Deno.test("bdat(stream): backpressure: a piece is read only when the chunk before it was taken", async () => {
  const events: string[] = [];
  const server = new MockServer([
    GREETING,
    ...ehlo("CHUNKING"),
    ...ACCEPTED,
    sent("bdat 4\r\nabcd"),
    "S: 250 ok",
    sent("bdat 4\r\nefgh"),
    "S: 250 ok",
    sent("bdat 4 last\r\nij\r\n"),
    "S: 250 ok",
  ], { events });
  const { smtp } = await connect([], {}, server.dial);
  const source = streamOf(["ab", "cd", "ef", "gh", "ij"], events);
  await smtp.sendmail(FROM, TO, source.stream);
  const order = events.filter((e) => e.startsWith("pull") || e.startsWith('write "bdat'));
  assert.deepEqual(order, [
    "pull 0",
    "pull 1",
    "pull 2", // "ef" read: the full chunk "abcd" is not the last, so it goes
    'write "bdat 4\\r\\nabcd"',
    "pull 3",
    "pull 4",
    'write "bdat 4\\r\\nefgh"',
    "pull 5", // the end: what is left is the LAST chunk
    'write "bdat 4 last\\r\\nij\\r\\n"',
  ]);
  server.assertDone();
  smtp.close();
});

Deno.test("bdat(stream): the sender refused, or every recipient, cancels the stream unread", async () => {
  const sender = await connect([
    ...ehlo("CHUNKING"),
    "C: mail FROM:<a@example.com>",
    "S: 553 5.1.8 bad sender",
    "C: rset",
    "S: 250 ok",
  ]);
  const first = streamOf(["x\n"]);
  await rejects(() => sender.smtp.sendmail(FROM, TO, first.stream), SMTPSenderRefused);
  assert.deepEqual(first.log, ["cancel SMTPSenderRefused"]);
  sender.server.assertDone();
  sender.smtp.close();

  const recipients = await connect([
    ...ehlo("CHUNKING"),
    "C: mail FROM:<a@example.com>",
    "S: 250 ok",
    `C: rcpt TO:<${TO}>`,
    "S: 550 5.1.1 no such user",
    "C: rset",
    "S: 250 ok",
  ]);
  const second = streamOf(["x\n"]);
  await rejects(() => recipients.smtp.sendmail(FROM, TO, second.stream), SMTPRecipientsRefused);
  assert.deepEqual(second.log, ["cancel SMTPRecipientsRefused"]);
  recipients.server.assertDone();
  recipients.smtp.close();
});

Deno.test("bdat(stream), pipelined: the first chunk goes with the envelope; a refusal cancels the rest", async () => {
  const server = new MockServer([
    GREETING,
    ...ehlo("PIPELINING", "CHUNKING"),
    sent("mail FROM:<a@example.com>\r\nrcpt TO:<b@example.com>\r\nbdat 4\r\nabcd"),
    "S: 250 ok",
    "S: 550 5.1.1 no such user",
    "S: 554 5.5.1 Error: no valid recipients",
    "C: rset",
    "S: 250 ok",
  ], { patientReads: true });
  // The socket takes the first write slowly: the replies come before it has.
  let release = () => {};
  const taken = new Promise<void>((resolve) => release = resolve);
  const dial: Dialer = async (hostname, port, signal) => {
    const conn = await server.dial(hostname, port, signal);
    const write = conn.write.bind(conn);
    conn.write = (bytes: Uint8Array) =>
      new TextDecoder().decode(bytes).startsWith("mail")
        ? write(bytes).then(async (n) => (await taken, n))
        : write(bytes);
    return conn;
  };
  const { smtp } = await connect([], { pipelining: true }, dial);
  const source = streamOf(["abcd", "efgh", "ijkl", "mnop", "qrst"]);
  const sending = rejects(() => smtp.sendmail(FROM, TO, source.stream), SMTPRecipientsRefused);
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setTimeout(resolve, 0));
  release();
  await sending;
  // "efgh" was read to know that "abcd" was not the last; nothing after it.
  assert.deepEqual(source.log, [
    "pull 0",
    "pull 1",
    "cancel the transaction ended before the message",
  ]);
  server.assertDone();
  smtp.close();
});

Deno.test("bdat(stream): the connection lost mid-message cancels the stream and counts the bytes", async () => {
  const server = new MockServer([
    GREETING,
    ...ehlo("CHUNKING"),
    ...ACCEPTED,
    sent("bdat 4\r\nabcd"),
    "S: 250 ok",
  ]);
  let chunks = 0;
  const dial: Dialer = async (hostname, port, signal) => {
    const conn = await server.dial(hostname, port, signal);
    const write = conn.write.bind(conn);
    conn.write = (bytes: Uint8Array) => {
      if (new TextDecoder().decode(bytes).startsWith("bdat") && chunks++ > 0) {
        return Promise.reject(new Deno.errors.BrokenPipe("Broken pipe (os error 32)"));
      }
      return write(bytes);
    };
    return conn;
  };
  const { smtp } = await connect([], {}, dial);
  const source = streamOf(["abcd", "efgh", "ijkl", "mnop"]);
  const error = await rejects(() => smtp.sendmail(FROM, TO, source.stream), SMTPServerDisconnected);
  assert.match(error.message, /Broken pipe/);
  assert.match(error.message, /4 bytes of the message had been sent/);
  assert.deepEqual(source.log, [
    "pull 0",
    "pull 1",
    "pull 2",
    "cancel the transaction ended before the message",
  ]);
  server.assertDone();
});

Deno.test("bdat(stream): a stream that errors mid-message: no LAST chunk, closed, its error thrown", async () => {
  for (const pipelining of [false, true]) {
    const script = pipelining
      ? [
        ...ehlo("PIPELINING", "CHUNKING"),
        sent("mail FROM:<a@example.com>\r\nrcpt TO:<b@example.com>\r\nbdat 4\r\nabcd"),
        "S: 250 ok",
        "S: 250 ok",
        "S: 250 ok",
      ]
      : [
        ...ehlo("CHUNKING"),
        ...ACCEPTED,
        sent("bdat 4\r\nabcd"),
        "S: 250 ok",
      ];
    const { server, smtp } = await connect(script, { pipelining });
    const broken = new Error("disk on fire");
    const source = streamOf(["abcd", "ef", broken]);
    await assert.rejects(() => smtp.sendmail(FROM, TO, source.stream), (error) => error === broken);
    assert.equal(server.events.at(-1), "close", `pipelining: ${pipelining}`);
    assert.ok(!server.written.includes("last"), "a LAST chunk was sent");
    server.assertDone();
  }
});

const RUNS = Number(Deno.env.get("FUZZ_RUNS") ?? "") || 300;

/** All the chunks' bytes, and whether every chunk but the last had `chunkSize` bytes. */
async function carried(
  message: string | Uint8Array | ReadableStream<Uint8Array>,
  chunkSize: number,
) {
  const parts: number[] = [];
  let exact = true;
  for await (const chunk of messageChunks(message, { chunkSize })) {
    if (!chunk.last && chunk.bytes.length !== chunkSize) exact = false;
    parts.push(...chunk.bytes);
  }
  return { bytes: new Uint8Array(parts), exact };
}

Deno.test("fuzz: BDAT chunks of a stream cut anywhere carry what DATA would deliver, byte for byte", async () => {
  const bytes = fc.uint8Array({ maxLength: 300 }).map((raw) =>
    // Mostly the bytes that matter: CR, LF, dot, and letters.
    raw.map((b) => [0x0d, 0x0a, 0x2e, 0x61, 0xc3, b][b % 6])
  );
  await fc.assert(
    fc.asyncProperty(
      bytes,
      fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }),
      fc.integer({ min: 1, max: 50 }),
      async (message, cuts, chunkSize) => {
        const pieces: Uint8Array[] = [];
        for (let at = 0, i = 0; at < message.length; i++) {
          const n = cuts[i % cuts.length];
          pieces.push(message.slice(at, at + n));
          at += n;
        }
        const stream = ReadableStream.from(pieces);
        const expected = encodeData(message, { dotStuff: false }).payload;
        const streamed = await carried(stream, chunkSize);
        const whole = await carried(message, chunkSize);
        assert.deepEqual(streamed.bytes, expected);
        assert.deepEqual(whole.bytes, expected);
        assert.ok(streamed.exact && whole.exact, "a chunk before the last was short");
        assert.equal(chunkedFacts(message, false)!.size, expected.length);
      },
    ),
    { numRuns: RUNS },
  );
});
