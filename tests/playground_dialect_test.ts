/**
 * The playground speaks the book's Postfix: `debug.ts` against it prints the
 * chapter page's transcript line for line (read from a copy of the page's
 * lines in `fixtures/`, so a library upgrade that rewords a reply fails
 * here), and VRFY, ETRN and the
 * refusals are worded as Postfix 3.7 words them.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ehloKeywords, etrnReply, postfixReply, vrfyReply } from "../playground/dialect.ts";
import { rawSession, runListing, withPlayground } from "./playground_run.ts";

const FROM = "sender@example.com";
const TO = "brandon@example.com";
/** The page's debug.py run, copied from the chapter's page (see fixtures/README.md). */
const PAGE_RUN = new URL("./fixtures/chapter13_debug_transcript.txt", import.meta.url);

/** The page's debug.py transcript: the lines of its run, without the command and stdout's line. */
async function pageTranscript(): Promise<string[]> {
  const lines = (await Deno.readTextFile(PAGE_RUN)).trimEnd().split("\n");
  assert.match(lines[0], /^\$ python3 debug\.py mail\.example\.com /, "the page's debug.py run");
  return lines.slice(1).filter((line) => line !== "Message sent to 1 recipient");
}

/** What may differ between runs: the EHLO address literal, size=, the queue id, the name. */
function normalise(line: string): string {
  return line
    .replace(/^send: 'ehlo \[[^\]]*\]/, "send: 'ehlo [ADDRESS]")
    .replace(/ size=\d+/, " size=N")
    .replace(/queued as [0-9A-Za-z]+/g, "queued as ID")
    .replace(/\b(simple|debug)\.(py|ts)\b/g, "PROG");
}

Deno.test("debug.ts against the playground prints the chapter page's transcript, line for line", async () => {
  const expected = (await pageTranscript()).map(normalise);
  assert.equal(expected.length, 28, "the page's transcript has 28 lines besides stdout's");
  await withPlayground(async (_playground, server) => {
    const result = await runListing([], "debug.ts", [server, FROM, TO]);
    assert.equal(result.stdout, "Message sent to 1 recipient\n");
    assert.equal(result.code, 0);
    const transcript = result.stderr.trimEnd().split("\n");

    // The one addition: AUTH, which login.ts needs, where Postfix puts it (after STARTTLS).
    const auth = "reply: b'250-AUTH PLAIN LOGIN CRAM-MD5\\r\\n'";
    const at = transcript.indexOf(auth);
    assert.equal(transcript[at - 1], "reply: b'250-STARTTLS\\r\\n'", "AUTH follows STARTTLS");
    transcript.splice(at, 1);
    const actual = transcript.map((line) =>
      normalise(line.replace("\\nSTARTTLS\\nAUTH PLAIN LOGIN CRAM-MD5\\n", "\\nSTARTTLS\\n"))
    );
    for (let i = 0; i < Math.max(actual.length, expected.length); i++) {
      assert.equal(actual[i], expected[i], `transcript line ${i + 1} differs from the page`);
    }
    assert.match(transcript.join("\n"), /queued as [0-9A-F]{10}\\r\\n/, "a Postfix-like queue id");
  });
});

Deno.test("VRFY, ETRN, HELP and the refusals over the wire, as Postfix 3.7 answers", async () => {
  await withPlayground(async ({ port }) => {
    const replies = (await rawSession(port, [
      "EHLO [127.0.0.1]",
      "VRFY brandon@example.com",
      "VRFY brandon",
      "VRFY nobody@example.com",
      "VRFY brandon@gmail.com",
      "VRFY",
      "ETRN",
      "ETRN example.com",
      "HELP",
      "AUTH PLAIN AGJyYW5kb24Ad3Jvbmc=", // brandon, "wrong"
      "MAIL FROM:<sender@example.com> SIZE=10240001",
      "MAIL FROM:<sender@example.com>",
      "ETRN example.com",
      "RCPT TO:<nobody@example.com>",
      "RCPT TO:<brandon@gmail.com>",
      "DATA",
      "RSET",
      "NOOP",
      "QUIT",
    ])).map((reply) => reply.trimEnd());
    assert.deepEqual(replies.slice(2), [
      "252 2.0.0 brandon@example.com",
      "252 2.0.0 brandon",
      "550 5.1.1 <nobody@example.com>: Recipient address rejected: " +
      "User unknown in local recipient table",
      "554 5.7.1 <brandon@gmail.com>: Relay access denied",
      "501 5.5.4 Syntax: VRFY address",
      "500 Syntax: ETRN domain",
      "459 <example.com>: service unavailable",
      "500 5.5.2 Error: command not recognized",
      "535 5.7.8 Error: authentication failed: authentication failure",
      "552 5.3.4 Message size exceeds fixed limit",
      "250 2.1.0 Ok",
      "503 Error: MAIL transaction in progress",
      "550 5.1.1 <nobody@example.com>: Recipient address rejected: " +
      "User unknown in local recipient table",
      "554 5.7.1 <brandon@gmail.com>: Relay access denied",
      "554 5.5.1 Error: no valid recipients",
      "250 2.0.0 Ok",
      "250 2.0.0 Ok",
      "221 2.0.0 Bye",
    ]);
  });
});

Deno.test("EHLO after AUTH still lists AUTH, in Postfix's place", async () => {
  await withPlayground(async ({ port }) => {
    const replies = await rawSession(port, [
      "EHLO client.example.com",
      "AUTH PLAIN AGJyYW5kb24AYWJjMTIz", // brandon / abc123
      "EHLO client.example.com",
      "QUIT",
    ]);
    const [, before, auth, after] = replies; // the greeting first
    assert.match(auth, /^235 2\.7\.0 /);
    assert.equal(after, before);
    assert.match(after, /250-STARTTLS\r\n250-AUTH PLAIN LOGIN CRAM-MD5\r\n250-ENHANCEDSTATUSCODES/);
  });
});

Deno.test("postfixReply: the library's words become Postfix's", () => {
  const at = (context?: string | false, inTransaction = false, enhancedCode = "2.0.0") => ({
    context,
    inTransaction,
    authAllowed: true,
    enhancedCode,
  });
  assert.deepEqual(postfixReply(250, "Accepted", at("MAIL_FROM_OK")), [250, "2.1.0 Ok"]);
  assert.deepEqual(postfixReply(250, "Accepted", at("RCPT_TO_OK")), [250, "2.1.5 Ok"]);
  assert.deepEqual(postfixReply(250, "Ok: queued as 0A1B2C3D4E", at("DATA_OK")), [
    250,
    "2.0.0 Ok: queued as 0A1B2C3D4E",
  ]);
  assert.deepEqual(postfixReply(221, "Bye", at()), [221, "2.0.0 Bye"]);
  assert.deepEqual(
    postfixReply(552, "Error: message exceeds fixed maximum message size 10240000", at()),
    [552, "5.3.4 Message size exceeds fixed limit"],
  );
  assert.deepEqual(postfixReply(503, "Error: need RCPT command", at(undefined, true, "5.5.1")), [
    554,
    "5.5.1 Error: no valid recipients",
  ]);
  assert.deepEqual(postfixReply(503, "Error: need RCPT command", at(undefined, false, "5.5.1")), [
    503,
    "5.5.1 Error: need RCPT command",
  ]);
  assert.deepEqual(postfixReply(538, "Error: Must issue a STARTTLS command first", at()), [
    503,
    "5.5.1 Error: authentication not enabled",
  ]);
  assert.deepEqual(postfixReply(530, "x", at()), [530, "5.7.0 Authentication required"]);
  assert.deepEqual(postfixReply(530, "x", { ...at(), authAllowed: false }), [
    530,
    "5.7.0 Must issue a STARTTLS command first",
  ]);
  // A text that already has its enhanced code is kept; the greeting gets none.
  assert.deepEqual(postfixReply(451, "4.3.0 Error: queue file write error", at()), [
    451,
    "4.3.0 Error: queue file write error",
  ]);
  assert.deepEqual(postfixReply(220, "mail.example.com ESMTP", at(false)), [
    220,
    "mail.example.com ESMTP",
  ]);
});

Deno.test("ehloKeywords: Postfix's order, VRFY and ETRN added, AUTH only where allowed", () => {
  const library = [
    "PIPELINING",
    "8BITMIME",
    "ENHANCEDSTATUSCODES",
    "DSN",
    "AUTH PLAIN LOGIN CRAM-MD5",
    "STARTTLS",
    "SIZE 10240000",
  ];
  assert.deepEqual(ehloKeywords(library, true), [
    "PIPELINING",
    "SIZE 10240000",
    "VRFY",
    "ETRN",
    "STARTTLS",
    "AUTH PLAIN LOGIN CRAM-MD5",
    "ENHANCEDSTATUSCODES",
    "8BITMIME",
    "DSN",
  ]);
  assert.ok(!ehloKeywords(library, false).some((line) => line.startsWith("AUTH")));
  assert.equal(ehloKeywords(["XNEW", "PIPELINING"], true).at(-1), "XNEW");
});

Deno.test("etrnReply and vrfyReply: Postfix's texts", () => {
  assert.deepEqual(etrnReply([], false), [500, "Syntax: ETRN domain"]);
  assert.deepEqual(etrnReply(["a", "b"], false), [500, "Syntax: ETRN domain"]);
  assert.deepEqual(etrnReply(["@example.com"], false), [459, "<example.com>: service unavailable"]);
  assert.deepEqual(etrnReply(["bad..name"], false), [501, "Error: invalid parameter syntax"]);
  assert.deepEqual(etrnReply(["example.com"], true), [503, "Error: MAIL transaction in progress"]);
  const check = (address: string) =>
    address === "brandon@example.com"
      ? null
      : Object.assign(new Error(`5.1.1 <${address}>: unknown`), { responseCode: 550 });
  assert.deepEqual(vrfyReply("Brandon <brandon@example.com>", check), [
    252,
    "2.0.0 Brandon <brandon@example.com>",
  ]);
  assert.deepEqual(vrfyReply("x@example.com", check), [550, "5.1.1 <x@example.com>: unknown"]);
  assert.deepEqual(vrfyReply("", check), [501, "5.5.4 Syntax: VRFY address"]);
});

Deno.test("postfixReply: a timeout, too many errors and a second AUTH, as Postfix words them", () => {
  const at = { context: undefined, inTransaction: false, authAllowed: true, enhancedCode: "4.4.2" };
  assert.deepEqual(postfixReply(421, "Timeout - closing connection", at), [
    421,
    "4.4.2 mail.example.com Error: timeout exceeded",
  ]);
  assert.deepEqual(postfixReply(421, "Error: too many unrecognized commands", at), [
    421,
    "4.7.0 mail.example.com Error: too many errors",
  ]);
  assert.deepEqual(postfixReply(503, "Error: No identity changes permitted", at), [
    503,
    "5.5.1 Error: already authenticated",
  ]);
});
