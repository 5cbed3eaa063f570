/**
 * Unit tests of the helper's TLS choices: implicit TLS from the first byte
 * (`tls: true`, smtplib's `SMTP_SSL`), "TLS or nothing" (`requireTls: true`,
 * RFC 3207 section 4) and a TLS record where the greeting should be, against
 * the scripted mock server. No network.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  IMPLICIT_TLS_PORT,
  NetworkError,
  SMTP,
  SMTPNotSupportedError,
  SMTPResponseException,
  SMTPServerDisconnected,
} from "../lib/smtp.ts";
import { MockServer, raw, STALL, TLS, tlsFails } from "./mock_conn.ts";
import { connect, ehlo, GREETING, rejects } from "./smtp_run.ts";

const PASSWORD_B64 = "AGJyYW5kb24AYWJjMTIz"; // \0brandon\0abc123

// ---- implicit TLS ----

Deno.test("tls: true dials port 465 over TLS with the host name and CAs", async () => {
  const lines: string[] = [];
  const { server, smtp } = await connect(
    [GREETING, ...ehlo("AUTH PLAIN"), "C: quit", "S: 221 bye"],
    {
      tls: true,
      caCerts: ["PEM"],
      debugLevel: 1,
      debugOutput: (line) => lines.push(line),
    },
  );
  assert.equal(IMPLICIT_TLS_PORT, 465);
  assert.deepEqual(server.dialed, [{ hostname: "mail.example.com", port: 465 }]);
  assert.deepEqual(server.tlsUpgrades, [{ hostname: "mail.example.com", caCerts: ["PEM"] }]);
  assert.equal(smtp.isTls, true);
  assert.deepEqual(await smtp.ehlo(), [250, "mail.example.com\nAUTH PLAIN"]);
  await smtp.quit();
  assert.equal(lines[0], "connect: ('mail.example.com', 465)");
  server.assertDone();
});

Deno.test("tls: true keeps a port named in the server string", async () => {
  const { server, smtp } = await connect([GREETING], { tls: true }, "127.0.0.1:4650");
  assert.deepEqual(server.dialed, [{ hostname: "127.0.0.1", port: 4650 }]);
  server.assertDone();
  smtp.close();
});

Deno.test("a plain connection says isTls false until STARTTLS, true after", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("STARTTLS"),
    "C: STARTTLS",
    "S: 220 go ahead",
    TLS,
  ]);
  assert.deepEqual(server.dialed, [{ hostname: "mail.example.com", port: 25 }]);
  assert.equal(smtp.isTls, false);
  await smtp.starttls();
  assert.equal(smtp.isTls, true);
  server.assertDone();
  smtp.close();
});

Deno.test("tls: a failed handshake is a NetworkError; nothing is written", async () => {
  const server = new MockServer([tlsFails()]);
  const error = await rejects(
    () => SMTP.connect("mail.example.com", { tls: true, dialTls: server.dialTls }),
    NetworkError,
  );
  assert.equal(
    error.message,
    "TLS handshake with mail.example.com:465 failed: invalid peer certificate: UnknownIssuer",
  );
  assert.ok(server.current.closed);
  assert.equal(server.written, "");
  server.assertDone();
});

Deno.test("tls: a refused TLS dial names the server and port", async () => {
  const error = await rejects(
    () =>
      SMTP.connect("localhost", {
        tls: true,
        dialTls: () => Promise.reject(new Deno.errors.ConnectionRefused("Connection refused")),
      }),
    NetworkError,
  );
  assert.equal(error.message, "Could not connect to localhost:465: Connection refused");
});

Deno.test("tls: a TLS dial that never answers times out; a late connection is closed", async () => {
  const server = new MockServer([]);
  let late: (conn: Deno.TlsConn) => void = () => {};
  const error = await rejects(
    () =>
      SMTP.connect("localhost", {
        tls: true,
        timeout: 50,
        dialTls: () => new Promise((resolve) => late = resolve),
      }),
    NetworkError,
  );
  assert.equal(error.message, "Could not connect to localhost:465: timed out after 0.05 s");
  const conn = await server.dialTls("localhost", 465, undefined, new AbortController().signal);
  late(conn);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.ok(server.current.closed, "the connection that came too late is closed");
});

Deno.test("tls: a handshake that never ends times out", async () => {
  const server = new MockServer([]);
  const error = await rejects(
    () =>
      SMTP.connect("localhost", {
        tls: true,
        timeout: 50,
        dialTls: async (...args) => {
          const conn = await server.dialTls(...args);
          conn.handshake = () => new Promise(() => {});
          return conn;
        },
      }),
    NetworkError,
  );
  assert.equal(error.message, "Timed out after 0.05 s during the TLS handshake");
  assert.ok(server.current.closed);
});

// ---- a TLS record where the greeting should be, and a silent greeting ----

for (const chunk of [Infinity, 1]) {
  Deno.test(`a TLS alert where the greeting should be says "this looks like TLS" (chunk ${chunk})`, async () => {
    const server = new MockServer([
      raw(new Uint8Array([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46]), chunk),
    ]);
    const error = await rejects(
      () => SMTP.connect("mail.example.com", { dial: server.dial }),
      SMTPServerDisconnected,
    );
    assert.match(error.message, /this looks like TLS/);
    assert.ok(server.current.closed);
    assert.equal(server.written, "");
    assert.deepEqual(server.failures, []);
  });
}

Deno.test("a silent greeting says 'waiting for the server's greeting'", async () => {
  const server = new MockServer([STALL]);
  const error = await rejects(
    () => SMTP.connect("mail.example.com", { dial: server.dial, timeout: 50 }),
    NetworkError,
  );
  assert.equal(error.message, "Timed out after 0.05 s waiting for the server's greeting");
  assert.ok(server.current.closed);
});

// ---- requireTls ----

const UPGRADE = [
  ...ehlo("STARTTLS", "AUTH PLAIN"),
  "C: STARTTLS",
  "S: 220 2.0.0 Ready to start TLS",
  TLS,
  ...ehlo("AUTH PLAIN"),
];

Deno.test("requireTls: login upgrades first (EHLO, STARTTLS, EHLO), then AUTH", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...UPGRADE,
    `C: AUTH PLAIN ${PASSWORD_B64}`,
    "S: 235 2.7.0 ok",
  ], { requireTls: true });
  assert.deepEqual(await smtp.login("brandon", "abc123"), [235, "2.7.0 ok"]);
  assert.equal(smtp.isTls, true);
  assert.deepEqual(server.tlsUpgrades, [{ hostname: "mail.example.com", caCerts: undefined }]);
  server.assertDone();
  smtp.close();
});

Deno.test("requireTls: sendmail upgrades first, then MAIL", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...UPGRADE,
    "C: mail FROM:<a@example.com>",
    "S: 250 ok",
    "C: rcpt TO:<b@example.com>",
    "S: 250 ok",
    "C: data",
    "S: 354 go",
    "C: x",
    "C: .",
    "S: 250 ok",
  ], { requireTls: true });
  assert.deepEqual(await smtp.sendmail("a@example.com", "b@example.com", "x"), new Map());
  server.assertDone();
  smtp.close();
});

Deno.test("requireTls: a server that strips STARTTLS gets nothing after EHLO, no password", async () => {
  const { server, smtp } = await connect([GREETING, ...ehlo("AUTH PLAIN LOGIN")], {
    requireTls: true,
  });
  const error = await rejects(() => smtp.login("brandon", "abc123"), SMTPNotSupportedError);
  assert.equal(
    error.message,
    "TLS is required (requireTls), but the server does not offer STARTTLS; " +
      "the connection is closed and nothing more was sent",
  );
  assert.ok(server.current.closed);
  assert.ok(!server.written.includes("AUTH") && !server.written.includes(PASSWORD_B64));
  server.assertDone(); // no AUTH, no MAIL, no QUIT
});

Deno.test("requireTls: sendmail to a stripping server sends no MAIL", async () => {
  const { server, smtp } = await connect([GREETING, ...ehlo("PIPELINING")], { requireTls: true });
  await rejects(() => smtp.sendmail("a@example.com", "b@example.com", "x"), SMTPNotSupportedError);
  assert.ok(server.current.closed);
  server.assertDone();
});

Deno.test("requireTls: STARTTLS refused closes the connection with the reply", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("STARTTLS"),
    "C: STARTTLS",
    "S: 454 4.7.0 TLS not available",
  ], { requireTls: true });
  const error = await rejects(() => smtp.login("brandon", "abc123"), SMTPResponseException);
  assert.equal(error.code, 454);
  assert.equal(error.message, "STARTTLS refused: 454 4.7.0 TLS not available");
  assert.ok(server.current.closed);
  server.assertDone();
});

Deno.test("requireTls: a failed upgrade is a NetworkError and nothing more is sent", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("STARTTLS"),
    "C: STARTTLS",
    "S: 220 go ahead",
    tlsFails(),
  ], { requireTls: true });
  const error = await rejects(
    () => smtp.sendmail("a@example.com", "b@example.com", "x"),
    NetworkError,
  );
  assert.match(error.message, /^TLS handshake with mail\.example\.com:\d+ failed: /);
  assert.ok(server.current.closed);
  server.assertDone();
});

Deno.test("requireTls: EHLO refused means no STARTTLS: no HELO, closed", async () => {
  const { server, smtp } = await connect([
    GREETING,
    "C: ehlo [127.0.0.1]",
    "S: 502 5.5.2 what?",
  ], { requireTls: true });
  const error = await rejects(() => smtp.ehloOrHeloIfNeeded(), SMTPNotSupportedError);
  assert.match(error.message, /the server refused EHLO \(502 5\.5\.2 what\?\), so no STARTTLS/);
  assert.ok(server.current.closed);
  server.assertDone();
});

Deno.test("requireTls: mail() and auth() refuse on a plain connection, writing nothing", async () => {
  for (
    const call of [(s: SMTP) => s.mail("a@example.com"), (s: SMTP) => s.auth("PLAIN", () => "x")]
  ) {
    const { server, smtp } = await connect([GREETING], { requireTls: true });
    const error = await rejects(() => call(smtp), SMTPNotSupportedError);
    assert.match(error.message, /the connection is not under TLS: refusing to send (MAIL|AUTH)/);
    assert.equal(server.written, "");
    assert.ok(server.current.closed);
    server.assertDone();
  }
});

Deno.test("requireTls with implicit TLS: no STARTTLS, straight on", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("AUTH PLAIN"),
    `C: AUTH PLAIN ${PASSWORD_B64}`,
    "S: 235 ok",
  ], { tls: true, requireTls: true });
  assert.deepEqual(await smtp.login("brandon", "abc123"), [235, "ok"]);
  server.assertDone();
  smtp.close();
});
