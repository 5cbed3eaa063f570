/**
 * Unit tests of the helper's `login` (SMTP AUTH) against the scripted mock
 * server: the exact exchange of CRAM-MD5, PLAIN and LOGIN, the order they
 * are tried in, 535 and 503, no usable mechanism, and hostile challenges.
 * No network.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { Buffer } from "node:buffer";
import { SMTPAuthenticationError, SMTPException, SMTPNotSupportedError } from "../lib/smtp.ts";
import { connect, ehlo, GREETING, PASSWORD, rejects, USER } from "./smtp_run.ts";

// ---- AUTH ----

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
