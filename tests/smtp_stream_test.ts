/**
 * Unit tests of a message sent as a `ReadableStream` (lib/stream.ts through
 * `sendmail` and `data`) against the scripted mock server: the same bytes as
 * a string, the SIZE and BODY rules, backpressure (the next chunk read only
 * once the socket took the previous one), the stream cancelled unread on
 * every envelope failure, the count of bytes sent when the connection fails
 * mid-message, and a stream that errors mid-message (no final dot, the
 * connection closed, the stream's error thrown). No network.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  SMTPDataError,
  SMTPNotSupportedError,
  SMTPRecipientsRefused,
  SMTPSenderRefused,
  SMTPServerDisconnected,
} from "../lib/smtp.ts";
import type { Dialer } from "../lib/smtp.ts";
import { MockServer } from "./mock_conn.ts";
import { connect, DATA_OK, ehlo, GREETING, rejects, streamOf } from "./smtp_run.ts";
import { SMTP } from "../lib/smtp.ts";
import { WRITE_BYTES } from "../lib/stream.ts";

const encoder = new TextEncoder();

const ENVELOPE = [
  "C: rcpt TO:<b@example.com>",
  "S: 250 ok",
  ...DATA_OK,
];

Deno.test("sendmail(stream): the string's bytes, no size=, BODY=8BITMIME when offered", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("SIZE 1000", "8BITMIME"),
    "C: mail FROM:<a@example.com> BODY=8BITMIME",
    "S: 250 ok",
    ...ENVELOPE,
    "C: abc",
    "C: ..jkl",
    "C: foo",
    "C: ...blue",
    "C: .",
    "S: 250 queued",
  ]);
  // The CR of "\r\n" ends one chunk, its LF starts the next; a dot starts a chunk and a line.
  const { stream, log } = streamOf(["abc\n", ".jkl\r", "foo\r", "\n", "..bl", "ue"]);
  assert.deepEqual(await smtp.sendmail("a@example.com", "b@example.com", stream), new Map());
  assert.equal(log.filter((line) => line.startsWith("pull")).length, 7);
  server.assertDone();
  smtp.close();
});

Deno.test("sendmail(stream): SIZE=n among the options declares it, the helper adds none", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("SIZE 1000"),
    "C: mail FROM:<a@example.com> SIZE=5",
    "S: 250 ok",
    ...ENVELOPE,
    "C: hello",
    "C: .",
    "S: 250 queued",
  ]);
  await smtp.sendmail("a@example.com", "b@example.com", streamOf(["hello"]).stream, ["SIZE=5"]);
  server.assertDone();
  smtp.close();
});

Deno.test("sendmail(stream): SIZE=n to a server without SIZE is refused, the stream cancelled", async () => {
  const { server, smtp } = await connect([GREETING, ...ehlo("8BITMIME")]);
  const source = streamOf(["hello"]);
  await rejects(
    () => smtp.sendmail("a@example.com", "b@example.com", source.stream, ["SIZE=5"]),
    SMTPNotSupportedError,
  );
  assert.deepEqual(source.log, ["cancel SMTPNotSupportedError"]);
  server.assertDone();
  smtp.close();
});

Deno.test("sendmail(stream): a 552 to MAIL is SMTPSenderRefused and the stream is cancelled unread", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("SIZE 100"),
    "C: mail FROM:<a@example.com> SIZE=5000",
    "S: 552 5.3.4 Message size exceeds fixed limit",
    "C: rset",
    "S: 250 ok",
  ]);
  const source = streamOf(["hello"]);
  const error = await rejects(
    () => smtp.sendmail("a@example.com", "b@example.com", source.stream, ["SIZE=5000"]),
    SMTPSenderRefused,
  );
  assert.equal(error.code, 552);
  assert.deepEqual(source.log, ["cancel SMTPSenderRefused"]);
  server.assertDone();
  smtp.close();
});

Deno.test("sendmail(stream): every recipient refused cancels the stream unread", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo(),
    "C: mail FROM:<a@example.com>",
    "S: 250 ok",
    "C: rcpt TO:<b@example.com>",
    "S: 550 no such user",
    "C: rset",
    "S: 250 ok",
  ]);
  const source = streamOf(["hello"]);
  await rejects(
    () => smtp.sendmail("a@example.com", "b@example.com", source.stream),
    SMTPRecipientsRefused,
  );
  assert.deepEqual(source.log, ["cancel SMTPRecipientsRefused"]);
  server.assertDone();
  smtp.close();
});

for (const pipelining of [false, true]) {
  Deno.test(`sendmail(stream): a 554 to DATA cancels the stream unread (pipelining ${pipelining})`, async () => {
    const envelope = pipelining
      ? [
        "C: mail FROM:<a@example.com>",
        "C: rcpt TO:<b@example.com>",
        "C: data",
        "S: 250 ok",
        "S: 250 ok",
        "S: 554 no valid recipients",
      ]
      : ["C: mail FROM:<a@example.com>", "S: 250 ok", "C: rcpt TO:<b@example.com>", "S: 250 ok"]
        .concat(["C: data", "S: 554 no valid recipients"]);
    const { server, smtp } = await connect(
      [GREETING, ...ehlo("PIPELINING"), ...envelope],
      { pipelining },
    );
    const source = streamOf(["hello"]);
    await rejects(
      () => smtp.sendmail("a@example.com", "b@example.com", source.stream),
      SMTPDataError,
    );
    assert.deepEqual(source.log, ["cancel SMTPDataError"]);
    server.assertDone();
    smtp.close();
  });
}

Deno.test("sendmail(stream), pipelined: the sender refused cancels the stream, DATA's 354 gets a lone dot", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("PIPELINING"),
    "C: mail FROM:<a@example.com>",
    "C: rcpt TO:<b@example.com>",
    "C: data",
    "S: 550 sender refused",
    "S: 250 ok",
    "S: 354 go ahead",
    "C: .",
    "S: 554 no message",
    "C: rset",
    "S: 250 ok",
  ], { pipelining: true });
  const source = streamOf(["hello"]);
  await rejects(
    () => smtp.sendmail("a@example.com", "b@example.com", source.stream),
    SMTPSenderRefused,
  );
  assert.deepEqual(source.log, ["cancel SMTPSenderRefused"]);
  server.assertDone();
  smtp.close();
});

Deno.test("data(stream): DATA refused cancels the stream unread", async () => {
  const { server, smtp } = await connect([GREETING, "C: data", "S: 451 try later"]);
  const source = streamOf(["hello"]);
  await rejects(() => smtp.data(source.stream), SMTPDataError);
  assert.deepEqual(source.log, ["cancel SMTPDataError"]);
  server.assertDone();
  smtp.close();
});

Deno.test("data(stream): one large chunk goes in bounded writes, then the dot", async () => {
  const line = "x".repeat(99);
  const lines = Math.ceil((2.5 * WRITE_BYTES) / 100); // two and a half writes' worth of input
  const big = `${line}\n`.repeat(lines);
  const { server, smtp } = await connect([
    GREETING,
    "C: data",
    "S: 354 go",
    ...Array(lines).fill(`C: ${line}`),
    "C: .",
    "S: 250 queued",
  ]);
  assert.deepEqual(await smtp.data(streamOf([encoder.encode(big)]).stream), [250, "queued"]);
  const data = server.writes.slice(1);
  const bound = 2 * WRITE_BYTES + 5;
  assert.ok(data.every((w) => w.length <= bound), "a write over the bound");
  assert.ok(data.length >= 3 + 1, `${data.length} writes`); // three pieces at least, then the dot
  assert.equal(new TextDecoder().decode(data.at(-1)), ".\r\n"); // a stream's end, on its own
  server.assertDone();
  smtp.close();
});

/** A dial whose connection holds each write of the message until `release()`. */
function gatedDial(server: MockServer, events: string[]) {
  const waiting: (() => void)[] = [];
  const dial: Dialer = async (hostname, port, signal) => {
    const conn = await server.dial(hostname, port, signal);
    const write = conn.write.bind(conn);
    conn.write = (bytes: Uint8Array) => {
      const text = new TextDecoder().decode(bytes);
      if (/^(ehlo|mail|rcpt|data|quit)/.test(text)) return write(bytes);
      events.push(`write ${JSON.stringify(text)}`);
      return new Promise<void>((resolve) => waiting.push(resolve)).then(() => {
        events.push("taken");
        return write(bytes);
      });
    };
    return conn;
  };
  const release = async () => {
    // Let the client reach its next write or read first.
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 0));
    const next = waiting.shift();
    assert.ok(next, "no write was waiting");
    next();
  };
  return {
    dial,
    release,
    get waiting() {
      return waiting.length;
    },
  };
}

Deno.test("sendmail(stream): backpressure: the next chunk is read only once the socket took the last", async () => {
  const server = new MockServer([
    GREETING,
    ...ehlo(),
    "C: mail FROM:<a@example.com>",
    "S: 250 ok",
    ...ENVELOPE,
    "C: one",
    "C: two",
    "C: .",
    "S: 250 queued",
  ]);
  const events: string[] = [];
  const gate = gatedDial(server, events);
  const smtp = await SMTP.connect("mail.example.com", { dial: gate.dial });
  const source = streamOf(["one\n", "two\n"], events);
  const sending = smtp.sendmail("a@example.com", "b@example.com", source.stream);
  await gate.release(); // "one"
  await gate.release(); // "two"
  await gate.release(); // "."
  await sending;
  assert.deepEqual(events, [
    "pull 0",
    'write "one\\r\\n"',
    "taken",
    "pull 1",
    'write "two\\r\\n"',
    "taken",
    "pull 2",
    'write ".\\r\\n"',
    "taken",
  ]);
  server.assertDone();
  smtp.close();
});

Deno.test("sendmail(stream): the connection lost mid-message cancels the stream and counts the bytes", async () => {
  const server = new MockServer([
    GREETING,
    ...ehlo(),
    "C: mail FROM:<a@example.com>",
    "S: 250 ok",
    ...ENVELOPE,
    "C: first line",
  ]);
  let dataWrites = 0;
  const dial: Dialer = async (hostname, port, signal) => {
    const conn = await server.dial(hostname, port, signal);
    const write = conn.write.bind(conn);
    conn.write = (bytes: Uint8Array) => {
      if (!new TextDecoder().decode(bytes).startsWith("first") && dataWrites > 0) {
        return Promise.reject(new Deno.errors.BrokenPipe("Broken pipe (os error 32)"));
      }
      if (new TextDecoder().decode(bytes).startsWith("first")) dataWrites++;
      return write(bytes);
    };
    return conn;
  };
  const smtp = await SMTP.connect("mail.example.com", { dial });
  const source = streamOf(["first line\n", "second line\n", "third line\n"]);
  const error = await rejects(
    () => smtp.sendmail("a@example.com", "b@example.com", source.stream),
    SMTPServerDisconnected,
  );
  assert.match(error.message, /Broken pipe/);
  assert.match(error.message, /12 bytes of the message had been sent/);
  assert.deepEqual(source.log, ["pull 0", "pull 1", "cancel SMTPServerDisconnected"]);
  server.assertDone();
});

Deno.test("sendmail(stream): a stream that errors mid-message: no final dot, closed, its error thrown", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo(),
    "C: mail FROM:<a@example.com>",
    "S: 250 ok",
    ...ENVELOPE,
    "C: first line",
  ]);
  const broken = new Error("disk on fire");
  const source = streamOf(["first line\n", broken]);
  await assert.rejects(
    () => smtp.sendmail("a@example.com", "b@example.com", source.stream),
    (error) => error === broken,
  );
  assert.equal(server.events.at(-1), "close");
  assert.ok(!server.written.endsWith(".\r\n"), "the final dot was sent");
  server.assertDone();
});

Deno.test("sendmail: a locked stream, or a stream of strings, is refused", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo(),
    "C: mail FROM:<a@example.com>",
    "S: 250 ok",
    ...ENVELOPE,
  ]);
  const locked = streamOf(["x"]).stream;
  locked.getReader();
  await assert.rejects(
    () => smtp.sendmail("a@example.com", "b@example.com", locked),
    /sendmail\(\): msg is a locked ReadableStream/,
  );
  const strings = new ReadableStream({
    start(controller) {
      controller.enqueue("text");
      controller.close();
    },
  }) as unknown as ReadableStream<Uint8Array>;
  await assert.rejects(
    () => smtp.sendmail("a@example.com", "b@example.com", strings),
    /the message stream gave a string, not a Uint8Array/,
  );
  assert.equal(server.events.at(-1), "close");
  server.assertDone();
});

Deno.test("sendmail of a string or bytes never names ReadableStream: its first use costs start-up", async () => {
  // The runtime loads its web streams when the global is first read (about 1.5 ms).
  const global = Object.getOwnPropertyDescriptor(globalThis, "ReadableStream")!;
  let named = 0;
  Object.defineProperty(globalThis, "ReadableStream", {
    configurable: true,
    get() {
      named++;
      return global.get ? global.get.call(globalThis) : global.value;
    },
  });
  try {
    const { server, smtp } = await connect([
      GREETING,
      ...ehlo("SIZE 1000"),
      "C: mail FROM:<a@example.com> size=5",
      "S: 250 ok",
      ...ENVELOPE,
      "C: abc",
      "C: .",
      "S: 250 queued",
      "C: mail FROM:<a@example.com> size=5",
      "S: 250 ok",
      ...ENVELOPE,
      "C: def",
      "C: .",
      "S: 250 queued",
    ]);
    await smtp.sendmail("a@example.com", "b@example.com", "abc\n");
    await smtp.sendmail("a@example.com", "b@example.com", encoder.encode("def\n"));
    server.assertDone();
    smtp.close();
  } finally {
    Object.defineProperty(globalThis, "ReadableStream", global);
  }
  assert.equal(named, 0, "ReadableStream was named");
});
