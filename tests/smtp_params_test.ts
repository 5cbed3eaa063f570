/**
 * Unit tests of what the helper checks before it writes: the MAIL and RCPT
 * options against the server's EHLO (`lib/params.ts`), each option once, the
 * address on the wire rather than its display name, and the arguments at
 * the API's edge (`lib/arguments.ts`). Each test shows the exact bytes that
 * went out, or that none did. No network.
 *
 * @module
 */

import assert from "node:assert/strict";
import { extensionFor, mergeParams, ownMailParams, unofferedParam } from "../lib/params.ts";
import { SMTP, SMTPNotSupportedError, type SMTPOptions } from "../lib/smtp.ts";
import { MockServer } from "./mock_conn.ts";
import { connect, DATA_OK, ehlo, GREETING, PASSWORD, rejects, USER } from "./smtp_run.ts";

const EHLO_LINE = "ehlo [127.0.0.1]\r\n";

// ---- the rule: which extension an option needs ----

Deno.test("extensionFor: each keyword the helper knows, in any case; others are not known", () => {
  assert.deepEqual(
    [
      "SMTPUTF8",
      "body=8bitmime",
      "BODY=7BIT",
      "BODY=BINARYMIME",
      "SIZE=1000",
      "RET=HDRS",
      "ENVID=abc",
      "NOTIFY=SUCCESS,FAILURE",
      "ORCPT=rfc822;b@example.com",
      "REQUIRETLS",
      "X-FOO=1",
      "MT-PRIORITY=3",
    ].map(extensionFor),
    [
      "smtputf8",
      "8bitmime",
      "8bitmime",
      "binarymime",
      "size",
      "dsn",
      "dsn",
      "dsn",
      "dsn",
      "requiretls",
      null,
      null,
    ],
  );
});

Deno.test("unofferedParam: the first known option the server did not offer", () => {
  const offered = new Set(["size", "8bitmime"]);
  const offers = (name: string) => offered.has(name);
  assert.equal(unofferedParam(["size=1", "BODY=8BITMIME", "X-FOO"], offers), null);
  assert.equal(unofferedParam(["BODY=8BITMIME", "SMTPUTF8", "REQUIRETLS"], offers), "SMTPUTF8");
});

Deno.test("mergeParams: each keyword once; the caller's wins and keeps its place", () => {
  assert.deepEqual(
    mergeParams(["size=10", "SMTPUTF8", "BODY=8BITMIME"], ["BODY=8BITMIME", "smtputf8"]),
    ["size=10", "BODY=8BITMIME", "smtputf8"],
  );
  assert.deepEqual(mergeParams(["size=10"], ["SIZE=99", "X-A", "X-A"]), ["SIZE=99", "X-A"]);
  assert.deepEqual(mergeParams([], []), []);
});

// ---- refused options: nothing on the wire ----

Deno.test("sendmail with BODY=8BITMIME and SMTPUTF8, no SMTPUTF8 offered: refused, no MAIL", async () => {
  const { server, smtp } = await connect([GREETING, ...ehlo("8BITMIME")]);
  const error = await rejects(
    () => smtp.sendmail("a@example.com", ["b@example.com"], "x", ["BODY=8BITMIME", "SMTPUTF8"]),
    SMTPNotSupportedError,
  );
  assert.equal(
    error.message,
    "SMTPUTF8 not supported by server: refusing to send MAIL with 'SMTPUTF8'",
  );
  assert.equal(server.written, EHLO_LINE);
  server.assertDone();
  smtp.close();
});

Deno.test("mail(from, ['SMTPUTF8']) with no SMTPUTF8 offered: refused, nothing written", async () => {
  const { server, smtp } = await connect([GREETING, ...ehlo("8BITMIME")]);
  await smtp.ehlo();
  const before = server.written;
  await rejects(() => smtp.mail("a@example.com", ["SMTPUTF8"]), SMTPNotSupportedError);
  assert.equal(server.written, before);
  assert.equal(before, EHLO_LINE);
  server.assertDone();
  smtp.close();
});

for (
  const [option, extension] of [
    ["BODY=8BITMIME", "8BITMIME"],
    ["BODY=BINARYMIME", "BINARYMIME"],
    ["SIZE=1000", "SIZE"],
    ["RET=HDRS", "DSN"],
    ["ENVID=QQ314159", "DSN"],
    ["REQUIRETLS", "REQUIRETLS"],
  ]
) {
  Deno.test(`MAIL option ${option}: refused unless ${extension} is offered, sent once if it is`, async () => {
    const without = await connect([GREETING, ...ehlo("PIPELINING")]);
    await without.smtp.ehlo();
    const error = await rejects(
      () => without.smtp.mail("a@example.com", [option]),
      SMTPNotSupportedError,
    );
    assert.match(error.message, new RegExp(`^${extension} not supported by server`));
    assert.equal(without.server.written, EHLO_LINE);
    without.server.assertDone();
    without.smtp.close();

    const withIt = await connect([
      GREETING,
      ...ehlo(extension),
      `C: mail FROM:<a@example.com> ${option}`,
      "S: 250 2.1.0 Ok",
    ]);
    await withIt.smtp.ehlo();
    assert.deepEqual(await withIt.smtp.mail("a@example.com", [option]), [250, "2.1.0 Ok"]);
    withIt.server.assertDone();
    withIt.smtp.close();
  });
}

Deno.test("RCPT option NOTIFY= needs DSN: refused in sendmail before MAIL, and in rcpt()", async () => {
  const { server, smtp } = await connect([GREETING, ...ehlo("SIZE 1000")]);
  await rejects(
    () => smtp.sendmail("a@example.com", ["b@example.com"], "x", [], ["NOTIFY=SUCCESS"]),
    SMTPNotSupportedError,
  );
  await rejects(() => smtp.rcpt("b@example.com", ["NOTIFY=SUCCESS"]), SMTPNotSupportedError);
  assert.equal(server.written, EHLO_LINE);
  server.assertDone();
  smtp.close();
});

Deno.test("an option the helper does not know goes out as written, even after HELO", async () => {
  const { server, smtp } = await connect([
    GREETING,
    "C: ehlo [127.0.0.1]",
    "S: 502 5.5.2 Error: command not recognized",
    "C: helo [127.0.0.1]",
    "S: 250 mail.example.com",
    "C: mail FROM:<a@example.com> X-Trace=abc",
    "S: 250 ok",
    "C: rcpt TO:<b@example.com> X-Prio",
    "S: 250 ok",
    ...DATA_OK,
    "C: x",
    "C: .",
    "S: 250 ok",
  ]);
  await smtp.sendmail("a@example.com", ["b@example.com"], "x", ["X-Trace=abc"], ["X-Prio"]);
  server.assertDone();
  smtp.close();
});

// ---- each option once ----

Deno.test("sendmail: SMTPUTF8 and BODY=8BITMIME from the caller and the helper go out once", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("SIZE 10240000", "8BITMIME", "SMTPUTF8"),
    "C: mail FROM:<jőhn@example.com> size=7 BODY=8BITMIME SMTPUTF8",
    "S: 250 ok",
    "C: rcpt TO:<sálly@example.com>",
    "S: 250 ok",
    ...DATA_OK,
    "C: ¡hola!",
    "C: .",
    "S: 250 ok",
  ]);
  await smtp.sendmail("jőhn@example.com", ["sálly@example.com"], "¡hola!", [
    "BODY=8BITMIME",
    "SMTPUTF8",
  ]);
  server.assertDone();
  smtp.close();
});

Deno.test("mail() low level with BODY=8BITMIME and SMTPUTF8: as given, UTF-8 allowed after", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("8BITMIME", "SMTPUTF8"),
    "C: mail FROM:<Jő@example.com> BODY=8BITMIME SMTPUTF8",
    "S: 250 OK",
    "C: rcpt TO:<János@example.com>",
    "S: 250 OK",
  ]);
  await smtp.ehlo();
  assert.deepEqual(await smtp.mail("Jő@example.com", ["BODY=8BITMIME", "SMTPUTF8"]), [250, "OK"]);
  assert.deepEqual(await smtp.rcpt("János@example.com"), [250, "OK"]);
  server.assertDone();
  smtp.close();
});

// ---- display names ----

for (const extension of ["8BITMIME", "SMTPUTF8"]) {
  Deno.test(`display names: non-ASCII names, ASCII addresses, EHLO with ${extension}: sent bare, no SMTPUTF8`, async () => {
    const { server, smtp } = await connect([
      GREETING,
      ...ehlo(extension),
      "C: mail FROM:<michael@example.com>",
      "S: 250 ok",
      "C: rcpt TO:<rene@example.com>",
      "S: 250 ok",
      ...DATA_OK,
      "C: x",
      "C: .",
      "S: 250 ok",
    ]);
    assert.deepEqual(
      await smtp.sendmail("Michaël <michael@example.com>", ["René <rene@example.com>"], "x"),
      new Map(),
    );
    server.assertDone();
    smtp.close();
  });
}

Deno.test("display names: a non-ASCII address on the wire is named bare in the refusal", async () => {
  const { server, smtp } = await connect([GREETING, ...ehlo("8BITMIME")]);
  const error = await rejects(
    () => smtp.sendmail("a@example.com", ["René <rené@example.com>"], "x"),
    SMTPNotSupportedError,
  );
  assert.equal(
    error.message,
    "The address 'rené@example.com' is not ASCII and the server does not offer SMTPUTF8",
  );
  assert.equal(server.written, EHLO_LINE);
  smtp.close();
});

// ---- arguments at the API's edge ----

/** A dialler that counts its calls, so a test can show that nothing was dialled. */
function countingDial(): { dial: MockServer["dial"]; calls: () => number } {
  const server = new MockServer([GREETING]);
  return { dial: server.dial, calls: () => server.dialed.length };
}

for (const timeout of [0, -1, -0.5, NaN]) {
  Deno.test(`SMTP.connect with timeout ${timeout}: a RangeError naming timeout, no dial`, async () => {
    const { dial, calls } = countingDial();
    const error = await rejects(
      () => SMTP.connect("mail.example.com", { timeout, dial }),
      RangeError,
    );
    assert.equal(
      error.message,
      `SMTP.connect(): options.timeout must be a number of milliseconds above 0, not ${timeout}`,
    );
    assert.equal(calls(), 0);
  });
}

Deno.test("SMTP.connect: a server or timeout of the wrong type is a TypeError, no dial", async () => {
  const { dial, calls } = countingDial();
  const noServer = await rejects(
    () => SMTP.connect(undefined as unknown as string, { dial }),
    TypeError,
  );
  assert.equal(noServer.message, "SMTP.connect(): server must be a string, not undefined");
  const textTimeout = await rejects(
    () => SMTP.connect("mail.example.com", { dial, timeout: "5" as unknown as number }),
    TypeError,
  );
  assert.match(textTimeout.message, /options\.timeout must be a number of milliseconds/);
  const notAnObject = await rejects(
    () => SMTP.connect("mail.example.com", 30_000 as unknown as SMTPOptions),
    TypeError,
  );
  assert.equal(notAnObject.message, "SMTP.connect(): options must be an object, not number");
  assert.equal(calls(), 0);
});

Deno.test("login with an undefined password: a TypeError naming password, nothing written", async () => {
  const { server, smtp } = await connect([GREETING]);
  const error = await rejects(
    () => smtp.login(USER, Deno.env.get("SMTP_PASSWORD_NEVER_SET") as string),
    TypeError,
  );
  assert.equal(error.message, "login(): password must be a string, not undefined");
  const noUser = await rejects(() => smtp.login(null as unknown as string, PASSWORD), TypeError);
  assert.equal(noUser.message, "login(): user must be a string, not null");
  assert.equal(server.written, "");
  smtp.close();
});

Deno.test("sendmail: each missing or wrong argument is a TypeError naming it, nothing written", async () => {
  const { server, smtp } = await connect([GREETING]);
  const cases: [unknown[], string][] = [
    [[undefined, ["b@example.com"], "x"], "fromAddr must be a string, not undefined"],
    [["a@example.com", undefined, "x"], "toAddrs must be an array of strings, not undefined"],
    [["a@example.com", ["b@example.com", 7], "x"], "toAddrs[1] must be a string, not number"],
    [
      ["a@example.com", ["b@example.com"]],
      "msg must be a string, a Uint8Array or a ReadableStream, not undefined",
    ],
    [["a@example.com", "b@example.com", "x", "SMTPUTF8"], "mailOptions must be an array"],
    [["a@example.com", "b@example.com", "x", [], [null]], "rcptOptions[0] must be a string"],
  ];
  for (const [args, message] of cases) {
    const error = await rejects(
      () => (smtp.sendmail as (...a: unknown[]) => Promise<unknown>)(...args),
      TypeError,
    );
    assert.ok(error.message.startsWith(`sendmail(): ${message}`), error.message);
  }
  assert.equal(server.written, "");
  smtp.close();
});

Deno.test("ownMailParams: size= when known and listed, SMTPUTF8 for an address, BODY=8BITMIME for 8-bit or a stream", () => {
  const offered = (...names: string[]) => (name: string) => names.includes(name);
  const text = { measured: { size: 12, eightBit: false }, binary: false };
  const ascii = ["<a@example.com>", "<b@example.com>"];
  const all = offered("size", "smtputf8", "8bitmime");
  assert.deepEqual(ownMailParams({ ...text, addresses: ascii, esmtp: true }, all), ["size=12"]);
  // After HELO (no ESMTP) no size=, as smtplib's does_esmtp.
  assert.deepEqual(ownMailParams({ ...text, addresses: ascii, esmtp: false }, all), []);
  assert.deepEqual(ownMailParams({ ...text, addresses: ascii, esmtp: true }, offered()), []);
  const unicode = ["<a@example.com>", "<jürgen@example.com>"];
  assert.deepEqual(ownMailParams({ ...text, addresses: unicode, esmtp: true }, all), [
    "size=12",
    "SMTPUTF8",
  ]);
  const eightBit = {
    ...text,
    measured: { size: 12, eightBit: true },
    addresses: ascii,
    esmtp: true,
  };
  assert.deepEqual(ownMailParams(eightBit, all), ["size=12", "BODY=8BITMIME"]);
  // BINARYMIME says the body itself.
  assert.deepEqual(ownMailParams({ ...eightBit, binary: true }, all), ["size=12"]);
  const stream = { measured: null, binary: false, addresses: ascii, esmtp: true }; // no size known
  assert.deepEqual(ownMailParams(stream, all), ["BODY=8BITMIME"]);
  assert.deepEqual(ownMailParams(stream, offered("size")), []);
});

Deno.test("ownMailParams refuses what the server does not offer, naming it", () => {
  const none = () => false;
  const base = { binary: false, esmtp: true };
  assert.throws(
    () =>
      ownMailParams({
        ...base,
        measured: { size: 1, eightBit: false },
        addresses: ["<jürgen@example.com>"],
      }, none),
    new SMTPNotSupportedError(
      "The address 'jürgen@example.com' is not ASCII and the server does not offer SMTPUTF8",
    ),
  );
  assert.throws(
    () =>
      ownMailParams({
        ...base,
        measured: { size: 1, eightBit: true },
        addresses: ["<a@example.com>"],
      }, none),
    new SMTPNotSupportedError("The message is not ASCII and the server does not offer 8BITMIME"),
  );
});
