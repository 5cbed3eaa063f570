/**
 * Unit tests of how a session ends: a 421 reply at any step (RFC 5321
 * section 3.8) closes the connection at once, writes nothing more and
 * throws the 421; timeouts beyond the runtime's longest timer are clamped
 * rather than firing at once. Against the scripted mock server; no network.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DEFAULT_TIMEOUTS, MAX_TIMEOUT, timeoutOf } from "../lib/conn.ts";
import {
  SMTP,
  SMTPAuthenticationError,
  SMTPConnectError,
  SMTPDataError,
  SMTPResponseException,
  SMTPSenderRefused,
  SMTPServerDisconnected,
} from "../lib/smtp.ts";
import { MockServer, STALL, type Step } from "./mock_conn.ts";
import { connect, ehlo, GREETING, rejects } from "./smtp_run.ts";

const CLOSING = "S: 421 4.3.2 Service shutting down";

/** Each way a session can meet a 421: the script up to it, the call, the error expected. */
const steps: {
  name: string;
  script: (string | Step)[];
  call: (smtp: SMTP) => Promise<unknown>;
  error: new (...args: never[]) => SMTPResponseException;
  message: string;
}[] = [
  {
    name: "EHLO (no HELO after it)",
    script: ["C: ehlo [127.0.0.1]", CLOSING],
    call: (smtp) => smtp.sendmail("a@example.com", "b@example.com", "x"),
    error: SMTPResponseException,
    message: "The server closed the connection: 421 4.3.2 Service shutting down",
  },
  {
    name: "EHLO said directly, as ehlo.ts and tls.ts do",
    script: ["C: ehlo [127.0.0.1]", CLOSING],
    call: (smtp) => smtp.ehlo(),
    error: SMTPResponseException,
    message: "The server closed the connection: 421 4.3.2 Service shutting down",
  },
  {
    name: "HELO",
    script: ["C: ehlo [127.0.0.1]", "S: 502 no", "C: helo [127.0.0.1]", CLOSING],
    call: (smtp) => smtp.ehloOrHeloIfNeeded(),
    error: SMTPResponseException,
    message: "The server closed the connection: 421 4.3.2 Service shutting down",
  },
  {
    name: "AUTH PLAIN (no AUTH LOGIN after it)",
    script: [...ehlo("AUTH PLAIN LOGIN"), "C: AUTH PLAIN AGJyYW5kb24AYWJjMTIz", CLOSING],
    call: (smtp) => smtp.login("brandon", "abc123"),
    error: SMTPAuthenticationError,
    message: "421 4.3.2 Service shutting down",
  },
  {
    name: "the answer to a LOGIN challenge",
    script: [
      ...ehlo("AUTH LOGIN"),
      "C: AUTH LOGIN YnJhbmRvbg==",
      "S: 334 UGFzc3dvcmQ6",
      "C: YWJjMTIz",
      CLOSING,
    ],
    call: (smtp) => smtp.login("brandon", "abc123"),
    error: SMTPAuthenticationError,
    message: "421 4.3.2 Service shutting down",
  },
  {
    name: "STARTTLS",
    script: [...ehlo("STARTTLS"), "C: STARTTLS", CLOSING],
    call: (smtp) => smtp.starttls(),
    error: SMTPResponseException,
    message: "STARTTLS refused: 421 4.3.2 Service shutting down",
  },
  {
    name: "the RSET after a refused sender (the refusal is what is reported)",
    script: [...ehlo(), "C: mail FROM:<a@example.com>", "S: 553 no", "C: rset", CLOSING],
    call: (smtp) => smtp.sendmail("a@example.com", "b@example.com", "x"),
    error: SMTPSenderRefused,
    message: "Sender a@example.com refused: 553 no",
  },
  {
    name: "NOOP",
    script: ["C: noop", CLOSING],
    call: (smtp) => smtp.noop(),
    error: SMTPResponseException,
    message: "The server closed the connection: 421 4.3.2 Service shutting down",
  },
  {
    name: "mail() said directly",
    script: ["C: mail FROM:<a@example.com>", CLOSING],
    call: (smtp) => smtp.mail("a@example.com"),
    error: SMTPResponseException,
    message: "The server closed the connection: 421 4.3.2 Service shutting down",
  },
  {
    name: "the end of data() said directly",
    script: ["C: data", "S: 354 go", "C: x", "C: .", CLOSING],
    call: (smtp) => smtp.data("x"),
    error: SMTPDataError,
    message: "Message data refused: 421 4.3.2 Service shutting down",
  },
];

for (const { name, script, call, error, message } of steps) {
  Deno.test(`421 at ${name}: closed at once, nothing more written, the 421 thrown`, async () => {
    const { server, smtp } = await connect([GREETING, ...script]);
    const thrown = await rejects(() => call(smtp), error);
    assert.equal(thrown.message, message);
    if (!(thrown instanceof SMTPSenderRefused)) assert.equal(thrown.code, 421);
    assert.ok(server.current.closed);
    server.assertDone(); // the script ends at the 421: any later write fails it
    // A later command says why the connection is gone, and writes nothing.
    const after = await rejects(() => smtp.noop(), SMTPServerDisconnected);
    assert.equal(
      after.message,
      "The server closed the connection with 421 4.3.2 Service shutting down",
    );
    server.assertDone();
  });
}

Deno.test("a 421 greeting is SMTPConnectError carrying the 421", async () => {
  const server = new MockServer([CLOSING]);
  const error = await rejects(
    () => SMTP.connect("mail.example.com", { dial: server.dial }),
    SMTPConnectError,
  );
  assert.equal(error.code, 421);
  assert.equal(error.message, "Server refused the connection: 421 4.3.2 Service shutting down");
  assert.ok(server.current.closed);
  assert.equal(server.written, "");
  server.assertDone();
});

Deno.test("a 421 to QUIT is returned: the session was ending anyway", async () => {
  const { server, smtp } = await connect([GREETING, "C: quit", CLOSING]);
  assert.deepEqual(await smtp.quit(), [421, "4.3.2 Service shutting down"]);
  assert.ok(server.current.closed);
  server.assertDone();
});

// ---- timeouts ----

Deno.test("timeouts above the runtime's longest timer are clamped, never overflow", () => {
  assert.equal(MAX_TIMEOUT, 2147483647);
  assert.equal(timeoutOf("command", 3_000_000_000), MAX_TIMEOUT);
  assert.equal(timeoutOf("command", Infinity), MAX_TIMEOUT);
  assert.equal(timeoutOf("command", MAX_TIMEOUT), MAX_TIMEOUT);
  assert.equal(timeoutOf("command", 50), 50);
  assert.equal(timeoutOf("command", -5), 0);
  assert.equal(timeoutOf("dataEnd"), DEFAULT_TIMEOUTS.dataEnd);
  assert.equal(timeoutOf("dataEnd", NaN), DEFAULT_TIMEOUTS.dataEnd);
});

Deno.test("a timeout of 3,000,000 s does not fire at once", async () => {
  const warnings: string[] = [];
  const warn = console.warn;
  const error = console.error;
  console.warn = (...args: unknown[]) => warnings.push(args.join(" "));
  console.error = (...args: unknown[]) => warnings.push(args.join(" "));
  try {
    const { server, smtp } = await connect([GREETING, "C: noop", STALL], {
      timeout: 3_000_000_000,
    });
    let settled = false;
    const noop = smtp.noop().finally(() => settled = true);
    noop.catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(settled, false, "the read must still be waiting");
    smtp.close();
    await rejects(() => noop, SMTPServerDisconnected);
    server.assertDone();
  } finally {
    console.warn = warn;
    console.error = error;
  }
  assert.deepEqual(warnings.filter((w) => /TimeoutOverflow/.test(w)), []);
});
