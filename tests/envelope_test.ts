/**
 * Unit tests of lib/envelope.ts: what the replies to MAIL, each RCPT and
 * DATA mean, the one judgement both the pipelined and the one-at-a-time
 * `sendmail` use. No network, no connection.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Envelope } from "../lib/envelope.ts";
import { SMTPDataError, SMTPRecipientsRefused, SMTPSenderRefused } from "../lib/errors.ts";

const TO = ["b@example.com", "c@example.com"];

Deno.test("envelope: all accepted and 354: no failure, nothing refused", () => {
  const envelope = new Envelope("a@example.com", TO);
  assert.equal(envelope.size, 4);
  assert.equal(envelope.take([250, "ok"]), true);
  assert.equal(envelope.take([250, "ok"]), true);
  assert.equal(envelope.take([251, "will forward"]), true);
  assert.equal(envelope.take([354, "go"]), true);
  assert.equal(envelope.dataStarted, true);
  assert.equal(envelope.failure(), null);
  assert.deepEqual(envelope.refused, new Map());
});

Deno.test("envelope: a refused sender stops at MAIL and is SMTPSenderRefused", () => {
  const envelope = new Envelope("a@example.com", TO);
  assert.equal(envelope.take([553, "5.1.8 bad"]), false);
  const failure = envelope.failure();
  assert.ok(failure instanceof SMTPSenderRefused);
  assert.equal(failure.message, "Sender a@example.com refused: 553 5.1.8 bad");
});

Deno.test("envelope: some recipients refused go on; all refused stops at the last", () => {
  const some = new Envelope("a@example.com", TO);
  some.take([250, "ok"]);
  assert.equal(some.take([550, "no b"]), true);
  assert.equal(some.take([250, "ok"]), true);
  some.take([354, "go"]);
  assert.equal(some.failure(), null);
  assert.deepEqual(some.refused, new Map([["b@example.com", [550, "no b"]]]));

  const all = new Envelope("a@example.com", TO);
  all.take([250, "ok"]);
  assert.equal(all.take([550, "no b"]), true);
  assert.equal(all.take([550, "no c"]), false);
  assert.ok(all.failure() instanceof SMTPRecipientsRefused);
});

Deno.test("envelope: 354 after every recipient was refused is still a refusal", () => {
  const envelope = new Envelope("a@example.com", TO);
  envelope.take([250, "ok"]);
  envelope.take([550, "no b"]);
  envelope.take([550, "no c"]);
  envelope.take([354, "go"]);
  assert.equal(envelope.dataStarted, true, "the caller must end the data with a lone dot");
  assert.ok(envelope.failure() instanceof SMTPRecipientsRefused);
});

Deno.test("envelope: 421 stops at once, with the class of the step it came at", () => {
  const atRcpt = new Envelope("a@example.com", TO);
  atRcpt.take([250, "ok"]);
  assert.equal(atRcpt.take([421, "bye"]), false);
  assert.equal(atRcpt.closing, true);
  const failure = atRcpt.failure();
  assert.ok(failure instanceof SMTPRecipientsRefused);
  assert.equal(failure.message, "Recipients refused: b@example.com (421 bye)");

  const atData = new Envelope("a@example.com", TO);
  atData.take([250, "ok"]);
  atData.take([250, "ok"]);
  atData.take([250, "ok"]);
  assert.equal(atData.take([421, "bye"]), false);
  assert.ok(atData.failure() instanceof SMTPDataError);
});

Deno.test("envelope: no recipients at all is SMTPRecipientsRefused after MAIL", () => {
  const envelope = new Envelope("a@example.com", []);
  assert.equal(envelope.take([250, "ok"]), false);
  const failure = envelope.failure();
  assert.ok(failure instanceof SMTPRecipientsRefused);
  assert.equal(failure.recipients.size, 0);
});
