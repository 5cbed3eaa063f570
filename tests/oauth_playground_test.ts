/**
 * OAuth 2.0 tokens against the playground: XOAUTH2 and OAUTHBEARER offered
 * only under TLS (the book's plain EHLO unchanged), a right token, a wrong
 * one (the JSON challenge, then 535), `--token`, the banner's commands, and
 * `login.ts --oauth2` run as a reader types it: the token from
 * SMTP_OAUTH2_TOKEN or from the prompt (piped, and on a pseudo-terminal),
 * over `--starttls` and `--tls`, and refused on a plain connection.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { SMTP, SMTPAuthenticationError } from "../lib/smtp.ts";
import { OAuth2Exchange } from "../lib/oauth.ts";
import type { Playground } from "../playground/server.ts";
import { banner, serverArgument } from "../playground/main.ts";
import {
  DEFAULT_TOKENS,
  parseBearerResponse,
  parseTokens,
  withoutOAuth,
} from "../playground/oauth.ts";
import { FileMailroom } from "../playground/mailroom.ts";
import { protocols, runListing, withProvider } from "./playground_run.ts";
import { hasScript, loginOnTerminal } from "./terminal_run.ts";

const FROM = "sender@example.com";
const TO = "brandon@example.com";
const TOKEN = "ya29.playground";
const FAILED = "535 5.7.8 Error: authentication failed: authentication failure";
const b64 = (text: string) => Buffer.from(text).toString("base64");
const unb64 = (text: string) => Buffer.from(text, "base64").toString();

/** A provider-mode playground, its CA, and its three servers as the listings take them. */
function withOAuthPlayground(
  body: (
    playground: Playground,
    ca: { path: string; pem: string[] },
    servers: { book: string; tls: string; submission: string },
  ) => Promise<void>,
  tokens?: Record<string, string>,
): Promise<void> {
  return withProvider((playground, pem) => {
    const at = (port: number) => serverArgument(playground.hostname, port);
    return body(playground, { path: playground.caPath, pem }, {
      book: at(playground.port),
      tls: at(playground.tlsPort!),
      submission: at(playground.submissionPort!),
    });
  }, tokens);
}

Deno.test("book port: the plain EHLO lists no OAuth and refuses it; after STARTTLS both are offered", async () => {
  await withOAuthPlayground(async ({ dataDir }, ca, { book }) => {
    const smtp = await SMTP.connect(book, { caCerts: ca.pem });
    await smtp.ehlo();
    assert.equal(smtp.esmtpFeatures.get("auth")?.trim(), "PLAIN LOGIN CRAM-MD5", "the page's EHLO");
    const xoauth2 = b64(`user=brandon\x01auth=Bearer ${TOKEN}\x01\x01`);
    assert.deepEqual(await smtp.docmd("AUTH", `XOAUTH2 ${xoauth2}`), [
      504,
      "5.5.4 Error: Unrecognized authentication type",
    ]);
    assert.deepEqual((await smtp.docmd("AUTH", "OAUTHBEARER"))[0], 504);
    await smtp.starttls();
    await smtp.ehlo();
    assert.equal(
      smtp.esmtpFeatures.get("auth")?.trim(),
      "PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER",
    );
    assert.deepEqual(await smtp.loginOAuth2("brandon", TOKEN), [
      235,
      "2.7.0 Authentication successful",
    ]);
    await smtp.sendmail(FROM, [TO], "Subject: oauth\n\nhello\n");
    await smtp.quit();
    assert.deepEqual(await protocols(dataDir), ["ESMTPSA"]);
  });
});

Deno.test("XOAUTH2: a right token is 235; a wrong one gets the JSON challenge, then 535", async () => {
  await withOAuthPlayground(async (_playground, ca, { tls }) => {
    const smtp = await SMTP.connect(tls, { tls: true, caCerts: ca.pem });
    await smtp.ehlo();
    const wrong = b64(`user=brandon\x01auth=Bearer ya29.wrong\x01\x01`);
    const [code, challenge] = await smtp.docmd("AUTH", `XOAUTH2 ${wrong}`);
    assert.equal(code, 334);
    assert.deepEqual(JSON.parse(unb64(challenge)), {
      status: "401",
      schemes: "bearer",
      scope: "https://mail.example.com/",
    });
    assert.deepEqual(await smtp.docmd(""), [535, FAILED.slice(4)]); // the empty answer
    // The helper's own XOAUTH2, as a server that lists only XOAUTH2 gets it.
    const exchange = new OAuth2Exchange("XOAUTH2", "brandon", TOKEN, smtp.host, smtp.port);
    assert.deepEqual(await smtp.auth("XOAUTH2", exchange.answer), [
      235,
      "2.7.0 Authentication successful",
    ]);
    smtp.close();
  });
});

Deno.test("OAUTHBEARER: wrong token (^A answer, 535), another's token (400), no initial response", async () => {
  await withOAuthPlayground(async (_playground, ca, { tls }) => {
    const smtp = await SMTP.connect(tls, { tls: true, caCerts: ca.pem });
    const wrong = await assert.rejects(smtp.loginOAuth2("brandon", "ya29.wrong"), (error) => {
      assert.ok(error instanceof SMTPAuthenticationError);
      assert.equal(
        error.message,
        `the server refused the token: status invalid_token (expired or revoked): ${FAILED}`,
      );
      return true;
    });
    assert.equal(wrong, undefined);
    await assert.rejects(
      smtp.loginOAuth2("alice", TOKEN),
      /^SMTPAuthenticationError: the server refused the token: status invalid_request \(a malformed/,
    );
    // No initial response: an empty 334, then the response on its own line.
    assert.deepEqual(await smtp.docmd("AUTH", "OAUTHBEARER"), [334, ""]);
    const response =
      `n,a=brandon,\x01host=127.0.0.1\x01port=${smtp.port}\x01auth=Bearer ${TOKEN}\x01\x01`;
    assert.deepEqual(await smtp.docmd(b64(response)), [235, "2.7.0 Authentication successful"]);
    assert.deepEqual(await smtp.docmd("AUTH", "OAUTHBEARER"), [
      503,
      "5.5.1 Error: already authenticated",
    ]);
    smtp.close();
  });
});

Deno.test("OAUTHBEARER's response parsed as RFC 7628 writes it, and a malformed one refused", async () => {
  assert.deepEqual(
    parseBearerResponse("n,a=a=2Cb=3Dc,\x01host=h\x01port=1\x01auth=Bearer T\x01\x01"),
    { user: "a,b=c", token: "T" },
  );
  assert.deepEqual(parseBearerResponse("n,,\x01auth=Bearer T\x01\x01"), { token: "T" });
  assert.equal(parseBearerResponse("n,a=x,auth=Bearer T\x01\x01"), null); // no ^A after the header
  assert.equal(parseBearerResponse("n,a=x=41,\x01auth=Bearer T\x01\x01"), null); // =41 is not =2C/=3D
  assert.equal(parseBearerResponse("n,,\x01host=h\x01\x01"), null); // no auth=
  await withOAuthPlayground(async (_playground, ca, { tls }) => {
    const smtp = await SMTP.connect(tls, { tls: true, caCerts: ca.pem });
    await smtp.ehlo();
    assert.deepEqual(await smtp.docmd("AUTH", `OAUTHBEARER ${b64("n,,auth=x")}`), [
      501,
      "5.5.4 Error: invalid userdata",
    ]);
    smtp.close();
  });
});

Deno.test("--token: the given tokens replace the default one; a bad value is refused", async () => {
  assert.deepEqual(parseTokens([]), DEFAULT_TOKENS);
  assert.deepEqual(parseTokens(["Alice:tok.en-1~+/=="]), { alice: "tok.en-1~+/==" });
  assert.throws(() => parseTokens(["alice:has space"]), /^Error: --token takes user:token/);
  assert.throws(() => parseTokens(["alice"]), /--token takes user:token/);
  assert.deepEqual(withoutOAuth(["SIZE 1", "AUTH PLAIN XOAUTH2 OAUTHBEARER"]), [
    "SIZE 1",
    "AUTH PLAIN",
  ]);
  await withOAuthPlayground(async (_playground, ca, { tls }) => {
    const smtp = await SMTP.connect(tls, { tls: true, caCerts: ca.pem });
    await assert.rejects(smtp.loginOAuth2("brandon", TOKEN), SMTPAuthenticationError);
    assert.deepEqual((await smtp.loginOAuth2("alice", "ya29.alice"))[0], 235);
    smtp.close();
  }, { alice: "ya29.alice" });
});

Deno.test("the banner prints the login.ts --oauth2 commands with the practice token", () => {
  const playground: Playground = {
    port: 2525,
    tlsPort: 2465,
    submissionPort: 2527,
    hostname: "127.0.0.1",
    dataDir: ".playground",
    caPath: ".playground/ca.pem",
    certificatesCreated: false,
    mailroom: new FileMailroom(".playground", ["brandon"]),
    close: () => Promise.resolve(),
  };
  const lines = banner(playground, { brandon: "abc123" });
  const at = lines.indexOf(
    "OAuth 2.0 (XOAUTH2, OAUTHBEARER; under TLS only): user brandon, token ya29.playground",
  );
  assert.ok(at > 0, lines.join("\n"));
  assert.deepEqual(lines.slice(at + 1, at + 4), [
    "  deno run -N --cert .playground/ca.pem login.ts --oauth2 --starttls 127.0.0.1:2525 " +
    "sender@example.com brandon@example.com",
    "  deno run -N --cert .playground/ca.pem login.ts --oauth2 --tls 127.0.0.1:2465 " +
    "sender@example.com brandon@example.com",
    "  (or SMTP_OAUTH2_TOKEN=ya29.playground and --allow-env=SMTP_OAUTH2_TOKEN before login.ts)",
  ]);
  const book = banner({ ...playground, tlsPort: undefined, submissionPort: undefined }, {
    brandon: "abc123",
  }, { alice: "t0k" });
  assert.ok(
    book.includes("OAuth 2.0 (XOAUTH2, OAUTHBEARER; under TLS only): user alice, token t0k"),
  );
  assert.equal(book.filter((line) => line.includes("login.ts --oauth2")).length, 1);
});

// ---- login.ts --oauth2, as a reader types it ----

const ENV = ["--allow-env=SMTP_OAUTH2_TOKEN"];

Deno.test("login.ts --oauth2 --starttls: the token from SMTP_OAUTH2_TOKEN, no prompt for it", async () => {
  await withOAuthPlayground(async ({ dataDir }, ca, { book }) => {
    const result = await runListing(
      [...ENV, "--cert", ca.path],
      "login.ts",
      ["--oauth2", "--starttls", book, FROM, TO],
      "brandon\n",
      { SMTP_OAUTH2_TOKEN: TOKEN },
    );
    assert.equal(result.stdout, "Enter username: Message sent to 1 recipient\n");
    assert.equal(result.stderr, "");
    assert.equal(result.code, 0);
    assert.deepEqual(await protocols(dataDir), ["ESMTPSA"]);
  });
});

Deno.test("login.ts --oauth2 --tls: the token at the prompt when Deno may not read the variable", async () => {
  await withOAuthPlayground(async ({ dataDir }, ca, { tls }) => {
    // The variable is set, but without --allow-env login.ts must not read it (nor make Deno ask).
    const result = await runListing(
      ["--cert", ca.path],
      "login.ts",
      ["--oauth2", "--tls", tls, FROM, TO],
      `brandon\n${TOKEN}\n`,
      { SMTP_OAUTH2_TOKEN: "ya29.not-this-one" },
    );
    assert.equal(result.stdout, "Enter username: Message sent to 1 recipient\n");
    assert.equal(result.stderr, "Enter OAuth 2.0 access token: \n"); // getpass off a terminal
    assert.equal(result.code, 0);
    assert.deepEqual(await protocols(dataDir), ["ESMTPSA"]);
  });
});

Deno.test("login.ts --oauth2 with a wrong token: Authentication failed in words, the token nowhere", async () => {
  await withOAuthPlayground(async ({ dataDir }, ca, { submission }) => {
    const token = "ya29.expired-token-123";
    const result = await runListing(
      [...ENV, "--cert", ca.path],
      "login.ts",
      ["--oauth2", "--starttls", submission, FROM, TO],
      "brandon\n",
      { SMTP_OAUTH2_TOKEN: token },
    );
    assert.equal(
      result.stdout,
      "Enter username: Authentication failed: the server refused the token: " +
        `status invalid_token (expired or revoked): ${FAILED}\n`,
    );
    assert.equal(result.code, 1);
    assert.ok(!result.stdout.includes(token) && !result.stderr.includes(token));
    assert.deepEqual(await protocols(dataDir), []);
  });
});

Deno.test("the playground's recorded sessions mask the token, right or wrong, XOAUTH2 too", async () => {
  await withOAuthPlayground(async ({ dataDir }, ca, { tls, submission }) => {
    const wrong = "ya29.wrong-token-456";
    for (
      const [server, flag, token] of [[tls, "--tls", TOKEN], [submission, "--starttls", wrong]]
    ) {
      await runListing(
        [...ENV, "--cert", ca.path],
        "login.ts",
        ["--oauth2", flag, server, FROM, TO],
        "brandon\n",
        { SMTP_OAUTH2_TOKEN: token },
      );
    }
    const smtp = await SMTP.connect(tls, { tls: true, caCerts: ca.pem });
    await smtp.ehlo();
    const exchange = new OAuth2Exchange("XOAUTH2", "brandon", wrong, smtp.host, smtp.port);
    await assert.rejects(smtp.auth("XOAUTH2", exchange.answer), SMTPAuthenticationError);
    await smtp.quit();
    // Each line is on disk (writeSync) as it passes: the AUTH lines before their replies came.
    let recorded = "";
    for await (const entry of Deno.readDir(`${dataDir}/sessions`)) {
      recorded += await Deno.readTextFile(`${dataDir}/sessions/${entry.name}`);
    }
    assert.match(recorded, /"line":"AUTH OAUTHBEARER \*{8}"/);
    assert.match(recorded, /"line":"AUTH XOAUTH2 \*{8}"/);
    for (const secret of [TOKEN, wrong, b64(`user=brandon\x01auth=Bearer ${wrong}\x01\x01`)]) {
      assert.ok(!recorded.includes(secret), `${secret} recorded`);
    }
  });
});

Deno.test("login.ts --oauth2 without TLS: refused before AUTH, with a hint to add --starttls", async () => {
  await withOAuthPlayground(async (_playground, ca, { book }) => {
    const result = await runListing(
      [...ENV, "--cert", ca.path],
      "login.ts",
      ["--oauth2", book, FROM, TO],
      "brandon\n",
      { SMTP_OAUTH2_TOKEN: TOKEN },
    );
    assert.equal(
      result.stdout,
      "Enter username: Authentication failed: The connection is not under TLS: refusing to send " +
        "an OAuth 2.0 token in plain text (STARTTLS or TLS first, or allowPlaintext for a test " +
        "server); the connection is closed and nothing more was sent\n",
    );
    const hint = result.stderr.split("\n");
    assert.equal(
      hint[0],
      "login.ts: an OAuth 2.0 token goes only over TLS, and the server offers STARTTLS. " +
        "Try --starttls:",
    );
    assert.match(hint[1], /^login\.ts: {3}deno run -N login\.ts --starttls --oauth2 127\.0\.0\.1:/);
    assert.equal(result.code, 1);
    assert.ok(!result.stderr.includes(TOKEN));
  });
});

Deno.test("login.ts --oauth2: end of input before the token, exit 1", async () => {
  const result = await runListing(
    [],
    "login.ts",
    ["--oauth2", "127.0.0.1:9", FROM, TO],
    "brandon\n",
  );
  assert.equal(result.code, 1);
  assert.match(result.stderr, /login\.ts: end of input before a user name and token\n$/);
});

Deno.test("--oauth2 is login.ts's alone; its help says how to get a token", async () => {
  const simple = await runListing([], "simple.ts", ["--oauth2", "127.0.0.1:9", FROM, TO]);
  assert.equal(simple.code, 2);
  assert.match(simple.stderr, /^simple\.ts: unknown option '--oauth2'\n/);
  const help = await runListing([], "login.ts", ["-h"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /\n {2}--oauth2 {11}an OAuth 2\.0 access token instead of a password/);
  assert.match(help.stdout, /device-code flow/);
  assert.match(help.stdout, /https:\/\/mail\.google\.com\//);
  assert.match(help.stdout, /https:\/\/outlook\.office\.com\/SMTP\.Send with offline_access/);
});

Deno.test({
  name: "login.ts --oauth2 on a terminal: the token typed without echo, sent over --tls",
  ignore: !hasScript,
  fn: async () => {
    await withOAuthPlayground(async ({ dataDir }, ca, { tls }) => {
      const run = await loginOnTerminal(["--oauth2", "--tls", tls, FROM, TO], [
        { waitFor: "Enter username: ", keys: "brandon\r" },
        { waitFor: "Enter OAuth 2.0 access token: ", keys: `${TOKEN}\r` },
      ], ["--cert", ca.path]);
      assert.equal(run.code, 0, run.seen);
      assert.match(run.seen, /Enter OAuth 2\.0 access token: \r?\nMessage sent to 1 recipient/);
      assert.ok(!run.seen.includes(TOKEN), "the token is not echoed");
      assert.deepEqual(await protocols(dataDir), ["ESMTPSA"]);
    });
  },
});
