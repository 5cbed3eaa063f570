/**
 * Unit tests of the SMTP helper (lib/smtp.ts) against the scripted mock
 * server of mock_conn.ts: connecting and the greeting, reading replies,
 * EHLO/HELO and the features, STARTTLS and QUIT, with the exact bytes on
 * the wire and the errors; and the mock's own failures. The mail
 * transaction is in smtp_sendmail_test.ts, AUTH in smtp_login_test.ts, the
 * debug transcript in smtp_transcript_test.ts. No network.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  NetworkError,
  parseServer,
  SMTP,
  SMTPConnectError,
  SMTPException,
  SMTPHeloError,
  SMTPNotSupportedError,
  SMTPResponseException,
  SMTPServerDisconnected,
} from "../lib/smtp.ts";
import {
  EOF,
  MockServer,
  raw,
  refusedDial,
  STALL,
  stallingDial,
  TLS,
  tlsFails,
} from "./mock_conn.ts";
import { connect, DATA_OK, ehlo, GREETING, rejects } from "./smtp_run.ts";

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
  assert.equal(error.message, "Could not connect to localhost:25: timed out after 0.05 s");
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
    "TLS handshake with mail.example.com:25 failed: invalid peer certificate: UnknownIssuer",
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
