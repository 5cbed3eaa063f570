/**
 * Unit tests of the SASL helpers (lib/auth.ts): PLAIN, LOGIN and CRAM-MD5
 * answers, checked against published values (RFC 2195's example) and the
 * book's brandon/abc123, and the base64 helpers.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  authCramMd5,
  authPlain,
  decodeBase64,
  encodeBase64,
  mechanisms,
  PREFERRED_MECHANISMS,
} from "../lib/auth.ts";

const encoder = new TextEncoder();

Deno.test("PLAIN for brandon/abc123 is AGJyYW5kb24AYWJjMTIz", () => {
  assert.equal(authPlain("brandon", "abc123"), "\0brandon\0abc123");
  assert.equal(encodeBase64(authPlain("brandon", "abc123")), "AGJyYW5kb24AYWJjMTIz");
});

Deno.test("CRAM-MD5 gives RFC 2195's example answer", async () => {
  const challenge = encoder.encode("<1896.697170952@postoffice.reston.mci.net>");
  const answer = await authCramMd5("tim", "tanstaaftanstaaf", challenge);
  assert.equal(answer, "tim b913a602c7eda7a495b4e6e7334d3890");
  assert.equal(encodeBase64(answer), "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw");
});

Deno.test("the mechanisms answer round by round as smtplib's do", async () => {
  const answers = mechanisms("brandon", "abc123");
  assert.deepEqual([...PREFERRED_MECHANISMS], ["CRAM-MD5", "PLAIN", "LOGIN"]);
  // CRAM-MD5 has no initial response; its answer needs the challenge.
  assert.equal(answers["CRAM-MD5"](null, 0), null);
  assert.match((await answers["CRAM-MD5"](encoder.encode("<x>"), 1))!, /^brandon [0-9a-f]{32}$/);
  assert.equal(answers.PLAIN(null, 0), "\0brandon\0abc123");
  // LOGIN: the user name first (initial response), then the password.
  assert.equal(answers.LOGIN(null, 0), "brandon");
  assert.equal(answers.LOGIN(encoder.encode("Password:"), 2), "abc123");
  assert.equal(encodeBase64((await answers.LOGIN(null, 0))!), "YnJhbmRvbg==");
  assert.equal(encodeBase64((await answers.LOGIN(encoder.encode("Password:"), 2))!), "YWJjMTIz");
});

Deno.test("encodeBase64 encodes the UTF-8 bytes", () => {
  assert.equal(encodeBase64(""), "");
  assert.equal(encodeBase64("ü"), "w7w=");
});

Deno.test("decodeBase64 decodes, tolerates surrounding spaces, refuses junk", () => {
  assert.deepEqual(decodeBase64("UGFzc3dvcmQ6"), encoder.encode("Password:"));
  assert.deepEqual(decodeBase64("  VXNlcm5hbWU6 "), encoder.encode("Username:"));
  assert.deepEqual(decodeBase64(""), new Uint8Array());
  assert.deepEqual(decodeBase64("w7w="), new Uint8Array([0xc3, 0xbc]));
  for (const bad of ["not*base64!", "abcde", "ab=c", "a===", "é"]) {
    assert.equal(decodeBase64(bad), null, bad);
  }
});
