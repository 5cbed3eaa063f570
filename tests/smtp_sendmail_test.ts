/**
 * Unit tests of the helper's mail transaction (`sendmail`, `quoteaddr`)
 * against the scripted mock server: SIZE, the payload in one write, refused
 * senders and recipients, DATA refused, 421 at each step, and the addresses
 * refused before anything is written (CR/LF, non-ASCII without SMTPUTF8, a
 * non-ASCII body without 8BITMIME). No network.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  quoteaddr,
  SMTPDataError,
  SMTPException,
  SMTPNotSupportedError,
  SMTPRecipientsRefused,
  SMTPResponseException,
  SMTPSenderRefused,
} from "../lib/smtp.ts";
import { connect, DATA_OK, ehlo, GREETING, rejects } from "./smtp_run.ts";

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
