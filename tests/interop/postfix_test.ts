/**
 * Interoperability: every listing against a real Postfix on loopback, run as a reader runs it
 * (`deno run -N ... X.ts server fromaddr toaddr`), then the mailbox read back to see that the
 * message arrived as sent.
 *
 * Runs only when asked, as root, after `tests/interop/postfix.sh` has set Postfix up:
 *
 * ```sh
 * bash tests/interop/postfix.sh install configure start
 * SMTP_INTEROP=postfix deno task test:interop
 * bash tests/interop/postfix.sh stop
 * ```
 *
 * Otherwise every test here is ignored, with one line saying so. Each message carries a unique
 * envelope sender, which is how the test finds it in the mbox.
 *
 * @module
 */

import assert from "node:assert/strict";
import { mechanisms, PREFERRED_MECHANISMS } from "../../lib/auth.ts";
import { SMTP, SMTPAuthenticationError } from "../../lib/smtp.ts";

const ENABLED = Deno.env.get("SMTP_INTEROP") === "postfix";
if (!ENABLED) {
  console.log(
    "postfix_test.ts: skipped; to run: tests/interop/postfix.sh install configure start, " +
      "then SMTP_INTEROP=postfix deno task test:interop",
  );
}

// What tests/interop/postfix.sh sets up.
/** STARTTLS offered; AUTH only after it. Port 25 is the same. */
const TLS_PORT = 2587;
/** AUTH offered without TLS too, for login.ts. */
const PLAIN_AUTH_PORT = 2588;
const CA_FILE = "/etc/postfix/interop/ca.crt";
const MAILBOX = "/var/mail/brandon";
const SIZE_LIMIT = "10240000";

const PROJECT = new URL("../../", import.meta.url).pathname;
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

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno run -N [--cert CA] prog args...` in the project, as a reader would. */
async function runListing(
  prog: string,
  args: string[],
  options: { ca?: boolean; stdin?: string } = {},
): Promise<Run> {
  // Only what Deno needs to find its cache: no DENO_CERT or the like from the caller.
  const env: Record<string, string> = { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-N", ...(options.ca ? ["--cert", CA_FILE] : []), prog, ...args],
    cwd: PROJECT,
    clearEnv: true,
    env,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

interface Delivered {
  /** The header lines, unfolded lines kept as they are. */
  headers: string[];
  /** The body, LF line endings, as the mbox holds it. */
  body: string;
}

/** The messages in the mbox whose envelope sender is `sender`. */
async function delivered(sender: string): Promise<Delivered[]> {
  let mbox: string;
  try {
    mbox = await Deno.readTextFile(MAILBOX);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  // Postfix writes "From sender  date" before each message and ">From " for body lines that
  // start with "From ", so a line starting "From " always begins a message.
  return mbox.split(/^(?=From )/m)
    .filter((message) => message.startsWith(`From ${sender} `))
    .map((message) => {
      const end = message.indexOf("\n\n");
      const headers = message.slice(message.indexOf("\n") + 1, end).split("\n");
      // local(8) ends each message with an empty line that is not part of it.
      const body = message.slice(end + 2).replace(/\n$/, "");
      return { headers, body };
    });
}

/** Waits (up to 20 s) until local delivery has put the message from `sender` in the mailbox. */
async function waitForDelivery(sender: string): Promise<Delivered> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const found = await delivered(sender);
    if (found.length > 0) {
      assert.equal(found.length, 1, `one message from ${sender}`);
      return found[0];
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no message from ${sender} in ${MAILBOX} after 20 s; see /var/log/postfix.log`);
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

/** Postfix's reply lines to EHLO, read over a plain socket, without the helper. */
async function rawEhloLines(port: number): Promise<string[]> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(4096);
  let text = "";
  try {
    const readUntil = async (done: RegExp) => {
      while (!done.test(text)) {
        const n = await conn.read(buffer);
        if (n === null) throw new Error(`connection closed; read ${JSON.stringify(text)}`);
        text += decoder.decode(buffer.subarray(0, n));
      }
    };
    await readUntil(/^220 /m);
    text = "";
    await conn.write(new TextEncoder().encode("EHLO [127.0.0.1]\r\nQUIT\r\n"));
    await readUntil(/^221 .*\r\n/m);
  } finally {
    conn.close();
  }
  return text.split("\r\n").filter((line) => /^250[ -]/.test(line));
}

/** Declares a test that runs only when SMTP_INTEROP=postfix. */
function interop(name: string, fn: () => Promise<void>): void {
  Deno.test({ name: `postfix: ${name}`, ignore: !ENABLED, fn });
}

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
  const escape = (text: string) => text.replaceAll("\r", "\\r").replaceAll("\n", "\\n");
  const exchange = (reply: string, code: number) => [
    `reply: b'${code} ${reply}\\r\\n'`,
    `reply: retcode (${code}); Msg: b'${reply}'`,
  ];
  const expected = [
    `send: 'ehlo [127.0.0.1]\\r\\n'`,
    ...ehloLines.map((line) => `reply: b'${line}\\r\\n'`),
    `reply: retcode (250); Msg: b'${ehloLines.map((line) => line.slice(4)).join("\\n")}'`,
    `send: 'mail FROM:<${sender}> size=${payload.length}\\r\\n'`,
    ...exchange("2.1.0 Ok", 250),
    `send: 'rcpt TO:<brandon@localhost>\\r\\n'`,
    ...exchange("2.1.5 Ok", 250),
    `send: 'data\\r\\n'`,
    ...exchange("End data with <CR><LF>.<CR><LF>", 354),
    `data: (354, b'End data with <CR><LF>.<CR><LF>')`,
    `send: b'${escape(payload)}.\\r\\n'`,
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
    stderr: "Enter password: ",
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
  assert.equal(run.stderr, "Enter password: ");
  await assertNothingDelivered(sender);
});

interop("login.ts where AUTH needs STARTTLS first: not supported", async () => {
  const sender = uniqueSender("login-notls");
  const run = await runListing("login.ts", [server, sender, "brandon@localhost"], {
    stdin: "brandon\nabc123\n",
  });
  assert.deepEqual(run, {
    code: 1,
    stdout: "Enter username: Authentication failed: SMTP AUTH extension not supported by server.\n",
    stderr: "Enter password: ",
  });
});

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
