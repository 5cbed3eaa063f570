/**
 * Unit tests of CHUNKING (RFC 3030) in the helper: `sendmail` with
 * `{ chunking: true }` and `bdat()`, against the scripted mock server, with
 * the exact bytes on the wire: one chunk and several, LAST, the empty
 * message, refusals between chunks, the fallback to DATA, pipelined BDAT,
 * BINARYMIME and the transcript. `pipelineChunks` is also played against a
 * hand-driven connection, to see a refusal stop the chunks. No network.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  BDAT_CHUNK_SIZE,
  SMTP,
  SMTPDataError,
  SMTPNotSupportedError,
  type SMTPOptions,
  SMTPRecipientsRefused,
  SMTPSenderRefused,
} from "../lib/smtp.ts";
import { bdatCommand, type Chunk, type ChunkWire, pipelineChunks } from "../lib/bdat.ts";
import { chunkedFacts, messageChunks } from "../lib/chunks.ts";
import { Envelope } from "../lib/envelope.ts";
import type { SMTPReply } from "../lib/errors.ts";
import { MockServer, sent, type Step } from "./mock_conn.ts";
import { ehlo, GREETING, rejects } from "./smtp_run.ts";

const FROM = "a@example.com";
const TO = ["b@example.com"];
const MAIL = "C: mail FROM:<a@example.com>";
const RCPT = "C: rcpt TO:<b@example.com>";
/** MAIL and RCPT, accepted. */
const ACCEPTED = [MAIL, "S: 250 ok", RCPT, "S: 250 ok"];
/** A message with LF, CRLF and lone CR line endings, a line starting with a dot, no final newline. */
const MESSAGE = "Subject: hi\n\n.a dot\r\nline\rlast";
/** The same as DATA would deliver it: CRLF everywhere, no dot-stuffing, CRLF added at the end. */
const WIRE = "Subject: hi\r\n\r\n.a dot\r\nline\r\nlast\r\n";

/** Connects through a mock server (patient reads: pipelined BDAT reads while it writes). */
async function connect(
  script: (string | Step)[],
  options: SMTPOptions = {},
): Promise<{ server: MockServer; smtp: SMTP }> {
  const server = new MockServer([GREETING, ...script], { patientReads: true });
  const smtp = await SMTP.connect("mail.example.com", {
    dial: server.dial,
    chunking: true,
    timeout: 2000,
    ...options,
  });
  return { server, smtp };
}

/** The bytes of each write after EHLO, as text. */
function writes(server: MockServer): string[] {
  return server.writes.slice(1).map((w) => new TextDecoder().decode(w));
}

Deno.test("bdat: one chunk, BDAT n LAST, no dot-stuffing, line ends made CRLF as DATA makes them", async () => {
  const { server, smtp } = await connect([
    ...ehlo("SIZE 10240000", "CHUNKING"),
    `${MAIL} size=${WIRE.length}`,
    "S: 250 2.1.0 Ok",
    RCPT,
    "S: 250 2.1.5 Ok",
    sent(`bdat ${WIRE.length} last\r\n${WIRE}`),
    "S: 250 2.0.0 Ok: queued as 4A",
  ]);
  assert.deepEqual(await smtp.sendmail(FROM, TO, MESSAGE), new Map());
  // The command and its chunk in one write.
  assert.deepEqual(writes(server).slice(2), [`bdat ${WIRE.length} last\r\n${WIRE}`]);
  server.assertDone();
  smtp.close();
});

Deno.test("bdat: several chunks, each waiting for its 250; a last chunk that fills its size", async () => {
  const body = "0123456789abcdefghij\n"; // 22 bytes on the wire: chunks of 8, 8 and 6
  const { server, smtp } = await connect([
    ...ehlo("CHUNKING"),
    ...ACCEPTED,
    sent("bdat 8\r\n01234567"),
    "S: 250 2.0.0 8 bytes",
    sent("bdat 8\r\n89abcdef"),
    "S: 250 2.0.0 16 bytes",
    sent("bdat 6 last\r\nghij\r\n"),
    "S: 250 2.0.0 Ok: queued as 4B",
  ], { chunkSize: 8 });
  await smtp.sendmail(FROM, TO, body);
  server.assertDone();
  // 16 bytes in chunks of 8: the second is the last, with no empty BDAT after it.
  const exact = await connect([
    ...ehlo("CHUNKING"),
    ...ACCEPTED,
    sent("bdat 8\r\n0123456\r"),
    "S: 250 ok",
    sent("bdat 8 last\r\n\n78abc\r\n"),
    "S: 250 ok",
  ], { chunkSize: 8 });
  await exact.smtp.sendmail(FROM, TO, "0123456\n78abc\n");
  exact.server.assertDone();
  smtp.close();
  exact.smtp.close();
});

Deno.test("bdat: an empty message is BDAT 0 LAST and nothing else", async () => {
  const { server, smtp } = await connect([
    ...ehlo("SIZE", "CHUNKING"),
    `${MAIL} size=0`,
    "S: 250 ok",
    RCPT,
    "S: 250 ok",
    "C: bdat 0 last",
    "S: 250 ok",
  ]);
  await smtp.sendmail(FROM, TO, "");
  assert.deepEqual(writes(server).slice(2), ["bdat 0 last\r\n"]);
  server.assertDone();
  smtp.close();
});

Deno.test("bdat: a refusal between chunks sends no more chunks, says RSET and throws SMTPDataError", async () => {
  const { server, smtp } = await connect([
    ...ehlo("CHUNKING"),
    ...ACCEPTED,
    sent("bdat 8\r\n01234567"),
    "S: 250 ok",
    sent("bdat 8\r\n89abcdef"),
    "S: 552 5.3.4 Message size exceeds fixed limit",
    "C: rset",
    "S: 250 2.0.0 Ok",
  ], { chunkSize: 8 });
  const error = await rejects(
    () => smtp.sendmail(FROM, TO, "0123456789abcdefghij\n"),
    SMTPDataError,
  );
  assert.equal(error.code, 552);
  assert.equal(error.message, "Message data refused: 552 5.3.4 Message size exceeds fixed limit");
  server.assertDone();
  smtp.close();
});

Deno.test("bdat: a refused LAST chunk is SMTPDataError after RSET; a 421 closes with no RSET", async () => {
  const refused = await connect([
    ...ehlo("CHUNKING"),
    ...ACCEPTED,
    sent("bdat 3 last\r\nx\r\n"),
    "S: 554 5.7.1 spam",
    "C: rset",
    "S: 250 ok",
  ]);
  const error = await rejects(() => refused.smtp.sendmail(FROM, TO, "x"), SMTPDataError);
  assert.equal(error.code, 554);
  refused.server.assertDone();
  refused.smtp.close();

  const closing = await connect([
    ...ehlo("CHUNKING"),
    ...ACCEPTED,
    sent("bdat 2\r\nab"),
    "S: 421 4.3.0 going down",
  ], { chunkSize: 2 });
  const gone = await rejects(() => closing.smtp.sendmail(FROM, TO, "abcd"), SMTPDataError);
  assert.equal(gone.code, 421);
  assert.equal(closing.server.current.closed, true);
  closing.server.assertDone();
});

Deno.test("bdat: the envelope refused one command at a time: no BDAT at all", async () => {
  const sender = await connect([
    ...ehlo("CHUNKING"),
    MAIL,
    "S: 553 5.1.8 bad sender",
    "C: rset",
    "S: 250 ok",
  ]);
  await rejects(() => sender.smtp.sendmail(FROM, TO, "x"), SMTPSenderRefused);
  sender.server.assertDone();
  const recipients = await connect([
    ...ehlo("CHUNKING"),
    MAIL,
    "S: 250 ok",
    RCPT,
    "S: 550 5.1.1 no such user",
    "C: rset",
    "S: 250 ok",
  ]);
  await rejects(() => recipients.smtp.sendmail(FROM, TO, "x"), SMTPRecipientsRefused);
  recipients.server.assertDone();
  sender.smtp.close();
  recipients.smtp.close();
});

Deno.test("bdat: without CHUNKING on offer, or without the option, the message goes by DATA", async () => {
  const dataScript = [
    ...ACCEPTED,
    "C: data",
    "S: 354 go ahead",
    "C: ..a",
    "C: .",
    "S: 250 ok",
  ];
  const notOffered = await connect([...ehlo("PIPELINING", "8BITMIME"), ...dataScript]);
  await notOffered.smtp.sendmail(FROM, TO, ".a");
  notOffered.server.assertDone();
  const notAsked = await connect([...ehlo("CHUNKING"), ...dataScript], { chunking: false });
  await notAsked.smtp.sendmail(FROM, TO, ".a");
  notAsked.server.assertDone();
  notOffered.smtp.close();
  notAsked.smtp.close();
});

Deno.test("bdat: pipelined, MAIL, RCPT and the first chunk in one write, the chunks unanswered, then the replies", async () => {
  const { server, smtp } = await connect([
    ...ehlo("PIPELINING", "CHUNKING"),
    sent(
      "mail FROM:<a@example.com>\r\nrcpt TO:<b@example.com>\r\nrcpt TO:<c@example.com>\r\n" +
        "bdat 8\r\n01234567",
    ),
    sent("bdat 8\r\n89abcdef"),
    sent("bdat 6 last\r\nghij\r\n"),
    "S: 250 2.1.0 Ok",
    "S: 250 2.1.5 Ok",
    "S: 550 5.1.1 no such user",
    "S: 250 2.0.0 8 octets",
    "S: 250 2.0.0 16 octets",
    "S: 250 2.0.0 Ok: queued as 4C",
  ], { pipelining: true, chunkSize: 8 });
  const refused = await smtp.sendmail(
    FROM,
    ["b@example.com", "c@example.com"],
    "0123456789abcdefghij",
  );
  assert.deepEqual(refused, new Map([["c@example.com", [550, "5.1.1 no such user"]]]));
  assert.equal(writes(server).length, 3);
  server.assertDone();
  smtp.close();
});

Deno.test("bdat: pipelined, every recipient refused: the BDAT refusals are read, RSET, SMTPRecipientsRefused", async () => {
  const { server, smtp } = await connect([
    ...ehlo("PIPELINING", "CHUNKING"),
    sent("mail FROM:<a@example.com>\r\nrcpt TO:<b@example.com>\r\nbdat 3 last\r\nx\r\n"),
    "S: 250 2.1.0 Ok",
    "S: 550 5.1.1 no such user",
    "S: 554 5.5.1 Error: no valid recipients",
    "C: rset",
    "S: 250 2.0.0 Ok",
  ], { pipelining: true });
  const error = await rejects(() => smtp.sendmail(FROM, TO, "x"), SMTPRecipientsRefused);
  assert.deepEqual([...error.recipients], [["b@example.com", [550, "5.1.1 no such user"]]]);
  server.assertDone();
  smtp.close();
});

Deno.test("bdat: pipelined, a refused chunk is SMTPDataError after RSET; a 421 to MAIL stops at once", async () => {
  const refused = await connect([
    ...ehlo("PIPELINING", "CHUNKING"),
    sent("mail FROM:<a@example.com>\r\nrcpt TO:<b@example.com>\r\nbdat 3 last\r\nx\r\n"),
    "S: 250 ok",
    "S: 250 ok",
    "S: 552 5.3.4 too big",
    "C: rset",
    "S: 250 ok",
  ], { pipelining: true });
  const error = await rejects(() => refused.smtp.sendmail(FROM, TO, "x"), SMTPDataError);
  assert.equal(error.code, 552);
  refused.server.assertDone();
  refused.smtp.close();

  const closing = await connect([
    ...ehlo("PIPELINING", "CHUNKING"),
    sent("mail FROM:<a@example.com>\r\nrcpt TO:<b@example.com>\r\nbdat 3 last\r\nx\r\n"),
    "S: 421 4.3.2 shutting down",
  ], { pipelining: true });
  const gone = await rejects(() => closing.smtp.sendmail(FROM, TO, "x"), SMTPSenderRefused);
  assert.equal(gone.code, 421);
  assert.equal(closing.server.current.closed, true);
  closing.server.assertDone();
});

Deno.test("bdat: BODY=BINARYMIME sends the bytes as they are; it needs the option and the server's CHUNKING", async () => {
  const bytes = new Uint8Array([0x61, 0x0a, 0x00, 0xff, 0x0d, 0x2e, 0x62]); // a LF NUL 0xff CR . b
  const { server, smtp } = await connect([
    ...ehlo("SIZE", "8BITMIME", "BINARYMIME", "CHUNKING"),
    `${MAIL} size=7 BODY=BINARYMIME`,
    "S: 250 ok",
    RCPT,
    "S: 250 ok",
    sent(new Uint8Array([...new TextEncoder().encode("bdat 7 last\r\n"), ...bytes])),
    "S: 250 ok",
  ]);
  await smtp.sendmail(FROM, TO, bytes, ["BODY=BINARYMIME"]);
  server.assertDone();
  smtp.close();

  const cases: [string, string[], SMTPOptions, RegExp][] = [
    ["no option", ["BINARYMIME", "CHUNKING"], { chunking: false }, /pass \{ chunking: true \}/],
    ["no CHUNKING", ["BINARYMIME"], {}, /does not offer CHUNKING/],
    ["no BINARYMIME", ["CHUNKING"], {}, /^BINARYMIME not supported by server/],
  ];
  for (const [name, extensions, options, message] of cases) {
    const refused = await connect(ehlo(...extensions), options);
    const error = await rejects(
      () => refused.smtp.sendmail(FROM, TO, bytes, ["BODY=BINARYMIME"]),
      SMTPNotSupportedError,
    );
    assert.match(error.message, message, name);
    refused.server.assertDone(); // nothing written after EHLO
    refused.smtp.close();
  }
});

Deno.test("bdat(): after mail() and rcpt(), one method per command; refused without CHUNKING", async () => {
  const { server, smtp } = await connect([
    ...ehlo("CHUNKING", "BINARYMIME"),
    ...ACCEPTED,
    sent("bdat 4\r\nab\r\n"),
    "S: 250 ok",
    sent("bdat 3 last\r\nc\r\n"),
    "S: 250 2.0.0 Ok: queued as 4D",
    `${MAIL} BODY=BINARYMIME`,
    "S: 250 ok",
    RCPT,
    "S: 250 ok",
    sent("bdat 4 last\r\nab\nc"),
    "S: 250 2.0.0 Ok: queued as 4E",
  ], { chunkSize: 4 });
  await smtp.ehlo();
  await smtp.mail(FROM);
  await smtp.rcpt(TO[0]);
  assert.deepEqual(await smtp.bdat("ab\nc"), [250, "2.0.0 Ok: queued as 4D"]);
  await smtp.mail(FROM, ["BODY=BINARYMIME"]);
  await smtp.rcpt(TO[0]);
  assert.deepEqual(await smtp.bdat("ab\nc"), [250, "2.0.0 Ok: queued as 4E"]);
  server.assertDone();
  smtp.close();

  // After MAIL with BODY=BINARYMIME, DATA is refused before anything is written.
  const binary = await connect([
    ...ehlo("CHUNKING", "BINARYMIME"),
    `${MAIL} BODY=BINARYMIME`,
    "S: 250 ok",
  ]);
  await binary.smtp.ehlo();
  await binary.smtp.mail(FROM, ["BODY=BINARYMIME"]);
  await rejects(() => binary.smtp.data("x"), SMTPNotSupportedError);
  binary.server.assertDone();
  binary.smtp.close();

  const plain = await connect(ehlo("8BITMIME"));
  await plain.smtp.ehlo();
  await rejects(() => plain.smtp.bdat("x"), SMTPNotSupportedError);
  plain.server.assertDone();
  plain.smtp.close();
});

Deno.test("bdat: the transcript shows each BDAT command, its chunk as bytes, and the reply", async () => {
  const lines: string[] = [];
  const { server, smtp } = await connect([
    ...ehlo("CHUNKING"),
    MAIL,
    "S: 250 2.1.0 Ok",
    RCPT,
    "S: 250 2.1.5 Ok",
    sent("bdat 6 last\r\nHi\r\n\r\n"),
    "S: 250 2.0.0 Ok: queued as 4F",
  ], { debugLevel: 1, debugOutput: (line) => lines.push(line) });
  await smtp.sendmail(FROM, TO, "Hi\n\n");
  assert.deepEqual(lines.slice(lines.indexOf("send: 'bdat 6 last\\r\\n'")), [
    "send: 'bdat 6 last\\r\\n'",
    "send: b'Hi\\r\\n\\r\\n'",
    "reply: b'250 2.0.0 Ok: queued as 4F\\r\\n'",
    "reply: retcode (250); Msg: b'2.0.0 Ok: queued as 4F'",
  ]);
  server.assertDone();
  smtp.close();
});

Deno.test("bdat: chunkSize must be a whole number of bytes from 1", async () => {
  for (const chunkSize of [0, -1, 1.5, NaN]) {
    await assert.rejects(
      () => SMTP.connect("mail.example.com", { chunkSize }),
      (error: Error) => error instanceof RangeError && /options\.chunkSize/.test(error.message),
    );
  }
  await assert.rejects(
    () => SMTP.connect("mail.example.com", { chunkSize: "8" as unknown as number }),
    TypeError,
  );
  assert.equal(BDAT_CHUNK_SIZE, 1 << 20);
});

/** The chunks of `message`, each as text with its command. */
async function cut(message: string | Uint8Array, chunkSize: number, binary = false) {
  const out: string[] = [];
  for await (const chunk of messageChunks(message, { chunkSize, binary })) {
    out.push(`${bdatCommand(chunk)}|${new TextDecoder().decode(chunk.bytes)}`);
  }
  return out;
}

Deno.test("messageChunks: chunks of exactly chunkSize but the last; line ends made CRLF as DATA makes them", async () => {
  assert.deepEqual(await cut("abcdefg", 3), ["bdat 3|abc", "bdat 3|def", "bdat 3 last|g\r\n"]);
  assert.deepEqual(await cut("abcd\n", 3), ["bdat 3|abc", "bdat 3 last|d\r\n"]);
  assert.deepEqual(await cut("", 3), ["bdat 0 last|"]);
  assert.deepEqual(await cut(MESSAGE, 1000), [`bdat ${WIRE.length} last|${WIRE}`]);
  assert.deepEqual(await cut("a\r\n", 8), ["bdat 3 last|a\r\n"]);
  assert.deepEqual(await cut("a\r", 8), ["bdat 3 last|a\r\n"]);
  assert.deepEqual(await cut("a\nb\r", 8, true), ["bdat 4 last|a\nb\r"]);
  // A CR at the end of one chunk and its LF in the next is one line ending.
  assert.deepEqual(await cut("ab\r\ncd", 3), ["bdat 3|ab\r", "bdat 3|\ncd", "bdat 2 last|\r\n"]);
});

Deno.test("chunkedFacts: SIZE= is the exact number of bytes the chunks carry", async () => {
  const cases: [string | Uint8Array, boolean][] = [
    [MESSAGE, false],
    ["", false],
    ["x\n", false],
    ["é\r", false],
    ["a\nb\r", true],
    ["Grüße\n", true],
    [new Uint8Array([0x0a, 0x0d, 0xff]), false],
    [new Uint8Array([0x0a, 0x0d, 0xff]), true],
  ];
  for (const [message, binary] of cases) {
    let carried = 0;
    for await (const chunk of messageChunks(message, { binary, chunkSize: 2 })) {
      carried += chunk.bytes.length;
    }
    assert.equal(chunkedFacts(message, binary)!.size, carried, JSON.stringify([message, binary]));
  }
  assert.equal(chunkedFacts("é", false)!.eightBit, true);
  assert.equal(chunkedFacts(new ReadableStream(), false), null);
});

/**
 * A connection driven by hand: each send is held until the test lets it
 * go, and replies come from a list, so a refusal can arrive while a chunk
 * is still being written.
 */
class HeldWire implements ChunkWire {
  readonly sent: string[] = [];
  #release: (() => void)[] = [];
  #replies: SMTPReply[];
  #waiting: ((reply: SMTPReply) => void)[] = [];

  constructor(replies: SMTPReply[]) {
    this.#replies = replies;
  }

  send(lines: readonly string[], chunk: Uint8Array): Promise<void> {
    this.sent.push([...lines, new TextDecoder().decode(chunk)].join("|"));
    return new Promise((resolve) => this.#release.push(resolve));
  }

  reply(): Promise<SMTPReply> {
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  written(): number {
    return 0;
  }

  abort(): void {}

  /** Lets the writes so far complete. */
  release(): void {
    for (const resolve of this.#release.splice(0)) resolve();
  }

  /** Answers the replies asked for so far, in order. */
  answer(): void {
    for (const resolve of this.#waiting.splice(0)) resolve(this.#replies.shift()!);
  }
}

/** Runs the event loop until pending promises have settled. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

/** `pipelineChunks` started on a {@link HeldWire} answering `replies`, with one chunk per text. */
function startPipeline(replies: SMTPReply[], texts: string[]) {
  const wire = new HeldWire(replies);
  const chunks: Chunk[] = texts.map((text, i) => ({
    bytes: new TextEncoder().encode(text),
    last: i === texts.length - 1,
  }));
  const envelope = new Envelope(FROM, TO, { data: false });
  const commands = ["mail FROM:<a@example.com>", "rcpt TO:<b@example.com>"];
  return { wire, envelope, done: pipelineChunks(wire, commands, envelope, chunks) };
}

Deno.test("pipelineChunks: a refused chunk stops the chunks after the one being written", async () => {
  const { wire, envelope, done } = startPipeline(
    [[250, "ok"], [250, "ok"], [552, "too big"], [250, "late"]],
    ["aa", "bb", "cc", "dd"],
  );
  await settle();
  assert.deepEqual(wire.sent, ["mail FROM:<a@example.com>|rcpt TO:<b@example.com>|bdat 2|aa"]);
  wire.release(); // the first write done; the second chunk goes without waiting for a reply
  await settle();
  assert.deepEqual(wire.sent.slice(1), ["bdat 2|bb"]);
  wire.answer(); // MAIL 250
  await settle();
  wire.answer(); // RCPT 250
  await settle();
  wire.answer(); // the first chunk: 552, while the second is being written
  await settle();
  wire.release(); // the second chunk written: no third
  await settle();
  wire.answer(); // the second chunk's reply is read all the same
  assert.deepEqual(await done, [552, "too big"]);
  assert.deepEqual(wire.sent.slice(2), []);
  assert.equal(envelope.failure(), null);
});

Deno.test("pipelineChunks: every recipient refused stops the chunks too", async () => {
  const { wire, envelope, done } = startPipeline(
    [[250, "ok"], [550, "no such user"], [554, "no valid recipients"]],
    ["aa", "bb"],
  );
  await settle();
  wire.answer();
  await settle();
  wire.answer(); // RCPT refused while the first chunk is being written
  await settle();
  wire.release();
  await settle();
  wire.answer();
  assert.deepEqual(await done, [554, "no valid recipients"]);
  assert.equal(wire.sent.length, 1);
  assert.ok(envelope.failure() instanceof SMTPRecipientsRefused);
});
