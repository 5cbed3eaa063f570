/**
 * Interoperability: every listing against a real Postfix on loopback, run as a reader runs it
 * (`deno run -N ... X.ts server fromaddr toaddr`), then the mailbox read back to see that the
 * message arrived as sent. Postfix plays the book's mail.example.com (ports 25, 2587, 2588) and
 * a mail provider (submission on 5870, implicit TLS on 4650); see `tests/interop/rig.ts`.
 *
 * Runs only when asked, as root, after `tests/interop/postfix.sh` has set Postfix up:
 *
 * ```sh
 * bash tests/interop/postfix.sh install configure start
 * SMTP_INTEROP=postfix deno task test:interop
 * bash tests/interop/postfix.sh stop
 * ```
 *
 * Otherwise every test here is ignored, with one line saying so, but the one that reads the set-up
 * script's usage (which changes nothing). When the suite is asked for but
 * the set-up is missing, one test fails with one line saying what is missing and how to set it
 * up, and the others are ignored. Each message carries a unique envelope sender, which is how a
 * test finds it in the mbox.
 *
 * @module
 */

import assert from "node:assert/strict";
import { mechanisms, PREFERRED_MECHANISMS } from "../../lib/auth.ts";
import { SMTP, SMTPAuthenticationError, SMTPNotSupportedError } from "../../lib/smtp.ts";
import {
  assertNoPassword,
  CA_FILE,
  type Delivered,
  delivered,
  IMPLICIT_TLS_PORT,
  logEnd,
  NO_TLS_PORT,
  PASSWORD,
  PLAIN_AUTH_PORT,
  rawEhloLines,
  runListing,
  setUpProblem,
  SIZE_LIMIT,
  SUBMISSION_PORT,
  TLS_PORT,
  waitForDelivery,
  waitForSession,
} from "./rig.ts";

const ENABLED = Deno.env.get("SMTP_INTEROP") === "postfix";
if (!ENABLED) {
  console.log(
    "postfix_test.ts: skipped; to run (as root; it reconfigures this machine's Postfix): " +
      "bash tests/interop/postfix.sh install configure start, " +
      "then SMTP_INTEROP=postfix deno task test:interop",
  );
}
/** One line saying what is missing, when the suite is asked for but Postfix is not set up. */
const PROBLEM = ENABLED ? await setUpProblem() : undefined;

const RUN = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
let serial = 0;

/** A sender address no other message in the mailbox has. */
function uniqueSender(what: string): string {
  return `${what}-${RUN}-${++serial}@example.com`;
}

/** The message each listing sends, as in LISTINGS.md (LF line endings). */
function listingMessage(prog: string, toaddr: string, fromaddr: string): string {
  return `To: ${toaddr}\nFrom: ${fromaddr}\nSubject: Test Message from ${prog}\n\nHello,\n\n` +
    `This is a test message sent to you from the ${prog} program\n` +
    "in Foundations of Python Network Programming.\n";
}

/** Sends a small message in-process and waits for it to arrive. */
async function sendAndWait(sender: string, body: string): Promise<Delivered> {
  const connection = await SMTP.connect(`127.0.0.1:${TLS_PORT}`);
  await connection.sendmail(sender, ["brandon@localhost"], `Subject: ${sender}\n\n${body}`);
  await connection.quit();
  return await waitForDelivery(sender);
}

/**
 * Asserts nothing from `senders` was delivered: a message sent after them is waited for first,
 * so anything they had managed to queue would have arrived by then.
 */
async function assertNothingDelivered(...senders: string[]): Promise<void> {
  await sendAndWait(uniqueSender("sentinel"), "sent after a refusal\n");
  for (const sender of senders) assert.deepEqual(await delivered(sender), [], sender);
}

/** Asserts the listing's message arrived with its three headers and its body intact. */
async function assertListingDelivered(prog: string, sender: string): Promise<Delivered> {
  const message = await waitForDelivery(sender);
  const sent = listingMessage(prog, "brandon@localhost", sender);
  const sentHeaders = sent.slice(0, sent.indexOf("\n\n"));
  const sentBody = sent.slice(sent.indexOf("\n\n") + 2);
  // Postfix adds Return-Path, Delivered-To, Received... before, Message-Id and Date after.
  const to = message.headers.indexOf("To: brandon@localhost");
  assert.notEqual(to, -1, `To: header in ${message.headers.join("\n")}`);
  assert.deepEqual(message.headers.slice(to, to + 3), sentHeaders.split("\n"));
  assert.equal(message.body, sentBody);
  return message;
}

/** CR and LF as the transcript shows them: `\\r`, `\\n`. */
function escapeCrLf(text: string): string {
  return text.replaceAll("\r", "\\r").replaceAll("\n", "\\n");
}

/** The transcript's two lines for a one-line reply. */
function exchange(reply: string, code: number): string[] {
  return [`reply: b'${code} ${reply}\\r\\n'`, `reply: retcode (${code}); Msg: b'${reply}'`];
}

/** The transcript of `ehlo [127.0.0.1]` answered with `ehloLines`. */
function ehloTranscript(ehloLines: string[]): string[] {
  return [
    `send: 'ehlo [127.0.0.1]\\r\\n'`,
    ...ehloLines.map((line) => `reply: b'${line}\\r\\n'`),
    `reply: retcode (250); Msg: b'${ehloLines.map((line) => line.slice(4)).join("\\n")}'`,
  ];
}

/** Declares a test that runs only when SMTP_INTEROP=postfix and Postfix is set up. */
function interop(name: string, fn: () => Promise<void>): void {
  Deno.test({ name: `postfix: ${name}`, ignore: !ENABLED || PROBLEM !== undefined, fn });
}

Deno.test({
  name: "postfix: set-up (the CA, Postfix on every port, brandon's mailbox)",
  ignore: !ENABLED,
  fn() {
    // A string, not an Error: Deno then prints the one line, without a stack.
    if (PROBLEM !== undefined) throw PROBLEM;
  },
});

// Runs always: asking for the usage changes nothing on the machine.
Deno.test("postfix.sh: with no verb or with -h, the usage and the warning, and no verb runs", async () => {
  const script = new URL("postfix.sh", import.meta.url).pathname;
  const usage = async (...args: string[]) => {
    const { code, stdout, stderr } = await new Deno.Command("bash", { args: [script, ...args] })
      .output();
    const decoder = new TextDecoder();
    return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
  };
  const bare = await usage();
  assert.equal(bare.code, 2);
  assert.equal(bare.stdout, "");
  const help = await usage("-h");
  assert.deepEqual(help, { code: 0, stdout: bare.stderr, stderr: "" });
  assert.match(help.stdout, /^usage: bash \S*postfix\.sh VERB\.\.\./);
  assert.match(help.stdout, /WARNING: this changes the machine it runs on/);
  assert.match(help.stdout, /REWRITES THIS MACHINE'S POSTFIX CONFIGURATION/);
  assert.match(help.stdout, /RESETS ITS PASSWORD to abc123/);
  // -h anywhere wins: "stop" would have printed "[postfix.sh] stopped".
  assert.deepEqual(await usage("stop", "--help"), help);
});

const server = `127.0.0.1:${TLS_PORT}`;

interop("simple.ts sends (port 25 by default)", async () => {
  const sender = uniqueSender("simple");
  const run = await runListing("simple.ts", ["127.0.0.1", sender, "brandon@localhost"]);
  assert.deepEqual(run, { code: 0, stdout: "Message sent to 1 recipient\n", stderr: "" });
  await assertListingDelivered("simple.ts", sender);
});

interop("ehlo.ts reports Postfix's SIZE and sends", async () => {
  const sender = uniqueSender("ehlo");
  const run = await runListing("ehlo.ts", [server, sender, "brandon@localhost"]);
  assert.deepEqual(run, {
    code: 0,
    stdout: `Maximum message size is ${SIZE_LIMIT}\nMessage sent to 1 recipient\n`,
    stderr: "",
  });
  await assertListingDelivered("ehlo.ts", sender);
});

interop("ehlo.ts over IPv6 to port 25", async () => {
  const sender = uniqueSender("ehlo6");
  const run = await runListing("ehlo.ts", ["[::1]:25", sender, "brandon@localhost"]);
  assert.deepEqual(run, {
    code: 0,
    stdout: `Maximum message size is ${SIZE_LIMIT}\nMessage sent to 1 recipient\n`,
    stderr: "",
  });
  await assertListingDelivered("ehlo.ts", sender);
});

interop("debug.ts shows the whole conversation with Postfix", async () => {
  const sender = uniqueSender("debug");
  const ehloLines = await rawEhloLines(TLS_PORT);
  assert.ok(ehloLines.includes(`250-SIZE ${SIZE_LIMIT}`), ehloLines.join("\n"));
  assert.ok(ehloLines.includes("250-STARTTLS"), ehloLines.join("\n"));

  const run = await runListing("debug.ts", [server, sender, "brandon@localhost"]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.equal(run.stdout, "Message sent to 1 recipient\n");
  const queueId = /queued as ([0-9A-Z]+)/.exec(run.stderr)?.[1];
  assert.ok(queueId, run.stderr);

  const payload = listingMessage("debug.ts", "brandon@localhost", sender).replaceAll("\n", "\r\n");
  const expected = [
    ...ehloTranscript(ehloLines),
    `send: 'mail FROM:<${sender}> size=${payload.length}\\r\\n'`,
    ...exchange("2.1.0 Ok", 250),
    `send: 'rcpt TO:<brandon@localhost>\\r\\n'`,
    ...exchange("2.1.5 Ok", 250),
    `send: 'data\\r\\n'`,
    ...exchange("End data with <CR><LF>.<CR><LF>", 354),
    `data: (354, b'End data with <CR><LF>.<CR><LF>')`,
    `send: b'${escapeCrLf(payload)}.\\r\\n'`,
    ...exchange(`2.0.0 Ok: queued as ${queueId}`, 250),
    `data: (250, b'2.0.0 Ok: queued as ${queueId}')`,
    `send: 'quit\\r\\n'`,
    ...exchange("2.0.0 Bye", 221),
  ];
  assert.deepEqual(run.stderr.split("\n"), [...expected, ""]);

  const message = await assertListingDelivered("debug.ts", sender);
  assert.ok(message.headers.some((line) => line.includes(`with ESMTP id ${queueId}`)));
});

interop("login.ts logs in as brandon/abc123 on the AUTH-without-TLS port", async () => {
  const sender = uniqueSender("login");
  const run = await runListing(
    "login.ts",
    [`127.0.0.1:${PLAIN_AUTH_PORT}`, sender, "brandon@localhost"],
    { stdin: "brandon\nabc123\n" },
  );
  assert.deepEqual(run, {
    code: 0,
    stdout: "Enter username: Message sent to 1 recipient\n",
    stderr: "Enter password: \n",
  });
  await assertListingDelivered("login.ts", sender);
});

interop("login.ts with a wrong password: Authentication failed: 535", async () => {
  const sender = uniqueSender("login-wrong");
  const run = await runListing(
    "login.ts",
    [`127.0.0.1:${PLAIN_AUTH_PORT}`, sender, "brandon@localhost"],
    { stdin: "brandon\nwrong\n" },
  );
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stdout, /^Enter username: Authentication failed: 535 5\.7\.8 .*\n$/);
  assert.equal(run.stderr, "Enter password: \n");
  await assertNothingDelivered(sender);
});

for (const port of [TLS_PORT, SUBMISSION_PORT]) {
  interop(
    `login.ts on ${port}, where AUTH needs STARTTLS first: the book's line, a hint`,
    async () => {
      const sender = uniqueSender("login-notls");
      const run = await runListing("login.ts", [`127.0.0.1:${port}`, sender, "brandon@localhost"], {
        stdin: `brandon\n${PASSWORD}\n`,
      });
      assert.equal(run.code, 1, run.stdout + run.stderr);
      assert.equal(
        run.stdout,
        "Enter username: Authentication failed: SMTP AUTH extension not supported by server.\n",
      );
      // The book's line stays on stdout; the way out is on stderr.
      assert.ok(run.stderr.startsWith("Enter password: \n"), run.stderr);
      assert.match(run.stderr, /--starttls/);
      await assertNothingDelivered(sender);
    },
  );
}

interop("tls.ts negotiates TLS with the test CA", async () => {
  const sender = uniqueSender("tls");
  const run = await runListing("tls.ts", [server, sender, "brandon@localhost"], { ca: true });
  assert.deepEqual(run, {
    code: 0,
    stdout: "Negotiating TLS....\nUsing TLS connection.\nMessage sent to 1 recipient\n",
    stderr: "",
  });
  const message = await assertListingDelivered("tls.ts", sender);
  // Postfix notes the TLS session in its Received header.
  assert.ok(message.headers.some((line) => /\(using TLSv1\.[23]/.test(line)), message.headers[3]);
});

interop("tls.ts over IPv6: the certificate names ::1 too", async () => {
  const sender = uniqueSender("tls6");
  const run = await runListing("tls.ts", [`[::1]:${TLS_PORT}`, sender, "brandon@localhost"], {
    ca: true,
  });
  assert.equal(
    run.stdout,
    "Negotiating TLS....\nUsing TLS connection.\nMessage sent to 1 recipient\n",
  );
  assert.equal(run.code, 0);
  await assertListingDelivered("tls.ts", sender);
});

interop("tls.ts without the CA refuses the certificate and sends nothing", async () => {
  const sender = uniqueSender("tls-noca");
  const run = await runListing("tls.ts", [server, sender, "brandon@localhost"]);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  const lines = run.stdout.split("\n");
  assert.deepEqual(lines.slice(0, 2), [
    "Negotiating TLS....",
    "Your message may not have been sent!",
  ]);
  assert.match(lines[2], /certificate.*UnknownIssuer|UnknownIssuer.*certificate/);
  assert.deepEqual(lines.slice(3), [""]);
  assert.match(run.stderr, /--cert/);
  await assertNothingDelivered(sender);
});

interop("ehlo.ts to an unknown local user: refused with Postfix's 550", async () => {
  const sender = uniqueSender("unknown");
  const run = await runListing("ehlo.ts", [server, sender, "nosuchuser@localhost"]);
  assert.deepEqual(run, {
    code: 1,
    stdout: `Maximum message size is ${SIZE_LIMIT}\n` +
      "Your message may not have been sent!\n" +
      "Recipients refused: nosuchuser@localhost (550 5.1.1 <nosuchuser@localhost>: " +
      "Recipient address rejected: User unknown in local recipient table)\n",
    stderr: "",
  });
  await assertNothingDelivered(sender);
});

interop("tls.ts relaying to another domain: refused with Postfix's 554", async () => {
  const sender = uniqueSender("relay");
  const run = await runListing("tls.ts", [server, sender, "someone@example.org"], { ca: true });
  assert.deepEqual(run, {
    code: 1,
    stdout: "Negotiating TLS....\nUsing TLS connection.\n" +
      "Your message may not have been sent!\n" +
      "Recipients refused: someone@example.org " +
      "(554 5.7.1 <someone@example.org>: Relay access denied)\n",
    stderr: "",
  });
  await assertNothingDelivered(sender);
});

interop("simple.ts relaying: an uncaught error, nothing on stdout", async () => {
  const sender = uniqueSender("simple-relay");
  const run = await runListing("simple.ts", [server, sender, "someone@example.org"]);
  assert.notEqual(run.code, 0);
  assert.equal(run.stdout, "");
  assert.match(run.stderr, /SMTPRecipientsRefused.*554 5\.7\.1 <someone@example\.org>: Relay/);
  await assertNothingDelivered(sender);
});

interop("AUTH PLAIN, LOGIN and CRAM-MD5 after STARTTLS; a wrong password is 535", async () => {
  const caCerts = [await Deno.readTextFile(CA_FILE)];
  for (const mechanism of PREFERRED_MECHANISMS) {
    for (const [password, expected] of [["abc123", 235], ["wrong", 535]] as const) {
      const connection = await SMTP.connect(`localhost:${TLS_PORT}`, { caCerts });
      try {
        await connection.ehlo();
        assert.ok(!connection.hasExtn("auth"), "no AUTH before STARTTLS");
        await connection.starttls();
        await connection.ehlo();
        assert.deepEqual(connection.esmtpFeatures.get("auth")?.trim(), "PLAIN LOGIN CRAM-MD5");
        const answer = mechanisms("brandon", password)[mechanism];
        const code = await connection.auth(mechanism, answer).then(
          ([code]) => code,
          (error) => error instanceof SMTPAuthenticationError ? error.code : Promise.reject(error),
        );
        assert.equal(code, expected, `${mechanism} with ${password}`);
        await connection.quit();
      } finally {
        connection.close();
      }
    }
  }
});

interop(
  "lines starting with '.' and bare LF / bare CR arrive as sent, nothing smuggled",
  async () => {
    const sender = uniqueSender("dots");
    const evil = uniqueSender("smuggled");
    // If the helper let a bare LF or CR through, or missed a dot, the server could see an end of
    // data here and take what follows as commands: a second message from `evil`.
    const smuggle = (eol: string) =>
      [".", "MAIL FROM:<" + evil + ">", "RCPT TO:<brandon@localhost>", "DATA", "smuggled", "."]
        .join(eol) + eol;
    const body = ".leading dot\n..two dots\n.\nbare LF\nbare CR\rCRLF\r\n" +
      "x\n" + smuggle("\n") + "y\r" + smuggle("\r") + "z\r\n" + smuggle("\r\n") + "last line";
    const message = await sendAndWait(sender, body);
    assert.equal(message.body, body.replaceAll(/\r\n|\r/g, "\n") + "\n");
    await assertNothingDelivered(evil);
  },
);

// ---- Like a mail provider: submission (STARTTLS required, then AUTH) and implicit TLS ----

const SUBMISSION = `127.0.0.1:${SUBMISSION_PORT}`;
const IMPLICIT_TLS = `127.0.0.1:${IMPLICIT_TLS_PORT}`;
/** For the helper's steps in the tests below: a failure should not wait RFC 5321's minutes. */
const STEP_TIMEOUT = 20_000;

/** Asserts Postfix's Received header says the message came under TLS, after AUTH (ESMTPSA). */
function assertCameUnderTlsWithAuth(message: Delivered): void {
  const received = message.headers.join("\n");
  assert.match(received, /\(using TLSv1\.[23]/);
  assert.match(received, /with ESMTPSA id /);
}

/** The line a sender refused by the provider-like ports gets: no MAIL without AUTH. */
function senderRefused(sender: string): string {
  return `Sender ${sender} refused: 554 5.7.1 <${sender}>: Sender address rejected: Access denied`;
}

/**
 * Runs `login.ts flag address` as brandon with the test CA; asserts it sent, and that the message
 * came under TLS after AUTH. Returns Postfix's count of the session's commands (`service`'s log).
 */
async function loginUnderTls(
  flag: "--starttls" | "--tls",
  address: string,
  service: string,
): Promise<string> {
  const sender = uniqueSender(`login${flag.slice(1)}`);
  const since = await logEnd();
  const run = await runListing(
    "login.ts",
    [flag, address, sender, "brandon@localhost"],
    { ca: true, stdin: `brandon\n${PASSWORD}\n` },
  );
  assert.deepEqual(run, {
    code: 0,
    stdout: "Enter username: Message sent to 1 recipient\n",
    stderr: "Enter password: \n",
  });
  assertCameUnderTlsWithAuth(await assertListingDelivered("login.ts", sender));
  return await waitForSession(service, since);
}

/**
 * Runs `prog flag address` with the test CA as a new sender (`what`), to a provider-like port that
 * refuses MAIL without AUTH: asserts exit 1, stdout `before` and then the book's two lines for the
 * refusal, nothing on stderr, and nothing delivered.
 */
async function assertRefusedWithoutAuth(
  what: string,
  [prog, flag, address]: [string, string, string],
  before: string,
): Promise<void> {
  const sender = uniqueSender(what);
  const run = await runListing(prog, [flag, address, sender, "brandon@localhost"], { ca: true });
  assert.deepEqual(run, {
    code: 1,
    stdout: `${before}Your message may not have been sent!\n${senderRefused(sender)}\n`,
    stderr: "",
  });
  await assertNothingDelivered(sender);
}

interop("login.ts --starttls on the submission port logs in and sends", async () => {
  // EHLO, STARTTLS, EHLO again, then the listing's own steps.
  assert.equal(
    await loginUnderTls("--starttls", SUBMISSION, "postfix/submission"),
    "ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=8",
  );
});

interop("login.ts --starttls with a wrong password: Authentication failed: 535", async () => {
  const sender = uniqueSender("login-starttls-wrong");
  const run = await runListing(
    "login.ts",
    ["--starttls", SUBMISSION, sender, "brandon@localhost"],
    { ca: true, stdin: "brandon\nwrong\n" },
  );
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stdout, /^Enter username: Authentication failed: 535 5\.7\.8 .*\n$/);
  await assertNothingDelivered(sender);
});

interop("login.ts --tls on the implicit-TLS port logs in and sends", async () => {
  assert.equal(
    await loginUnderTls("--tls", IMPLICIT_TLS, "postfix/smtps"),
    "ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6",
  );
});

interop("tls.ts --starttls where STARTTLS is offered: upgrades and sends", async () => {
  const sender = uniqueSender("tls-starttls");
  const run = await runListing("tls.ts", ["--starttls", server, sender, "brandon@localhost"], {
    ca: true,
  });
  assert.deepEqual(run, {
    code: 0,
    stdout: "Negotiating TLS....\nUsing TLS connection.\nMessage sent to 1 recipient\n",
    stderr: "",
  });
  const message = await assertListingDelivered("tls.ts", sender);
  assert.ok(message.headers.some((line) => /\(using TLSv1\.[23]/.test(line)));
});

interop(
  "tls.ts --starttls on the submission port: upgrades, then MAIL without AUTH is refused",
  () =>
    assertRefusedWithoutAuth(
      "tls-submission",
      ["tls.ts", "--starttls", SUBMISSION],
      "Negotiating TLS....\nUsing TLS connection.\n",
    ),
);

interop(
  "tls.ts --tls: TLS from the first byte, no STARTTLS; MAIL without AUTH is refused",
  () =>
    assertRefusedWithoutAuth(
      "tls-tls",
      ["tls.ts", "--tls", IMPLICIT_TLS],
      "Using TLS connection.\n",
    ),
);

interop(
  "simple.ts --tls: TLS from the first byte; MAIL without AUTH is an uncaught error",
  async () => {
    const sender = uniqueSender("simple-tls");
    const run = await runListing(
      "simple.ts",
      ["--tls", IMPLICIT_TLS, sender, "brandon@localhost"],
      {
        ca: true,
      },
    );
    assert.notEqual(run.code, 0);
    assert.equal(run.stdout, "");
    assert.ok(run.stderr.includes(`SMTPSenderRefused: ${senderRefused(sender)}`), run.stderr);
    await assertNothingDelivered(sender);
  },
);

interop(
  "ehlo.ts --tls reads Postfix's SIZE through TLS; MAIL without AUTH is refused",
  () =>
    assertRefusedWithoutAuth(
      "ehlo-tls",
      ["ehlo.ts", "--tls", IMPLICIT_TLS],
      `Maximum message size is ${SIZE_LIMIT}\n`,
    ),
);

for (const flag of ["--tls", "--starttls"]) {
  interop(
    `debug.ts ${flag} shows the conversation: AUTH offered under TLS, MAIL refused`,
    async () => {
      const sender = uniqueSender(`debug${flag}`);
      const caCerts = [await Deno.readTextFile(CA_FILE)];
      // Under TLS, either way, Postfix offers AUTH and no STARTTLS; before it, the reverse.
      const underTls = await rawEhloLines(IMPLICIT_TLS_PORT, caCerts);
      assert.ok(underTls.includes("250-AUTH PLAIN LOGIN CRAM-MD5"), underTls.join("\n"));
      assert.ok(!underTls.includes("250-STARTTLS"), underTls.join("\n"));
      const beforeTls = await rawEhloLines(SUBMISSION_PORT);
      assert.ok(beforeTls.includes("250-STARTTLS"), beforeTls.join("\n"));
      assert.ok(!beforeTls.some((line) => line.includes("AUTH")), beforeTls.join("\n"));

      const address = flag === "--tls" ? IMPLICIT_TLS : SUBMISSION;
      const run = await runListing("debug.ts", [flag, address, sender, "brandon@localhost"], {
        ca: true,
      });
      assert.equal(run.code, 1, run.stdout + run.stderr);
      assert.equal(run.stdout, `Your message may not have been sent!\n${senderRefused(sender)}\n`);
      const size = listingMessage("debug.ts", "brandon@localhost", sender).replaceAll("\n", "\r\n")
        .length;
      const refusal = `5.7.1 <${sender}>: Sender address rejected: Access denied`;
      const upgrade = flag === "--tls" ? [] : [
        ...ehloTranscript(beforeTls),
        `send: 'STARTTLS\\r\\n'`,
        ...exchange("2.0.0 Ready to start TLS", 220),
      ];
      assert.deepEqual(run.stderr.split("\n"), [
        ...upgrade,
        ...ehloTranscript(underTls),
        `send: 'mail FROM:<${sender}> size=${size}\\r\\n'`,
        ...exchange(refusal, 554),
        `send: 'rset\\r\\n'`,
        ...exchange("2.0.0 Ok", 250),
        "",
      ]);
      await assertNothingDelivered(sender);
    },
  );
}

interop(
  "ehlo.ts without --tls on the implicit-TLS port: no greeting, a hint of --tls",
  async () => {
    const sender = uniqueSender("ehlo-notls");
    const run = await runListing("ehlo.ts", [
      "--timeout",
      "2",
      IMPLICIT_TLS,
      sender,
      "brandon@localhost",
    ]);
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stdout, /^Your message may not have been sent!\n.*greeting.*\n$/);
    assert.match(run.stderr, /--tls/);
  },
);

interop(
  "login.ts --tls on the STARTTLS port: the handshake fails, a hint of --starttls",
  async () => {
    const sender = uniqueSender("login-tls-wrongport");
    const since = await logEnd();
    const run = await runListing("login.ts", ["--tls", SUBMISSION, sender, "brandon@localhost"], {
      ca: true,
      stdin: `brandon\n${PASSWORD}\n`,
    });
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stdout, /^Enter username: Your message may not have been sent!\n.*TLS.*\n$/);
    assert.match(run.stderr, /--starttls/);
    // Postfix saw a TLS ClientHello where a command should be: no AUTH, no MAIL.
    assert.doesNotMatch(await waitForSession("postfix/submission", since), /auth|mail/);
    await assertNothingDelivered(sender);
  },
);

interop(
  "login.ts --starttls without the test CA: refused certificate, a hint of --cert",
  async () => {
    const sender = uniqueSender("login-starttls-noca");
    const since = await logEnd();
    const run = await runListing("login.ts", [
      "--starttls",
      SUBMISSION,
      sender,
      "brandon@localhost",
    ], {
      stdin: `brandon\n${PASSWORD}\n`,
    });
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(
      run.stdout,
      /^Enter username: Your message may not have been sent!\n.*UnknownIssuer.*\n$/,
    );
    assert.match(run.stderr, /--cert/);
    assert.equal(
      await waitForSession("postfix/submission", since),
      "ehlo=1 starttls=0/1 commands=1/2",
    );
    await assertNothingDelivered(sender);
  },
);

interop("the helper: { tls: true } to the implicit-TLS port, login, sendmail", async () => {
  const sender = uniqueSender("lib-tls");
  const caCerts = [await Deno.readTextFile(CA_FILE)];
  const transcript: string[] = [];
  const connection = await SMTP.connect(IMPLICIT_TLS, {
    tls: true,
    caCerts,
    timeout: STEP_TIMEOUT,
    debugLevel: 1,
    debugOutput: (line) => transcript.push(line),
  });
  try {
    assert.equal(connection.isTls, true);
    await connection.login("brandon", PASSWORD);
    const refused = await connection.sendmail(
      sender,
      ["brandon@localhost"],
      `Subject: ${sender}\n\nhi\n`,
    );
    assert.deepEqual(refused, new Map());
    await connection.quit();
  } finally {
    connection.close();
  }
  assert.ok(transcript.some((line) => line.startsWith("send: 'AUTH ")), transcript.join("\n"));
  assertNoPassword(transcript.join("\n"));
  assertCameUnderTlsWithAuth(await waitForDelivery(sender));
});

interop("the helper: { requireTls: true } to the submission port upgrades by itself", async () => {
  const sender = uniqueSender("lib-requiretls");
  const caCerts = [await Deno.readTextFile(CA_FILE)];
  const connection = await SMTP.connect(SUBMISSION, {
    requireTls: true,
    caCerts,
    timeout: STEP_TIMEOUT,
  });
  try {
    assert.equal(connection.isTls, false);
    await connection.login("brandon", PASSWORD);
    assert.equal(connection.isTls, true);
    await connection.sendmail(sender, ["brandon@localhost"], `Subject: ${sender}\n\nhi\n`);
    await connection.quit();
  } finally {
    connection.close();
  }
  assertCameUnderTlsWithAuth(await waitForDelivery(sender));
});

// ---- PIPELINING (RFC 2920): MAIL, RCPT... and DATA in one write ----

interop("debug.ts --pipelining: MAIL, RCPT and DATA go out before their replies", async () => {
  const sender = uniqueSender("debug-pipelining");
  const run = await runListing("debug.ts", [
    "--pipelining",
    "127.0.0.1",
    sender,
    "brandon@localhost",
  ]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.equal(run.stdout, "Message sent to 1 recipient\n");
  const queueId = /queued as ([0-9A-Z]+)/.exec(run.stderr)?.[1];
  assert.ok(queueId, run.stderr);
  const payload = listingMessage("debug.ts", "brandon@localhost", sender).replaceAll("\n", "\r\n");
  assert.deepEqual(run.stderr.split("\n"), [
    ...ehloTranscript(await rawEhloLines(25)),
    `send: 'mail FROM:<${sender}> size=${payload.length}\\r\\n'`,
    `send: 'rcpt TO:<brandon@localhost>\\r\\n'`,
    `send: 'data\\r\\n'`,
    ...exchange("2.1.0 Ok", 250),
    ...exchange("2.1.5 Ok", 250),
    ...exchange("End data with <CR><LF>.<CR><LF>", 354),
    `data: (354, b'End data with <CR><LF>.<CR><LF>')`,
    `send: b'${escapeCrLf(payload)}.\\r\\n'`,
    ...exchange(`2.0.0 Ok: queued as ${queueId}`, 250),
    `data: (250, b'2.0.0 Ok: queued as ${queueId}')`,
    `send: 'quit\\r\\n'`,
    ...exchange("2.0.0 Bye", 221),
    "",
  ]);
  await assertListingDelivered("debug.ts", sender);
});

/**
 * Asserts the transcript shows MAIL, RCPT and DATA sent before the reply to MAIL, and the replies
 * after in order: 250 (MAIL), 250 (RCPT), 354 (DATA).
 */
function assertPipelined(lines: string[]): void {
  const sent = (command: RegExp) =>
    lines.findIndex((line) => line.startsWith("send: ") && command.test(line));
  const replied = (reply: string) =>
    lines.findIndex((line) => line.startsWith(`reply: b'${reply}`));
  const shown = lines.join("\n");
  const [mail, rcpt, data] = [
    sent(/'mail FROM:/),
    sent(/(?:'|\\n)rcpt TO:/),
    sent(/(?:'|\\n)data\\r\\n/),
  ];
  const [mailOk, rcptOk, goAhead] = [
    replied("250 2.1.0 Ok"),
    replied("250 2.1.5 Ok"),
    replied("354 "),
  ];
  assert.ok(mail >= 0 && rcpt >= mail && data >= rcpt, shown);
  assert.ok(data < mailOk && mailOk < rcptOk && rcptOk < goAhead, shown);
}

interop("the helper: pipelined sendmail refuses the same recipients as one at a time", async () => {
  const recipients = ["brandon@localhost", "nosuchuser@localhost", "postmaster@localhost"];
  const unknown = "5.1.1 <nosuchuser@localhost>: Recipient address rejected: " +
    "User unknown in local recipient table";
  const results = [];
  for (const pipelining of [false, true]) {
    const sender = uniqueSender(pipelining ? "lib-pipelined" : "lib-unpipelined");
    const transcript: string[] = [];
    const connection = await SMTP.connect("127.0.0.1:25", {
      pipelining,
      timeout: STEP_TIMEOUT,
      debugLevel: 1,
      debugOutput: (line) => transcript.push(line),
    });
    try {
      const refused = await connection.sendmail(sender, recipients, `Subject: ${sender}\n\nhi\n`);
      await connection.quit();
      results.push({ sender, refused, transcript });
    } finally {
      connection.close();
    }
  }
  const [plain, pipelined] = results;
  assert.deepEqual(plain.refused, new Map([["nosuchuser@localhost", [550, unknown]]]));
  assert.deepEqual(pipelined.refused, plain.refused);
  // Only the second went out in one write: the first waited for each reply.
  assert.throws(() => assertPipelined(plain.transcript));
  assertPipelined(pipelined.transcript);
  await waitForDelivery(plain.sender);
  await waitForDelivery(pipelined.sender);
});

// ---- STARTTLS stripped: --starttls and requireTls stop after EHLO (RFC 3207 section 4) ----
// Port 2589 offers AUTH and no STARTTLS, as a server looks when an attacker strips STARTTLS.
// Postfix's log counts the commands each session got: the proof nothing more was sent.

const NO_TLS = `127.0.0.1:${NO_TLS_PORT}`;

interop(
  "login.ts on the no-STARTTLS port, without --starttls: AUTH in plain text (the book's)",
  async () => {
    const sender = uniqueSender("login-notls-port");
    const since = await logEnd();
    const run = await runListing("login.ts", [NO_TLS, sender, "brandon@localhost"], {
      stdin: `brandon\n${PASSWORD}\n`,
    });
    assert.deepEqual(run, {
      code: 0,
      stdout: "Enter username: Message sent to 1 recipient\n",
      stderr: "Enter password: \n",
    });
    assert.equal(
      await waitForSession("postfix/notls", since),
      "ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6",
    );
    await assertListingDelivered("login.ts", sender);
  },
);

for (const prog of ["login.ts", "tls.ts"]) {
  interop(`${prog} --starttls where STARTTLS is missing: exit 1 after EHLO alone`, async () => {
    const sender = uniqueSender(`${prog}-stripped`);
    const since = await logEnd();
    const run = await runListing(prog, ["--starttls", NO_TLS, sender, "brandon@localhost"], {
      ca: true,
      stdin: prog === "login.ts" ? `brandon\n${PASSWORD}\n` : undefined,
    });
    assert.equal(run.code, 1, run.stdout + run.stderr);
    const prompt = prog === "login.ts" ? "Enter username: " : "";
    const lines = run.stdout.split("\n");
    assert.equal(lines[0], `${prompt}Your message may not have been sent!`);
    assert.match(lines[1], /STARTTLS/);
    assert.deepEqual(lines.slice(2), [""]);
    // No AUTH, no MAIL, not even QUIT.
    assert.equal(await waitForSession("postfix/notls", since), "ehlo=1 commands=1");
    await assertNothingDelivered(sender);
  });
}

interop(
  "the helper: { requireTls: true } where STARTTLS is missing: login refused, EHLO alone",
  async () => {
    const since = await logEnd();
    const connection = await SMTP.connect(NO_TLS, { requireTls: true, timeout: STEP_TIMEOUT });
    try {
      await assert.rejects(connection.login("brandon", PASSWORD), SMTPNotSupportedError);
      assert.equal(connection.isTls, false);
    } finally {
      connection.close();
    }
    assert.equal(await waitForSession("postfix/notls", since), "ehlo=1 commands=1");
  },
);
