/**
 * Unit tests of PIPELINING (RFC 2920) in the helper's `sendmail`: MAIL,
 * every RCPT and DATA in one write, the replies read in order and judged as
 * on the unpipelined path, against the scripted mock server. No network.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  SMTP,
  SMTPDataError,
  type SMTPOptions,
  SMTPRecipientsRefused,
  SMTPResponseException,
  SMTPSenderRefused,
  SMTPServerDisconnected,
} from "../lib/smtp.ts";
import { EOF, MockConn, MockServer, STALL, type Step } from "./mock_conn.ts";
import { connect as connectMock, ehlo, GREETING } from "./smtp_run.ts";

const EHLO = ehlo("PIPELINING", "8BITMIME");
const FROM = "a@example.com";
const TO = ["b@example.com", "c@example.com"];
const ENVELOPE = "C: mail FROM:<a@example.com>\nC: rcpt TO:<b@example.com>\n" +
  "C: rcpt TO:<c@example.com>\nC: data";
const START = "S: 354 End data with <CR><LF>.<CR><LF>";

/** `connect` from smtp_run.ts, with `pipelining: true` unless `options` says otherwise. */
function connect(
  script: (string | Step)[],
  options: SMTPOptions = {},
): Promise<{ server: MockServer; smtp: SMTP }> {
  return connectMock(script, { pipelining: true, ...options });
}

/** What sendmail gave: the refused map, or the error's class, code and message. */
async function outcome(work: Promise<Map<string, unknown>>): Promise<unknown> {
  try {
    return { refused: [...await work] };
  } catch (error) {
    assert.ok(error instanceof Error);
    return {
      error: error.constructor.name,
      message: error.message,
      code: error instanceof SMTPResponseException ? error.code : undefined,
      recipients: error instanceof SMTPRecipientsRefused ? [...error.recipients] : undefined,
    };
  }
}

/** The bytes of each write, as text. */
function writes(server: MockServer): string[] {
  return server.writes.map((w) => new TextDecoder().decode(w));
}

Deno.test("pipelining: MAIL, every RCPT and DATA go in one write, then the message", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...EHLO,
    ENVELOPE,
    "S: 250 2.1.0 Ok",
    "S: 250 2.1.5 Ok",
    "S: 550 5.1.1 no such user",
    START,
    "C: hello",
    "C: .",
    "S: 250 2.0.0 Ok: queued as 1",
  ]);
  const refused = await smtp.sendmail(FROM, TO, "hello\n");
  assert.deepEqual(refused, new Map([["c@example.com", [550, "5.1.1 no such user"]]]));
  assert.deepEqual(writes(server).slice(1), [
    "mail FROM:<a@example.com>\r\nrcpt TO:<b@example.com>\r\nrcpt TO:<c@example.com>\r\ndata\r\n",
    "hello\r\n.\r\n",
  ]);
  server.assertDone();
  smtp.close();
});

Deno.test("pipelining: nothing changes unless the server lists PIPELINING", async () => {
  const { server, smtp } = await connect([
    GREETING,
    "C: ehlo [127.0.0.1]",
    "S: 250 mail.example.com",
    "C: mail FROM:<a@example.com>",
    "S: 250 ok",
    "C: rcpt TO:<b@example.com>",
    "S: 250 ok",
    "C: data",
    START,
    "C: x",
    "C: .",
    "S: 250 ok",
  ]);
  assert.deepEqual(await smtp.sendmail(FROM, ["b@example.com"], "x"), new Map());
  assert.equal(server.writes.length, 5);
  server.assertDone();
  smtp.close();
});

Deno.test("without the option, a server listing PIPELINING gets one command at a time", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...EHLO,
    "C: mail FROM:<a@example.com>",
    "S: 250 ok",
    "C: rcpt TO:<b@example.com>",
    "S: 250 ok",
    "C: data",
    START,
    "C: x",
    "C: .",
    "S: 250 ok",
  ], { pipelining: false });
  await smtp.sendmail(FROM, ["b@example.com"], "x");
  assert.equal(server.writes.length, 5);
  server.assertDone();
  smtp.close();
});

Deno.test("pipelining: the transcript shows one send: line per command, then the replies", async () => {
  const lines: string[] = [];
  const { server, smtp } = await connect([
    GREETING,
    ...EHLO,
    ENVELOPE,
    "S: 250 2.1.0 Ok",
    "S: 250 2.1.5 Ok",
    "S: 250 2.1.5 Ok",
    START,
    "C: x",
    "C: .",
    "S: 250 2.0.0 Ok: queued as 1",
  ], { debugLevel: 1, debugOutput: (line) => lines.push(line) });
  await smtp.sendmail(FROM, TO, "x");
  assert.deepEqual(lines.slice(lines.indexOf("send: 'mail FROM:<a@example.com>\\r\\n'")), [
    "send: 'mail FROM:<a@example.com>\\r\\n'",
    "send: 'rcpt TO:<b@example.com>\\r\\n'",
    "send: 'rcpt TO:<c@example.com>\\r\\n'",
    "send: 'data\\r\\n'",
    "reply: b'250 2.1.0 Ok\\r\\n'",
    "reply: retcode (250); Msg: b'2.1.0 Ok'",
    "reply: b'250 2.1.5 Ok\\r\\n'",
    "reply: retcode (250); Msg: b'2.1.5 Ok'",
    "reply: b'250 2.1.5 Ok\\r\\n'",
    "reply: retcode (250); Msg: b'2.1.5 Ok'",
    "reply: b'354 End data with <CR><LF>.<CR><LF>\\r\\n'",
    "reply: retcode (354); Msg: b'End data with <CR><LF>.<CR><LF>'",
    "data: (354, b'End data with <CR><LF>.<CR><LF>')",
    "send: b'x\\r\\n.\\r\\n'",
    "reply: b'250 2.0.0 Ok: queued as 1\\r\\n'",
    "reply: retcode (250); Msg: b'2.0.0 Ok: queued as 1'",
    "data: (250, b'2.0.0 Ok: queued as 1')",
  ]);
  server.assertDone();
  smtp.close();
});

/**
 * Refusals, each played pipelined and one command at a time: the result
 * (refused map, or error class, code, message and recipients) is the same.
 */
const refusals: { name: string; pipelined: string[]; oneByOne: string[] }[] = [
  {
    name: "the sender refused (RCPT and DATA answered 503)",
    pipelined: [
      ENVELOPE,
      "S: 553 5.1.8 bad sender",
      "S: 503 5.5.1 need MAIL",
      "S: 503 5.5.1 need MAIL",
      "S: 503 5.5.1 need RCPT",
      "C: rset",
      "S: 250 ok",
    ],
    oneByOne: ["C: mail FROM:<a@example.com>", "S: 553 5.1.8 bad sender", "C: rset", "S: 250 ok"],
  },
  {
    name: "every recipient refused, DATA refused",
    pipelined: [
      ENVELOPE,
      "S: 250 ok",
      "S: 550 5.1.1 no b",
      "S: 554 5.7.1 no c",
      "S: 554 5.5.1 no valid recipients",
      "C: rset",
      "S: 250 ok",
    ],
    oneByOne: [
      "C: mail FROM:<a@example.com>",
      "S: 250 ok",
      "C: rcpt TO:<b@example.com>",
      "S: 550 5.1.1 no b",
      "C: rcpt TO:<c@example.com>",
      "S: 554 5.7.1 no c",
      "C: rset",
      "S: 250 ok",
    ],
  },
  {
    name: "every recipient refused, DATA answered 354 all the same: a lone dot ends it",
    pipelined: [
      ENVELOPE,
      "S: 250 ok",
      "S: 550 5.1.1 no b",
      "S: 554 5.7.1 no c",
      START,
      "C: .",
      "S: 554 5.5.1 no valid recipients",
      "C: rset",
      "S: 250 ok",
    ],
    oneByOne: [
      "C: mail FROM:<a@example.com>",
      "S: 250 ok",
      "C: rcpt TO:<b@example.com>",
      "S: 550 5.1.1 no b",
      "C: rcpt TO:<c@example.com>",
      "S: 554 5.7.1 no c",
      "C: rset",
      "S: 250 ok",
    ],
  },
  {
    name: "the sender refused, DATA answered 354 all the same",
    pipelined: [
      ENVELOPE,
      "S: 553 5.1.8 bad sender",
      "S: 250 ok",
      "S: 250 ok",
      START,
      "C: .",
      "S: 250 ok",
      "C: rset",
      "S: 250 ok",
    ],
    oneByOne: ["C: mail FROM:<a@example.com>", "S: 553 5.1.8 bad sender", "C: rset", "S: 250 ok"],
  },
  {
    name: "DATA refused after an accepted recipient (no RSET)",
    pipelined: [ENVELOPE, "S: 250 ok", "S: 250 ok", "S: 550 no c", "S: 451 4.3.0 try later"],
    oneByOne: [
      "C: mail FROM:<a@example.com>",
      "S: 250 ok",
      "C: rcpt TO:<b@example.com>",
      "S: 250 ok",
      "C: rcpt TO:<c@example.com>",
      "S: 550 no c",
      "C: data",
      "S: 451 4.3.0 try later",
    ],
  },
  {
    name: "the message refused after the data (then RSET)",
    pipelined: [
      ENVELOPE,
      "S: 250 ok",
      "S: 250 ok",
      "S: 250 ok",
      START,
      "C: x",
      "C: .",
      "S: 552 5.3.4 too big",
      "C: rset",
      "S: 250 ok",
    ],
    oneByOne: [
      "C: mail FROM:<a@example.com>",
      "S: 250 ok",
      "C: rcpt TO:<b@example.com>",
      "S: 250 ok",
      "C: rcpt TO:<c@example.com>",
      "S: 250 ok",
      "C: data",
      START,
      "C: x",
      "C: .",
      "S: 552 5.3.4 too big",
      "C: rset",
      "S: 250 ok",
    ],
  },
  {
    name: "421 at MAIL: closed at once, nothing more read or written",
    pipelined: [ENVELOPE, "S: 421 4.3.2 shutting down"],
    oneByOne: ["C: mail FROM:<a@example.com>", "S: 421 4.3.2 shutting down"],
  },
  {
    name: "421 at the second RCPT",
    pipelined: [ENVELOPE, "S: 250 ok", "S: 250 ok", "S: 421 4.3.2 shutting down"],
    oneByOne: [
      "C: mail FROM:<a@example.com>",
      "S: 250 ok",
      "C: rcpt TO:<b@example.com>",
      "S: 250 ok",
      "C: rcpt TO:<c@example.com>",
      "S: 421 4.3.2 shutting down",
    ],
  },
  {
    name: "421 at DATA",
    pipelined: [ENVELOPE, "S: 250 ok", "S: 250 ok", "S: 250 ok", "S: 421 4.3.2 bye"],
    oneByOne: [
      "C: mail FROM:<a@example.com>",
      "S: 250 ok",
      "C: rcpt TO:<b@example.com>",
      "S: 250 ok",
      "C: rcpt TO:<c@example.com>",
      "S: 250 ok",
      "C: data",
      "S: 421 4.3.2 bye",
    ],
  },
  {
    name: "a 421 to the lone dot after a refused envelope",
    pipelined: [
      ENVELOPE,
      "S: 250 ok",
      "S: 550 no b",
      "S: 550 no c",
      START,
      "C: .",
      "S: 421 4.3.2 bye",
    ],
    oneByOne: [
      "C: mail FROM:<a@example.com>",
      "S: 250 ok",
      "C: rcpt TO:<b@example.com>",
      "S: 550 no b",
      "C: rcpt TO:<c@example.com>",
      "S: 550 no c",
      "C: rset",
      "S: 250 ok",
    ],
  },
];

for (const { name, pipelined, oneByOne } of refusals) {
  Deno.test(`pipelining: ${name}; the same result as one at a time`, async () => {
    const piped = await connect([GREETING, ...EHLO, ...pipelined]);
    const pipedResult = await outcome(piped.smtp.sendmail(FROM, TO, "x"));
    piped.server.assertDone();
    const plain = await connect([GREETING, ...EHLO, ...oneByOne], { pipelining: false });
    const plainResult = await outcome(plain.smtp.sendmail(FROM, TO, "x"));
    plain.server.assertDone();
    assert.deepEqual(pipedResult, plainResult);
    assert.ok("error" in (pipedResult as object), "each of these is a refusal");
    if (name.startsWith("421")) {
      assert.ok(piped.server.current.closed && plain.server.current.closed);
      assert.match((pipedResult as { message: string }).message, /421 4\.3\.2/);
    }
    piped.smtp.close();
    plain.smtp.close();
  });
}

Deno.test("pipelining: 2000 recipients go in one write", async () => {
  const recipients = Array.from({ length: 2000 }, (_, i) => `u${i}@example.com`);
  const { server, smtp } = await connect([
    GREETING,
    ...EHLO,
    "C: mail FROM:<a@example.com>",
    ...recipients.map((r) => `C: rcpt TO:<${r}>`),
    "C: data",
    "S: 250 ok",
    ...recipients.map((_, i) => i % 2 ? "S: 250 ok" : "S: 550 no"),
    START,
    "C: x",
    "C: .",
    "S: 250 ok",
  ]);
  const refused = await smtp.sendmail(FROM, recipients, "x");
  assert.equal(refused.size, 1000);
  assert.deepEqual(refused.get("u0@example.com"), [550, "no"]);
  assert.equal(server.writes.length, 3); // EHLO, the envelope, the message
  server.assertDone();
  smtp.close();
});

/**
 * A connection whose big write completes only once the client has read a
 * reply, as when the server's replies fill the buffers while we write.
 */
function blockingWrites(server: MockServer): SMTPOptions["dial"] {
  return async (hostname, port, signal) => {
    const conn = await server.dial(hostname, port, signal) as MockConn;
    let readCalled: () => void = () => {};
    const read = conn.read.bind(conn);
    const write = conn.write.bind(conn);
    conn.read = (p) => {
      readCalled();
      return read(p);
    };
    conn.write = (p) => {
      if (p.length < 100) return write(p);
      return new Promise((resolve) =>
        readCalled = () => {
          readCalled = () => {};
          resolve(write(p));
        }
      );
    };
    return conn;
  };
}

Deno.test("pipelining: replies are read while the write is still going: no deadlock", async () => {
  const recipients = Array.from({ length: 10 }, (_, i) => `u${i}@example.com`);
  const server = new MockServer([
    GREETING,
    ...EHLO,
    "C: mail FROM:<a@example.com>",
    ...recipients.map((r) => `C: rcpt TO:<${r}>`),
    "C: data",
    "S: 250 ok",
    ...recipients.map(() => "S: 250 ok"),
    START,
    "C: x",
    "C: .",
    "S: 250 ok",
  ]);
  const smtp = await SMTP.connect("mail.example.com", {
    dial: blockingWrites(server),
    pipelining: true,
    timeout: 2000,
  });
  assert.deepEqual(await smtp.sendmail(FROM, recipients, "x"), new Map());
  server.assertDone();
  smtp.close();
});

Deno.test("pipelining: a server that drops mid-pipeline is SMTPServerDisconnected", async () => {
  const { server, smtp } = await connect([GREETING, ...EHLO, ENVELOPE, "S: 250 ok", EOF]);
  const result = await outcome(smtp.sendmail(FROM, TO, "x"));
  assert.deepEqual(result, {
    error: "SMTPServerDisconnected",
    message: "Connection unexpectedly closed",
    code: undefined,
    recipients: undefined,
  });
  assert.ok(server.current.closed);
  server.assertDone();
});

/**
 * A dial whose writes of 40 bytes or more (the pipelined envelope, not EHLO)
 * get `big`'s promise instead of reaching the mock connection.
 */
function bigWrites(
  server: MockServer,
  big: (conn: MockConn) => Promise<number>,
): SMTPOptions["dial"] {
  return async (hostname, port, signal) => {
    const conn = await server.dial(hostname, port, signal) as MockConn;
    const write = conn.write.bind(conn);
    conn.write = (p) => p.length < 40 ? write(p) : big(conn);
    return conn;
  };
}

Deno.test("pipelining: a write that fails is reported as such, with no unhandled rejection", async () => {
  const server = new MockServer([GREETING, ...EHLO, STALL]);
  const smtp = await SMTP.connect("mail.example.com", {
    pipelining: true,
    dial: bigWrites(
      server,
      () => Promise.reject(new Deno.errors.ConnectionReset("Connection reset by peer")),
    ),
  });
  const result = await outcome(smtp.sendmail(FROM, TO, "x"));
  assert.deepEqual(result, {
    error: "SMTPServerDisconnected",
    message: "Connection lost while sending: Connection reset by peer",
    code: undefined,
    recipients: undefined,
  });
  assert.ok(server.current.closed);
  server.assertDone();
});

Deno.test("pipelining: a server that never reads hits the write timeout", async () => {
  const server = new MockServer([GREETING, ...EHLO, STALL]);
  const smtp = await SMTP.connect("mail.example.com", {
    pipelining: true,
    timeout: 50,
    // A zero window: the big write never completes; closing ends it.
    dial: bigWrites(server, (conn) => new Promise((_, reject) => conn.onClose.push(reject))),
  });
  const started = Date.now();
  const result = await outcome(smtp.sendmail(FROM, TO, "x"));
  assert.equal((result as { error: string }).error, "NetworkError");
  assert.equal(
    (result as { message: string }).message,
    "Timed out after 0.05 s sending to the server",
  );
  assert.ok(Date.now() - started < 2000);
  assert.ok(server.current.closed);
});

Deno.test("pipelining: the error classes are the unpipelined ones", async () => {
  // A guard that the table above compares real classes, not just names.
  const { smtp } = await connect([
    GREETING,
    ...EHLO,
    ENVELOPE,
    "S: 553 no",
    "S: 503",
    "S: 503",
    "S: 503",
    "C: rset",
    "S: 250 ok",
  ]);
  await assert.rejects(smtp.sendmail(FROM, TO, "x"), SMTPSenderRefused);
  const second = await connect([
    GREETING,
    ...EHLO,
    ENVELOPE,
    "S: 250 ok",
    "S: 250 ok",
    "S: 250 ok",
    "S: 554 no",
  ]);
  await assert.rejects(second.smtp.sendmail(FROM, TO, "x"), SMTPDataError);
  const third = await connect([GREETING, ...EHLO, ENVELOPE, "S: 250 ok", EOF]);
  await assert.rejects(third.smtp.sendmail(FROM, TO, "x"), SMTPServerDisconnected);
  smtp.close();
  second.smtp.close();
});
