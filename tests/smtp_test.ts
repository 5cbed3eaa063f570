/**
 * Unit tests of the SMTP helper (lib/smtp.ts) against the scripted mock
 * server of mock_conn.ts: exact bytes on the wire, replies, errors, and the
 * debug transcript. No network.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { Buffer } from "node:buffer";
import {
  NetworkError,
  parseServer,
  quoteaddr,
  SMTP,
  SMTPAuthenticationError,
  SMTPConnectError,
  SMTPDataError,
  SMTPException,
  SMTPHeloError,
  SMTPNotSupportedError,
  type SMTPOptions,
  SMTPRecipientsRefused,
  SMTPResponseException,
  SMTPSenderRefused,
  SMTPServerDisconnected,
} from "../lib/smtp.ts";
import {
  EOF,
  MockServer,
  raw,
  refusedDial,
  STALL,
  stallingDial,
  type Step,
  TLS,
  tlsFails,
} from "./mock_conn.ts";

const GREETING = "S: 220 mail.example.com ESMTP Postfix";

/** EHLO answered with the given extensions (none: a one-line 250). */
function ehlo(...extensions: string[]): string[] {
  const lines = ["mail.example.com", ...extensions];
  return [
    "C: ehlo [127.0.0.1]",
    ...lines.map((line, i) => `S: 250${i === lines.length - 1 ? " " : "-"}${line}`),
  ];
}

/** Connects to a mock server playing `script` (greeting included). */
async function connect(
  script: (string | Step)[],
  options: SMTPOptions & { ipv6?: boolean } = {},
): Promise<{ server: MockServer; smtp: SMTP }> {
  const server = new MockServer(script, { ipv6: options.ipv6 });
  const smtp = await SMTP.connect("mail.example.com", {
    dial: server.dial,
    startTls: server.startTls,
    ...options,
  });
  return { server, smtp };
}

/** Runs `work`, expecting it to throw an instance of `type`; returns the error. */
async function rejects<T extends Error>(
  work: () => Promise<unknown>,
  type: new (...args: never[]) => T,
): Promise<T> {
  try {
    await work();
  } catch (error) {
    assert.ok(error instanceof type, `expected ${type.name}, got ${error}`);
    return error;
  }
  assert.fail(`expected ${type.name}, nothing was thrown`);
}

const DATA_OK = [
  "C: data",
  "S: 354 End data with <CR><LF>.<CR><LF>",
];

// ---- connecting and the greeting ----

Deno.test("connect dials host and port 25 and reads the 220 greeting", async () => {
  const { server, smtp } = await connect([GREETING]);
  assert.deepEqual(server.dialed, [{ hostname: "mail.example.com", port: 25 }]);
  assert.equal(smtp.host, "mail.example.com");
  assert.equal(smtp.localHostname, "[127.0.0.1]");
  server.assertDone();
  smtp.close();
});

Deno.test("a greeting other than 220 is SMTPConnectError and closes the connection", async () => {
  const server = new MockServer(["S: 554 5.7.1 go away"]);
  const error = await rejects(
    () => SMTP.connect("mail.example.com", { dial: server.dial }),
    SMTPConnectError,
  );
  assert.equal(error.code, 554);
  assert.equal(error.smtpError, "5.7.1 go away");
  assert.match(error.message, /554 5\.7\.1 go away/);
  assert.ok(server.current.closed);
  assert.equal(server.written, "");
  server.assertDone();
});

Deno.test("a refused connection is a NetworkError naming the server", async () => {
  const error = await rejects(
    () => SMTP.connect("localhost:2525", { dial: refusedDial }),
    NetworkError,
  );
  assert.equal(
    error.message,
    "Could not connect to localhost:2525: Connection refused (os error 111)",
  );
});

Deno.test("a dial that never answers times out", async () => {
  const started = Date.now();
  const error = await rejects(
    () => SMTP.connect("localhost", { dial: stallingDial, timeout: 50 }),
    NetworkError,
  );
  assert.equal(error.message, "Could not connect to localhost: timed out after 0.05 s");
  assert.ok(Date.now() - started < 1000);
});

Deno.test("parseServer reads host, host:port, [v6]:port and bare IPv6", () => {
  const cases: [string, { host: string; port: number }][] = [
    ["mail.example.com", { host: "mail.example.com", port: 25 }],
    ["localhost:2525", { host: "localhost", port: 2525 }],
    ["[::1]:2525", { host: "::1", port: 2525 }],
    ["[::1]", { host: "::1", port: 25 }],
    ["::1", { host: "::1", port: 25 }],
    ["127.0.0.1:65535", { host: "127.0.0.1", port: 65535 }],
  ];
  for (const [server, expected] of cases) assert.deepEqual(parseServer(server), expected, server);
  for (const bad of ["host:", "host:0", "host:65536", "host:25x", "host:-1", "[::1]:x", ":25"]) {
    assert.throws(() => parseServer(bad), NetworkError, bad);
  }
});

Deno.test("connect dials [::1]:2525 as ::1 port 2525 and says EHLO [IPv6:::1]", async () => {
  const server = new MockServer([GREETING, "C: ehlo [IPv6:::1]", "S: 250 ok"], { ipv6: true });
  const smtp = await SMTP.connect("[::1]:2525", { dial: server.dial });
  assert.deepEqual(server.dialed, [{ hostname: "::1", port: 2525 }]);
  assert.deepEqual(await smtp.ehlo(), [250, "ok"]);
  server.assertDone();
  smtp.close();
});

// ---- replies ----

Deno.test("a multi-line reply is joined with LF, codes and separators removed", async () => {
  const { server, smtp } = await connect([
    GREETING,
    "C: noop",
    "S: 250-first line",
    "S: 250-second  line ",
    "S: 250 last",
  ]);
  assert.deepEqual(await smtp.noop(), [250, "first line\nsecond  line\nlast"]);
  server.assertDone();
  smtp.close();
});

Deno.test("replies arriving one byte per read are read the same", async () => {
  const { server, smtp } = await connect([
    raw("220-mail.example.com\r\n220 ready\r\n", 1),
    "C: noop",
    raw("250 2.0.0 Ok\r\n", 1),
  ]);
  assert.deepEqual(await smtp.noop(), [250, "2.0.0 Ok"]);
  server.assertDone();
  smtp.close();
});

Deno.test("a reply line of 8192 bytes is read, 8193 is an error that closes", async () => {
  const line = (size: number) => `250 ${"x".repeat(size - 6)}\r\n`;
  const ok = await connect([GREETING, "C: noop", raw(line(8192))]);
  const [code, message] = await ok.smtp.noop();
  assert.equal(code, 250);
  assert.equal(message.length, 8192 - 6);
  ok.server.assertDone();
  ok.smtp.close();

  const long = await connect([GREETING, "C: noop", raw(line(8193))]);
  const error = await rejects(() => long.smtp.noop(), SMTPResponseException);
  assert.equal(error.code, 500);
  assert.match(error.message, /Line too long/);
  assert.ok(long.server.current.closed);
  long.server.assertDone();
});

Deno.test("end of input in the middle of a reply is SMTPServerDisconnected", async () => {
  const { server, smtp } = await connect([GREETING, "C: noop", "S: 250-first", EOF]);
  const error = await rejects(() => smtp.noop(), SMTPServerDisconnected);
  assert.match(error.message, /Connection unexpectedly closed/);
  assert.ok(server.current.closed);
  server.assertDone();
});

Deno.test("a reply without a numeric code is an error", async () => {
  const { server, smtp } = await connect([GREETING, "C: noop", "S: abc not a reply"]);
  const error = await rejects(() => smtp.noop(), SMTPResponseException);
  assert.equal(error.code, -1);
  assert.ok(server.current.closed);
  server.assertDone();
});

Deno.test("a silent server times out promptly with a NetworkError", async () => {
  const { server, smtp } = await connect([GREETING, "C: noop", STALL], { timeout: 50 });
  const started = Date.now();
  const error = await rejects(() => smtp.noop(), NetworkError);
  assert.match(error.message, /^Timed out after 0\.05 s waiting for the server's reply$/);
  assert.ok(Date.now() - started < 1000, "the timeout must end the wait promptly");
  assert.ok(server.current.closed);
  server.assertDone();
});

Deno.test("a silent greeting times out too", async () => {
  const server = new MockServer([STALL]);
  const error = await rejects(
    () => SMTP.connect("mail.example.com", { dial: server.dial, timeout: 50 }),
    NetworkError,
  );
  assert.match(error.message, /Timed out/);
  assert.ok(server.current.closed);
});

// ---- EHLO, HELO and features ----

Deno.test("EHLO features: keywords lower-cased, values kept, old-style AUTH= added", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo(
      "PIPELINING",
      "SIZE 10240000",
      "AUTH=LOGIN",
      "auth PLAIN CRAM-MD5",
      "8bitmime",
      "STARTTLS",
    ),
  ]);
  assert.deepEqual(await smtp.ehlo(), [
    250,
    "mail.example.com\nPIPELINING\nSIZE 10240000\nAUTH=LOGIN\nauth PLAIN CRAM-MD5\n8bitmime\nSTARTTLS",
  ]);
  assert.deepEqual(
    Object.fromEntries(smtp.esmtpFeatures),
    {
      pipelining: "",
      size: "10240000",
      auth: " LOGIN PLAIN CRAM-MD5",
      "8bitmime": "",
      starttls: "",
    },
  );
  assert.equal(smtp.doesEsmtp, true);
  assert.ok(smtp.hasExtn("SIZE") && smtp.hasExtn("size") && smtp.hasExtn("StartTLS"));
  assert.equal(smtp.hasExtn("dsn"), false);
  server.assertDone();
  smtp.close();
});

Deno.test("a refused EHLO leaves no features; a new EHLO replaces the old ones", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("SIZE 100"),
    "C: ehlo [127.0.0.1]",
    "S: 502 5.5.2 not today",
  ]);
  await smtp.ehlo();
  assert.ok(smtp.hasExtn("size"));
  assert.deepEqual(await smtp.ehlo(), [502, "5.5.2 not today"]);
  assert.equal(smtp.hasExtn("size"), false);
  server.assertDone();
  smtp.close();
});

Deno.test("sendmail falls back to HELO and then sends no size=", async () => {
  const { server, smtp } = await connect([
    GREETING,
    "C: ehlo [127.0.0.1]",
    "S: 500 5.5.1 unknown command",
    "C: helo [127.0.0.1]",
    "S: 250 mail.example.com",
    "C: mail FROM:<a@example.com>",
    "S: 250 ok",
    "C: rcpt TO:<b@example.com>",
    "S: 250 ok",
    ...DATA_OK,
    "C: hi",
    "C: .",
    "S: 250 queued",
  ]);
  assert.deepEqual(await smtp.sendmail("a@example.com", "b@example.com", "hi"), new Map());
  assert.equal(smtp.heloResp, "mail.example.com");
  assert.equal(smtp.doesEsmtp, false);
  server.assertDone();
  smtp.close();
});

Deno.test("EHLO and HELO both refused is SMTPHeloError", async () => {
  const { server, smtp } = await connect([
    GREETING,
    "C: ehlo [127.0.0.1]",
    "S: 500 no",
    "C: helo [127.0.0.1]",
    "S: 554 5.7.1 no either",
  ]);
  const error = await rejects(
    () => smtp.sendmail("a@example.com", ["b@example.com"], "x"),
    SMTPHeloError,
  );
  assert.equal(error.code, 554);
  assert.equal(error.smtpError, "5.7.1 no either");
  server.assertDone();
  smtp.close();
});

Deno.test("localHostname replaces the address literal in EHLO", async () => {
  const { server, smtp } = await connect([GREETING, "C: ehlo client.example.com", "S: 250 hi"], {
    localHostname: "client.example.com",
  });
  await smtp.ehlo();
  server.assertDone();
  smtp.close();
});

// ---- sendmail ----

Deno.test("sendmail: size= is the CRLF length before dot-stuffing; the payload is one write", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("SIZE 10240000"),
    "C: mail FROM:<a@example.com> size=22",
    "S: 250 2.1.0 Ok",
    "C: rcpt TO:<b@example.com>",
    "S: 250 2.1.5 Ok",
    ...DATA_OK,
    "C: abc",
    "C: ..jkl",
    "C: foo",
    "C: ...blue",
    "C: .",
    "S: 250 2.0.0 Ok: queued",
  ]);
  assert.deepEqual(
    await smtp.sendmail("a@example.com", ["b@example.com"], "abc\n.jkl\rfoo\r\n..blue"),
    new Map(),
  );
  const payload = new TextEncoder().encode("abc\r\n..jkl\r\nfoo\r\n...blue\r\n.\r\n");
  assert.equal(server.writes.filter((w) => w.length === payload.length).length, 1);
  assert.deepEqual(server.writes.at(-1), payload);
  server.assertDone();
  smtp.close();
});

Deno.test("sendmail: a message already ending in CRLF gets no second one", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("SIZE 1000"),
    "C: mail FROM:<a@example.com> size=7",
    "S: 250 ok",
    "C: rcpt TO:<b@example.com>",
    "S: 250 ok",
    ...DATA_OK,
    "C: hello",
    "C: .",
    "S: 250 ok",
  ]);
  await smtp.sendmail("a@example.com", ["b@example.com"], "hello\n");
  server.assertDone();
  smtp.close();
});

Deno.test("sendmail: a refused sender is SMTPSenderRefused after RSET", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo(),
    "C: mail FROM:<bad@example.com>",
    "S: 553 5.1.8 sender domain does not exist",
    "C: rset",
    "S: 250 2.0.0 Ok",
  ]);
  const error = await rejects(
    () => smtp.sendmail("bad@example.com", ["b@example.com"], "x"),
    SMTPSenderRefused,
  );
  assert.equal(error.code, 553);
  assert.equal(error.sender, "bad@example.com");
  assert.equal(
    error.message,
    "Sender bad@example.com refused: 553 5.1.8 sender domain does not exist",
  );
  assert.equal(
    server.written,
    "ehlo [127.0.0.1]\r\nmail FROM:<bad@example.com>\r\nrset\r\n",
  );
  server.assertDone();
  smtp.close();
});

Deno.test("sendmail: some recipients refused are returned; the message is still sent", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo(),
    "C: mail FROM:<a@example.com>",
    "S: 250 ok",
    "C: rcpt TO:<b@example.com>",
    "S: 550 5.1.1 no such user",
    "C: rcpt TO:<c@example.com>",
    "S: 251 will forward",
    ...DATA_OK,
    "C: x",
    "C: .",
    "S: 250 queued",
  ]);
  const refused = await smtp.sendmail("a@example.com", ["b@example.com", "c@example.com"], "x");
  assert.deepEqual(refused, new Map([["b@example.com", [550, "5.1.1 no such user"]]]));
  server.assertDone();
  smtp.close();
});

Deno.test("sendmail: all recipients refused is SMTPRecipientsRefused after RSET", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo(),
    "C: mail FROM:<a@example.com>",
    "S: 250 ok",
    "C: rcpt TO:<b@example.com>",
    "S: 550 5.1.1 no such user",
    "C: rcpt TO:<c@example.com>",
    "S: 554 5.7.1 relay denied",
    "C: rset",
    "S: 250 ok",
  ]);
  const error = await rejects(
    () => smtp.sendmail("a@example.com", ["b@example.com", "c@example.com"], "x"),
    SMTPRecipientsRefused,
  );
  assert.deepEqual(
    error.recipients,
    new Map([["b@example.com", [550, "5.1.1 no such user"]], ["c@example.com", [
      554,
      "5.7.1 relay denied",
    ]]]),
  );
  assert.equal(
    error.message,
    "Recipients refused: b@example.com (550 5.1.1 no such user), c@example.com (554 5.7.1 relay denied)",
  );
  server.assertDone();
  smtp.close();
});

/** Transactions that end with a 421 (the server closing) at each step. */
const cases421: { name: string; script: string[]; error: new (...args: never[]) => Error }[] = [
  {
    name: "at MAIL",
    script: ["C: mail FROM:<a@example.com>", "S: 421 4.3.2 shutting down"],
    error: SMTPSenderRefused,
  },
  {
    name: "at RCPT",
    script: [
      "C: mail FROM:<a@example.com>",
      "S: 250 ok",
      "C: rcpt TO:<b@example.com>",
      "S: 421 4.3.2 shutting down",
    ],
    error: SMTPRecipientsRefused,
  },
  {
    name: "at DATA",
    script: [
      "C: mail FROM:<a@example.com>",
      "S: 250 ok",
      "C: rcpt TO:<b@example.com>",
      "S: 250 ok",
      "C: rcpt TO:<c@example.com>",
      "S: 250 ok",
      "C: data",
      "S: 421 4.3.2 shutting down",
    ],
    error: SMTPDataError,
  },
  {
    name: "after the payload",
    script: [
      "C: mail FROM:<a@example.com>",
      "S: 250 ok",
      "C: rcpt TO:<b@example.com>",
      "S: 250 ok",
      "C: rcpt TO:<c@example.com>",
      "S: 250 ok",
      ...DATA_OK,
      "C: x",
      "C: .",
      "S: 421 4.3.2 shutting down",
    ],
    error: SMTPDataError,
  },
];

for (const { name, script, error } of cases421) {
  Deno.test(`sendmail: 421 ${name} closes the connection and writes nothing more`, async () => {
    const { server, smtp } = await connect([GREETING, ...ehlo(), ...script]);
    // A second recipient shows that RCPT stops at the 421.
    const thrown = await rejects(
      () => smtp.sendmail("a@example.com", ["b@example.com", "c@example.com"], "x"),
      error,
    );
    if (thrown instanceof SMTPResponseException) assert.equal(thrown.code, 421);
    assert.ok(server.current.closed);
    server.assertDone(); // no RSET, no QUIT: the script ends at the 421
  });
}

Deno.test("sendmail: DATA refused is SMTPDataError, and nothing is sent after it", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo(),
    "C: mail FROM:<a@example.com>",
    "S: 250 ok",
    "C: rcpt TO:<b@example.com>",
    "S: 250 ok",
    "C: data",
    "S: 554 5.5.1 no valid recipients",
  ]);
  const error = await rejects(
    () => smtp.sendmail("a@example.com", ["b@example.com"], "x"),
    SMTPDataError,
  );
  assert.equal(error.code, 554);
  assert.equal(error.message, "Message data refused: 554 5.5.1 no valid recipients");
  server.assertDone();
  smtp.close();
});

Deno.test("sendmail: 552 after the payload is SMTPDataError after RSET", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo(),
    "C: mail FROM:<a@example.com>",
    "S: 250 ok",
    "C: rcpt TO:<b@example.com>",
    "S: 250 ok",
    ...DATA_OK,
    "C: x",
    "C: .",
    "S: 552 5.3.4 message too big",
    "C: rset",
    "S: 250 ok",
  ]);
  const error = await rejects(
    () => smtp.sendmail("a@example.com", ["b@example.com"], "x"),
    SMTPDataError,
  );
  assert.equal(error.code, 552);
  assert.equal(error.smtpError, "5.3.4 message too big");
  server.assertDone();
  smtp.close();
});

Deno.test("sendmail: a display name is reduced to the bare address in the envelope", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo(),
    "C: mail FROM:<sender@example.com>",
    "S: 250 ok",
    "C: rcpt TO:<brandon@example.com>",
    "S: 250 ok",
    ...DATA_OK,
    "C: x",
    "C: .",
    "S: 250 ok",
  ]);
  await smtp.sendmail("Sender <sender@example.com>", ["Brandon <brandon@example.com>"], "x");
  server.assertDone();
  smtp.close();
});

Deno.test("quoteaddr: bare address in brackets, empty sender, refused characters", () => {
  assert.equal(quoteaddr("Brandon <brandon@example.com>"), "<brandon@example.com>");
  assert.equal(quoteaddr(" brandon@example.com "), "<brandon@example.com>");
  assert.equal(quoteaddr("<brandon@example.com>"), "<brandon@example.com>");
  assert.equal(quoteaddr(""), "<>");
  assert.equal(quoteaddr("<>"), "<>");
  for (
    const bad of [
      "a<b@example.com",
      "a>b@example.com",
      "a@b\r\nrset",
      "a@b\n",
    ]
  ) {
    assert.throws(() => quoteaddr(bad), SMTPException, JSON.stringify(bad));
  }
});

/** Addresses that must be refused before anything is written. */
const badAddresses: { name: string; from: string; to: string[] }[] = [
  {
    name: "CRLF in the sender",
    from: "a@example.com\r\nrcpt TO:<x@evil.example>",
    to: ["b@example.com"],
  },
  {
    name: "LF in a recipient",
    from: "a@example.com",
    to: ["b@example.com", "c@example.com\nrset"],
  },
  { name: "CR in a recipient", from: "a@example.com", to: ["c@example.com\rdata"] },
  { name: "'<' inside the bare address", from: "a<b@example.com", to: ["b@example.com"] },
  { name: "'>' inside a recipient", from: "a@example.com", to: ["b>c@example.com"] },
];

for (const { name, from, to } of badAddresses) {
  Deno.test(`sendmail: ${name} is refused and nothing is written`, async () => {
    const { server, smtp } = await connect([GREETING, ...ehlo()]);
    await smtp.ehlo();
    const before = server.writes.length;
    await rejects(() => smtp.sendmail(from, to, "x"), SMTPException);
    assert.equal(server.writes.length, before, "no command may be written");
    server.assertDone();
    smtp.close();
  });
}

Deno.test("a CR or LF in the EHLO name is refused and nothing is written", async () => {
  const { server, smtp } = await connect([GREETING], { localHostname: "x\r\nmail FROM:<a@b>" });
  await rejects(() => smtp.ehlo(), SMTPException);
  await rejects(() => smtp.helo(), SMTPException);
  assert.equal(server.written, "");
  server.assertDone();
  smtp.close();
});

Deno.test("a non-ASCII address without SMTPUTF8 is refused before MAIL", async () => {
  const { server, smtp } = await connect([GREETING, ...ehlo("8BITMIME")]);
  const error = await rejects(
    () => smtp.sendmail("josé@example.com", ["b@example.com"], "x"),
    SMTPNotSupportedError,
  );
  assert.match(error.message, /SMTPUTF8/);
  assert.equal(server.written, "ehlo [127.0.0.1]\r\n");
  server.assertDone();
  smtp.close();
});

Deno.test("a non-ASCII address with SMTPUTF8 goes out as UTF-8 with the SMTPUTF8 option", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("SMTPUTF8"),
    "C: mail FROM:<josé@example.com> SMTPUTF8",
    "S: 250 ok",
    "C: rcpt TO:<jürgen@example.com>",
    "S: 250 ok",
    ...DATA_OK,
    "C: x",
    "C: .",
    "S: 250 ok",
  ]);
  await smtp.sendmail("josé@example.com", ["jürgen@example.com"], "x");
  server.assertDone();
  smtp.close();
});

Deno.test("a non-ASCII body needs 8BITMIME: refused without, BODY=8BITMIME with", async () => {
  const without = await connect([GREETING, ...ehlo()]);
  const error = await rejects(
    () => without.smtp.sendmail("a@example.com", ["b@example.com"], "Grüße\n"),
    SMTPNotSupportedError,
  );
  assert.match(error.message, /8BITMIME/);
  assert.equal(without.server.written, "ehlo [127.0.0.1]\r\n");
  without.server.assertDone();
  without.smtp.close();

  const withIt = await connect([
    GREETING,
    ...ehlo("8BITMIME", "SIZE 1000"),
    "C: mail FROM:<a@example.com> size=9 BODY=8BITMIME",
    "S: 250 ok",
    "C: rcpt TO:<b@example.com>",
    "S: 250 ok",
    ...DATA_OK,
    "C: Grüße",
    "C: .",
    "S: 250 ok",
  ]);
  await withIt.smtp.sendmail("a@example.com", ["b@example.com"], "Grüße\n");
  withIt.server.assertDone();
  withIt.smtp.close();
});

// ---- AUTH ----

const USER = "brandon";
const PASSWORD = "abc123";

/** base64 of `brandon <hex HMAC-MD5(abc123, challenge)>`, computed here from scratch. */
function cramAnswer(challenge: string): string {
  const digest = createHmac("md5", PASSWORD).update(challenge).digest("hex");
  return Buffer.from(`${USER} ${digest}`).toString("base64");
}

const b64 = (text: string) => Buffer.from(text).toString("base64");
const CHALLENGE = "<1896.697170952@postoffice.example.net>";

const authWire: { mechanism: string; script: string[] }[] = [
  { mechanism: "PLAIN", script: ["C: AUTH PLAIN AGJyYW5kb24AYWJjMTIz", "S: 235 2.7.0 ok"] },
  {
    mechanism: "LOGIN",
    script: ["C: AUTH LOGIN YnJhbmRvbg==", "S: 334 UGFzc3dvcmQ6", "C: YWJjMTIz", "S: 235 2.7.0 ok"],
  },
  {
    mechanism: "CRAM-MD5",
    script: [
      "C: AUTH CRAM-MD5",
      `S: 334 ${b64(CHALLENGE)}`,
      `C: ${cramAnswer(CHALLENGE)}`,
      "S: 235 2.7.0 ok",
    ],
  },
];

for (const { mechanism, script } of authWire) {
  Deno.test(`login with AUTH ${mechanism}: exact wire form`, async () => {
    const { server, smtp } = await connect([GREETING, ...ehlo(`AUTH ${mechanism}`), ...script]);
    assert.deepEqual(await smtp.login(USER, PASSWORD), [235, "2.7.0 ok"]);
    server.assertDone();
    smtp.close();
  });
}

Deno.test("the CRAM-MD5 answer matches RFC 2195's example", () => {
  // RFC 2195: user tim, password tanstaaftanstaaf.
  const challenge = "<1896.697170952@postoffice.reston.mci.net>";
  const digest = createHmac("md5", "tanstaaftanstaaf").update(challenge).digest("hex");
  assert.equal(digest, "b913a602c7eda7a495b4e6e7334d3890");
});

Deno.test("login tries CRAM-MD5, then PLAIN, then LOGIN, moving on after 535", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("AUTH LOGIN PLAIN CRAM-MD5"),
    "C: AUTH CRAM-MD5",
    `S: 334 ${b64(CHALLENGE)}`,
    `C: ${cramAnswer(CHALLENGE)}`,
    "S: 535 5.7.8 bad",
    "C: AUTH PLAIN AGJyYW5kb24AYWJjMTIz",
    "S: 535 5.7.8 bad",
    "C: AUTH LOGIN YnJhbmRvbg==",
    "S: 334 UGFzc3dvcmQ6",
    "C: YWJjMTIz",
    "S: 235 2.7.0 ok",
  ]);
  assert.deepEqual(await smtp.login(USER, PASSWORD), [235, "2.7.0 ok"]);
  server.assertDone();
  smtp.close();
});

Deno.test("login reports the last failure when every mechanism fails", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("AUTH PLAIN LOGIN"),
    "C: AUTH PLAIN AGJyYW5kb24AYWJjMTIz",
    "S: 535 5.7.8 plain refused",
    "C: AUTH LOGIN YnJhbmRvbg==",
    "S: 334 UGFzc3dvcmQ6",
    "C: YWJjMTIz",
    "S: 535 5.7.8 login refused",
  ]);
  const error = await rejects(() => smtp.login(USER, PASSWORD), SMTPAuthenticationError);
  assert.equal(error.code, 535);
  assert.equal(error.smtpError, "5.7.8 login refused");
  server.assertDone();
  smtp.close();
});

Deno.test("503 (already authenticated) ends the AUTH loop", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("AUTH PLAIN LOGIN"),
    "C: AUTH PLAIN AGJyYW5kb24AYWJjMTIz",
    "S: 503 5.5.1 already authenticated",
  ]);
  assert.deepEqual(await smtp.login(USER, PASSWORD), [503, "5.5.1 already authenticated"]);
  server.assertDone();
  smtp.close();
});

Deno.test("login without AUTH advertised, or with no usable mechanism", async () => {
  const none = await connect([GREETING, ...ehlo("SIZE 1000")]);
  const notSupported = await rejects(() => none.smtp.login(USER, PASSWORD), SMTPNotSupportedError);
  assert.equal(notSupported.message, "SMTP AUTH extension not supported by server.");
  none.server.assertDone();
  none.smtp.close();

  const unusable = await connect([GREETING, ...ehlo("AUTH GSSAPI NTLM XOAUTH2")]);
  const noMethod = await rejects(() => unusable.smtp.login(USER, PASSWORD), SMTPException);
  assert.equal(noMethod.message, "No suitable authentication method found.");
  assert.equal(unusable.server.written, "ehlo [127.0.0.1]\r\n");
  unusable.server.assertDone();
  unusable.smtp.close();
});

Deno.test("more than five 334 challenges is an error, not a loop", async () => {
  const rounds: string[] = [];
  for (let i = 1; i <= 6; i++) {
    rounds.push(`S: 334 ${b64(`<${i}@x>`)}`, `C: ${cramAnswer(`<${i}@x>`)}`);
  }
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("AUTH CRAM-MD5"),
    "C: AUTH CRAM-MD5",
    ...rounds,
    `S: 334 ${b64("<7@x>")}`,
  ]);
  const error = await rejects(() => smtp.login(USER, PASSWORD), SMTPException);
  assert.match(error.message, /infinite loop/);
  assert.ok(server.current.closed);
  server.assertDone();
});

Deno.test("a malformed base64 challenge is an error", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("AUTH CRAM-MD5"),
    "C: AUTH CRAM-MD5",
    "S: 334 not*base64!",
  ]);
  const error = await rejects(() => smtp.login(USER, PASSWORD), SMTPException);
  assert.match(error.message, /Malformed AUTH challenge/);
  assert.ok(server.current.closed);
  server.assertDone();
});

// ---- STARTTLS ----

Deno.test("starttls upgrades with the host name and CAs, and forgets EHLO", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("STARTTLS", "SIZE 1000"),
    "C: STARTTLS",
    "S: 220 2.0.0 Ready to start TLS",
    TLS,
    "C: ehlo [127.0.0.1]",
    "S: 250-mail.example.com",
    "S: 250 AUTH PLAIN",
    "C: quit",
    "S: 221 bye",
  ], { caCerts: ["-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"] });
  await smtp.ehlo();
  assert.deepEqual(await smtp.starttls(), [220, "2.0.0 Ready to start TLS"]);
  assert.deepEqual(server.tlsUpgrades, [{
    hostname: "mail.example.com",
    caCerts: ["-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"],
  }]);
  assert.equal(smtp.esmtpFeatures.size, 0);
  assert.equal(smtp.ehloResp, null);
  assert.equal(smtp.doesEsmtp, false);
  assert.ok(server.conns[0].upgraded);
  await smtp.ehlo();
  assert.ok(smtp.hasExtn("auth") && !smtp.hasExtn("size"));
  await smtp.quit();
  assert.ok(server.conns[1].closed);
  server.assertDone();
});

Deno.test("starttls without the extension is SMTPNotSupportedError", async () => {
  const { server, smtp } = await connect([GREETING, ...ehlo("SIZE 1000")]);
  await rejects(() => smtp.starttls(), SMTPNotSupportedError);
  assert.equal(server.tlsUpgrades.length, 0);
  server.assertDone();
  smtp.close();
});

Deno.test("STARTTLS refused with 454 is an error carrying the code", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("STARTTLS"),
    "C: STARTTLS",
    "S: 454 4.7.0 TLS not available",
  ]);
  const error = await rejects(() => smtp.starttls(), SMTPResponseException);
  assert.equal(error.code, 454);
  assert.equal(error.message, "STARTTLS refused: 454 4.7.0 TLS not available");
  assert.equal(server.tlsUpgrades.length, 0);
  server.assertDone();
  smtp.close();
});

Deno.test("bytes injected after the 220 to STARTTLS are refused before any TLS", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("STARTTLS"),
    "C: STARTTLS",
    "S: 220 2.0.0 Ready",
    "S: 250-injected",
  ]);
  const error = await rejects(() => smtp.starttls(), SMTPException);
  assert.match(error.message, /after its 220 reply to STARTTLS/);
  assert.equal(server.tlsUpgrades.length, 0, "the TLS upgrader must not be called");
  assert.ok(server.current.closed);
  server.assertDone();
});

Deno.test("a failing TLS handshake is a NetworkError with the reason", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("STARTTLS"),
    "C: STARTTLS",
    "S: 220 go ahead",
    tlsFails("invalid peer certificate: UnknownIssuer"),
  ]);
  const error = await rejects(() => smtp.starttls(), NetworkError);
  assert.equal(
    error.message,
    "TLS handshake with mail.example.com failed: invalid peer certificate: UnknownIssuer",
  );
  server.assertDone();
  smtp.close();
});

// ---- QUIT ----

Deno.test("quit says quit, forgets EHLO and closes", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("SIZE 5"),
    "C: quit",
    "S: 221 2.0.0 Bye",
  ]);
  await smtp.ehlo();
  assert.deepEqual(await smtp.quit(), [221, "2.0.0 Bye"]);
  assert.equal(smtp.esmtpFeatures.size, 0);
  assert.equal(smtp.ehloResp, null);
  assert.ok(server.current.closed);
  assert.deepEqual(server.events.slice(-2), [`write "quit\\r\\n"`, "close"]);
  server.assertDone();
});

// ---- the debug transcript ----

Deno.test("the transcript follows smtplib's format byte for byte", async () => {
  const lines: string[] = [];
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("PIPELINING", "SIZE 10240000"),
    "C: mail FROM:<sender@example.com> size=21",
    "S: 250 2.1.0 Ok",
    "C: rcpt TO:<brandon@example.com>",
    "S: 250 2.1.5 it's ok",
    "C: rcpt TO:<o'brien@example.com>",
    `S: 250 2.1.5 "quoted" and 'single'`,
    ...DATA_OK,
    "C: Subject: hi",
    "C: ",
    "C: ..\tx\\",
    "C: .",
    raw("250 2.0.0 Ok: queued as 98034261é\x01\r\n"),
    "C: quit",
    "S: 221 2.0.0 Bye",
  ], { debugOutput: (line) => lines.push(line) });
  smtp.setDebugLevel(1);
  await smtp.sendmail(
    "sender@example.com",
    ["brandon@example.com", "o'brien@example.com"],
    "Subject: hi\n\n.\tx\\\n",
  );
  await smtp.quit();
  assert.deepEqual(lines, [
    String.raw`send: 'ehlo [127.0.0.1]\r\n'`,
    String.raw`reply: b'250-mail.example.com\r\n'`,
    String.raw`reply: b'250-PIPELINING\r\n'`,
    String.raw`reply: b'250 SIZE 10240000\r\n'`,
    String.raw`reply: retcode (250); Msg: b'mail.example.com\nPIPELINING\nSIZE 10240000'`,
    String.raw`send: 'mail FROM:<sender@example.com> size=21\r\n'`,
    String.raw`reply: b'250 2.1.0 Ok\r\n'`,
    String.raw`reply: retcode (250); Msg: b'2.1.0 Ok'`,
    String.raw`send: 'rcpt TO:<brandon@example.com>\r\n'`,
    String.raw`reply: b"250 2.1.5 it's ok\r\n"`,
    String.raw`reply: retcode (250); Msg: b"2.1.5 it's ok"`,
    String.raw`send: "rcpt TO:<o'brien@example.com>\r\n"`,
    String.raw`reply: b'250 2.1.5 "quoted" and \'single\'\r\n'`,
    String.raw`reply: retcode (250); Msg: b'2.1.5 "quoted" and \'single\''`,
    String.raw`send: 'data\r\n'`,
    String.raw`reply: b'354 End data with <CR><LF>.<CR><LF>\r\n'`,
    String.raw`reply: retcode (354); Msg: b'End data with <CR><LF>.<CR><LF>'`,
    String.raw`data: (354, b'End data with <CR><LF>.<CR><LF>')`,
    String.raw`send: b'Subject: hi\r\n\r\n..\tx\\\r\n.\r\n'`,
    String.raw`reply: b'250 2.0.0 Ok: queued as 98034261\xc3\xa9\x01\r\n'`,
    String.raw`reply: retcode (250); Msg: b'2.0.0 Ok: queued as 98034261\xc3\xa9\x01'`,
    String.raw`data: (250, b'2.0.0 Ok: queued as 98034261\xc3\xa9\x01')`,
    String.raw`send: 'quit\r\n'`,
    String.raw`reply: b'221 2.0.0 Bye\r\n'`,
    String.raw`reply: retcode (221); Msg: b'2.0.0 Bye'`,
  ]);
  server.assertDone();
});

Deno.test("debugLevel from the start shows the connection and greeting", async () => {
  const lines: string[] = [];
  const { server, smtp } = await connect([GREETING], {
    debugLevel: 1,
    debugOutput: (l) => lines.push(l),
  });
  assert.deepEqual(lines, [
    "connect: ('mail.example.com', 25)",
    String.raw`reply: b'220 mail.example.com ESMTP Postfix\r\n'`,
    "reply: retcode (220); Msg: b'mail.example.com ESMTP Postfix'",
    "connect: b'mail.example.com ESMTP Postfix'",
  ]);
  server.assertDone();
  smtp.close();
});

Deno.test("debug level 2 puts a time of day before each line", async () => {
  const lines: string[] = [];
  const { server, smtp } = await connect([GREETING, "C: noop", "S: 250 ok"], {
    debugOutput: (l) => lines.push(l),
  });
  smtp.setDebugLevel(2);
  await smtp.noop();
  assert.equal(lines.length, 3);
  assert.match(lines[0], /^\d\d:\d\d:\d\d\.\d{6} send: 'noop\\r\\n'$/);
  server.assertDone();
  smtp.close();
});

Deno.test("the transcript masks AUTH arguments and challenge answers", async () => {
  const lines: string[] = [];
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("AUTH PLAIN LOGIN"),
    "C: AUTH PLAIN AGJyYW5kb24AYWJjMTIz",
    "S: 535 no",
    "C: AUTH LOGIN YnJhbmRvbg==",
    "S: 334 UGFzc3dvcmQ6",
    "C: YWJjMTIz",
    "S: 235 ok",
  ], { debugOutput: (l) => lines.push(l) });
  smtp.setDebugLevel(1);
  await smtp.login(USER, PASSWORD);
  assert.deepEqual(lines.filter((l) => l.startsWith("send:")), [
    String.raw`send: 'ehlo [127.0.0.1]\r\n'`,
    String.raw`send: 'AUTH PLAIN ********\r\n'`,
    String.raw`send: 'AUTH LOGIN ********\r\n'`,
    String.raw`send: '********\r\n'`,
  ]);
  assert.ok(!lines.some((l) => l.includes("YWJjMTIz") || l.includes("AGJyYW5kb24AYWJjMTIz")));
  server.assertDone();
  smtp.close();
});

// ---- the mock itself: a wrong write must fail loudly, not hang ----

Deno.test("the mock reports an unexpected write with an exact diff", async () => {
  const { server, smtp } = await connect([GREETING, "C: ehlo [127.0.0.1]", "S: 250 ok"], {
    localHostname: "other",
  });
  await rejects(() => smtp.ehlo(), SMTPServerDisconnected);
  assert.throws(() => server.assertDone(), {
    message:
      'mock server:\n  the client wrote something else\n    expected: "ehlo [127.0.0.1]\\r\\n"\n' +
      '    got:      "ehlo other\\r\\n"\n  the script was not finished: next was the client to send ' +
      '"ehlo [127.0.0.1]\\r\\n"',
  });
});

Deno.test("the mock fails a read while it expects the client to write", async () => {
  const server = new MockServer([GREETING, "C: noop"]);
  const conn = await server.dial("h", 25, new AbortController().signal);
  const buffer = new Uint8Array(100);
  assert.equal(await conn.read(buffer), GREETING.length - 3 + 2);
  await assert.rejects(
    conn.read(buffer),
    /the client read, expected the client to send "noop\\r\\n"/,
  );
  assert.equal(server.failures.length, 1);
});
