/**
 * Unit tests of `loginOAuth2()` (OAuth 2.0 bearer tokens for AUTH) against
 * the scripted mock server: the exact bytes of XOAUTH2 and OAUTHBEARER, the
 * choice between them, a refusal's JSON challenge and its answer, the 535's
 * wording, a server that lists neither, the refusal on a plain connection,
 * the token masked in the transcript and absent from every error, and the
 * arguments checked before anything is sent. No network.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  SMTPAuthenticationError,
  SMTPException,
  SMTPNotSupportedError,
  type SMTPOptions,
} from "../lib/smtp.ts";
import {
  chooseOAuth2Mechanism,
  describeRefusal,
  oauthBearerResponse,
  readTokenRefusal,
  saslName,
  xoauth2Response,
} from "../lib/oauth.ts";
import { TLS } from "./mock_conn.ts";
import { connect, ehlo, GREETING, rejects } from "./smtp_run.ts";

const USER = "brandon@example.com";
const TOKEN = "ya29.a0AfH6SMBx-secret_token";
const b64 = (text: string) => Buffer.from(text, "utf-8").toString("base64");

/** XOAUTH2's initial response for USER and TOKEN, written out by hand. */
const XOAUTH2_WIRE = b64(`user=${USER}\x01auth=Bearer ${TOKEN}\x01\x01`);
/** OAUTHBEARER's, for the mock's host and implicit TLS port. */
const BEARER_WIRE = b64(
  `n,a=${USER},\x01host=mail.example.com\x01port=465\x01auth=Bearer ${TOKEN}\x01\x01`,
);
const REFUSAL_JSON = '{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}';
const FINAL_535 = "S: 535 5.7.8 Username and Password not accepted";

/** Connects with implicit TLS (port 465) to a server playing `script` after its greeting. */
function overTls(script: string[], options: SMTPOptions = {}) {
  return connect([GREETING, ...script], { tls: true, ...options });
}

Deno.test("the initial responses as the issue and RFC 7628 write them", () => {
  assert.equal(
    xoauth2Response("u@example.com", "T"),
    "user=u@example.com\x01auth=Bearer T\x01\x01",
  );
  assert.equal(
    oauthBearerResponse("u@example.com", "T", "smtp.example.com", 587),
    "n,a=u@example.com,\x01host=smtp.example.com\x01port=587\x01auth=Bearer T\x01\x01",
  );
  // RFC 5801: "," and "=" in the authzid as =2C and =3D ("=" first, so =2C is not touched).
  assert.equal(saslName("a,b=c"), "a=2Cb=3Dc");
  assert.equal(
    oauthBearerResponse("a,b=c", "T", "h", 1),
    "n,a=a=2Cb=3Dc,\x01host=h\x01port=1\x01auth=Bearer T\x01\x01",
  );
});

/**
 * `loginOAuth2(USER, TOKEN)` over TLS against a server playing `script`
 * after its greeting and EHLO (listing `auth`); its reply, or the error it
 * threw. Every step of the script must have been played.
 */
async function loginAgainst(
  auth: string,
  script: string[],
  options: SMTPOptions = {},
): Promise<unknown> {
  const { server, smtp } = await overTls([...ehlo(auth), ...script], options);
  try {
    return await smtp.loginOAuth2(USER, TOKEN).catch((error) => error);
  } finally {
    server.assertDone();
    smtp.close();
  }
}

for (
  const [listed, chosen, wire] of [
    ["AUTH PLAIN LOGIN XOAUTH2", "XOAUTH2", XOAUTH2_WIRE],
    ["AUTH XOAUTH2 OAUTHBEARER PLAIN", "OAUTHBEARER", BEARER_WIRE], // preferred, host and port
    ["AUTH oauthbearer", "OAUTHBEARER", BEARER_WIRE], // any case
  ]
) {
  Deno.test(`${listed}: ${chosen} with the exact AUTH line, 235`, async () => {
    const result = await loginAgainst(listed, [
      `C: AUTH ${chosen} ${wire}`,
      "S: 235 2.7.0 Accepted",
    ]);
    assert.deepEqual(result, [235, "2.7.0 Accepted"]);
  });
}

Deno.test("XOAUTH2 refused: the JSON challenge is answered with an empty line, then 535 in words", async () => {
  const error = await loginAgainst("AUTH XOAUTH2", [
    `C: AUTH XOAUTH2 ${XOAUTH2_WIRE}`,
    `S: 334 ${b64(REFUSAL_JSON)}`,
    "C: ",
    FINAL_535,
  ]);
  assert.ok(error instanceof SMTPAuthenticationError);
  assert.equal(error.code, 535);
  assert.equal(error.smtpError, "5.7.8 Username and Password not accepted");
  assert.equal(
    error.message,
    "the server refused the token: status 401 (expired or revoked): " +
      "535 5.7.8 Username and Password not accepted",
  );
});

Deno.test("OAUTHBEARER refused: the JSON challenge is answered with ^A (AQ==), then 535", async () => {
  const error = await loginAgainst("AUTH OAUTHBEARER", [
    `C: AUTH OAUTHBEARER ${BEARER_WIRE}`,
    `S: 334 ${b64('{"status":"invalid_token","scope":"https://mail.example.com/"}')}`,
    "C: AQ==",
    "S: 535 5.7.8 Authentication credentials invalid",
  ]);
  assert.ok(error instanceof SMTPAuthenticationError);
  assert.equal(
    error.message,
    "the server refused the token: status invalid_token (expired or revoked): " +
      "535 5.7.8 Authentication credentials invalid",
  );
});

Deno.test("a 535 with no challenge says the token was refused; 421, 454, 534 keep their words", async () => {
  const cases = [
    ["535 5.7.3 Authentication unsuccessful", "the server refused the token: "],
    ["421 4.7.0 closing", ""],
    ["454 4.7.0 try later", ""],
    ["534 5.7.9 web login wanted", ""],
  ];
  for (const [reply, words] of cases) {
    const error = await loginAgainst("AUTH XOAUTH2", [
      `C: AUTH XOAUTH2 ${XOAUTH2_WIRE}`,
      `S: ${reply}`,
    ]);
    assert.ok(error instanceof SMTPAuthenticationError);
    assert.equal(error.message, words + reply);
    assert.equal(error.code, Number(reply.slice(0, 3)));
  }
});

Deno.test("the statuses in words: 400, 401, 403 with its scope, an unknown one", () => {
  const words = (json: string) => describeRefusal(readTokenRefusal(new TextEncoder().encode(json)));
  assert.equal(
    words('{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}'),
    "the server refused the token: status 400 (a malformed request: check the user name, " +
      "which must be the token's account)",
  );
  assert.equal(
    words('{"status":"401"}'),
    "the server refused the token: status 401 (expired or revoked)",
  );
  assert.equal(
    words('{"status":"insufficient_scope","scope":"https://outlook.office.com/SMTP.Send"}'),
    "the server refused the token: status insufficient_scope (not allowed to send mail: " +
      "the token needs the scope https://outlook.office.com/SMTP.Send)",
  );
  assert.equal(words('{"status":"418"}'), "the server refused the token: status 418");
  assert.equal(words("not json"), "the server refused the token");
  assert.equal(words('{"status":"4\\r\\n01"}'), "the server refused the token: status 4  01");
});

Deno.test("a server that lists neither mechanism: SMTPNotSupportedError naming what it lists", async () => {
  const { server, smtp } = await overTls([...ehlo("AUTH PLAIN LOGIN CRAM-MD5")]);
  const error = await rejects(() => smtp.loginOAuth2(USER, TOKEN), SMTPNotSupportedError);
  assert.equal(
    error.message,
    "The server offers neither OAUTHBEARER nor XOAUTH2 for an OAuth 2.0 token; " +
      "its AUTH lists: PLAIN LOGIN CRAM-MD5",
  );
  assert.ok(!server.written.includes("AUTH"));
  server.assertDone();
  smtp.close();
  assert.throws(() => chooseOAuth2Mechanism(undefined), /it lists no AUTH mechanism at all/);
  assert.equal(chooseOAuth2Mechanism("xoauth2 plain"), "XOAUTH2");
});

Deno.test("a plain connection gets no token: closed, nothing more sent", async () => {
  const { server, smtp } = await connect([GREETING, ...ehlo("STARTTLS", "AUTH XOAUTH2")]);
  const error = await rejects(() => smtp.loginOAuth2(USER, TOKEN), SMTPNotSupportedError);
  assert.equal(
    error.message,
    "The connection is not under TLS: refusing to send an OAuth 2.0 token in plain text " +
      "(STARTTLS or TLS first, or allowPlaintext for a test server); " +
      "the connection is closed and nothing more was sent",
  );
  assert.ok(server.current.closed);
  assert.ok(!server.written.includes("AUTH") && !server.written.includes(TOKEN));
  server.assertDone();
});

Deno.test("allowPlaintext: the caller may send the token in plain text (a test server)", async () => {
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("AUTH XOAUTH2"),
    `C: AUTH XOAUTH2 ${XOAUTH2_WIRE}`,
    "S: 235 2.7.0 Accepted",
  ]);
  assert.deepEqual(await smtp.loginOAuth2(USER, TOKEN, { allowPlaintext: true }), [
    235,
    "2.7.0 Accepted",
  ]);
  server.assertDone();
  smtp.close();
});

Deno.test("requireTls: EHLO, STARTTLS, EHLO, then the token (port 25's host and port)", async () => {
  const wire = b64(
    `n,a=${USER},\x01host=mail.example.com\x01port=25\x01auth=Bearer ${TOKEN}\x01\x01`,
  );
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("STARTTLS", "AUTH PLAIN"),
    "C: STARTTLS",
    "S: 220 2.0.0 Ready to start TLS",
    TLS,
    ...ehlo("AUTH PLAIN OAUTHBEARER"),
    `C: AUTH OAUTHBEARER ${wire}`,
    "S: 235 2.7.0 Accepted",
  ], { requireTls: true });
  assert.deepEqual(await smtp.loginOAuth2(USER, TOKEN), [235, "2.7.0 Accepted"]);
  server.assertDone();
  smtp.close();
});

Deno.test("the transcript masks the token like a password, the challenge's answer too", async () => {
  const lines: string[] = [];
  const error = await loginAgainst("AUTH XOAUTH2", [
    `C: AUTH XOAUTH2 ${XOAUTH2_WIRE}`,
    `S: 334 ${b64(REFUSAL_JSON)}`,
    "C: ",
    FINAL_535,
  ], { debugLevel: 1, debugOutput: (line) => lines.push(line) });
  assert.ok(error instanceof SMTPAuthenticationError);
  assert.ok(lines.includes("send: 'AUTH XOAUTH2 ********\\r\\n'"), lines.join("\n"));
  assert.ok(lines.includes(`reply: b'334 ${b64(REFUSAL_JSON)}\\r\\n'`));
  assert.ok(lines.includes("send: '********\\r\\n'"));
  for (const line of lines) {
    assert.ok(!line.includes(TOKEN) && !line.includes(XOAUTH2_WIRE), line);
  }
});

Deno.test("a server that echoes the token gets it masked, in the transcript and in the error", async () => {
  const lines: string[] = [];
  const error = await loginAgainst("AUTH XOAUTH2", [
    `C: AUTH XOAUTH2 ${XOAUTH2_WIRE}`,
    `S: 535 5.7.8 bad token ${TOKEN} in ${XOAUTH2_WIRE}`,
  ], { debugLevel: 1, debugOutput: (line) => lines.push(line) });
  assert.ok(error instanceof SMTPAuthenticationError);
  assert.equal(
    error.message,
    "the server refused the token: 535 5.7.8 bad token ******** in ********",
  );
  assert.equal(error.smtpError, "5.7.8 bad token ******** in ********");
  for (const line of lines) assert.ok(!line.includes(TOKEN), line);
  assert.ok(lines.some((line) => line.includes("bad token ******** in ********")));
});

Deno.test("a malformed challenge: the error quotes the server, never the token", async () => {
  const error = await loginAgainst("AUTH XOAUTH2", [
    `C: AUTH XOAUTH2 ${XOAUTH2_WIRE}`,
    `S: 334 not base64 ${TOKEN}`,
  ]);
  assert.ok(error instanceof SMTPException);
  assert.equal(error.message, "Malformed AUTH challenge from the server: 'not base64 ********'");
});

Deno.test("arguments checked at the edge: the wrong type names it, bad content sends nothing", async () => {
  const { server, smtp } = await overTls([]);
  const call = (user: unknown, token: unknown, options?: unknown) =>
    // deno-lint-ignore no-explicit-any
    (smtp.loginOAuth2 as any).call(smtp, user, token, options);
  await assert.rejects(call(USER, undefined), {
    name: "TypeError",
    message: "loginOAuth2(): token must be a string, not undefined",
  });
  await assert.rejects(call(42, TOKEN), {
    name: "TypeError",
    message: "loginOAuth2(): user must be a string, not number",
  });
  await assert.rejects(call(USER, TOKEN, "yes"), {
    name: "TypeError",
    message: "loginOAuth2(): options must be an object, not string",
  });
  await assert.rejects(call(USER, TOKEN, { allowPlaintext: "yes" }), {
    name: "TypeError",
    message: "loginOAuth2(): options.allowPlaintext must be a boolean, not string",
  });
  for (const bad of [`${TOKEN}\r\nQUIT`, `${TOKEN}\x01`, `${TOKEN} x`]) {
    const error = await rejects(() => smtp.loginOAuth2(USER, bad), SMTPException);
    assert.match(error.message, /^loginOAuth2\(\): the token holds a control character or a space/);
    assert.ok(!error.message.includes(TOKEN));
  }
  await assert.rejects(smtp.loginOAuth2(USER, ""), /the token is empty/);
  for (const bad of ["brandon\r\n", "bran\x01don", "b\nx"]) {
    const error = await rejects(() => smtp.loginOAuth2(bad, TOKEN), SMTPException);
    assert.match(error.message, /^loginOAuth2\(\): the user name .* holds a control character/);
  }
  assert.equal(server.written, ""); // not even EHLO
  server.assertDone();
  smtp.close();
});
