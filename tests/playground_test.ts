/**
 * Tests of the playground mail server over real loopback sockets: what it
 * says, what it accepts and refuses, the mbox files it writes (format,
 * locking under 200 concurrent deliveries, durability across a restart and a
 * kill), its certificates, and the `mail` reader's summary.
 *
 * @module
 */

import assert from "node:assert/strict";
import { SMTP, SMTPAuthenticationError, SMTPRecipientsRefused } from "../lib/smtp.ts";
import { mechanisms } from "../lib/auth.ts";
import { type Playground, startPlayground } from "../playground/server.ts";
import { asctime, formatEntry, mailboxPath, parseMbox, readMailbox } from "../playground/mbox.ts";
import { mailboxSummary, main as mailMain, summaryLine } from "../playground/mail.ts";
import { parseUsers, serverArgument } from "../playground/main.ts";
import { rawSession, withPlayground, withPlaygroundProcess } from "./playground_run.ts";

const FROM = "sender@example.com";
const TO = "brandon@example.com";
const decoder = new TextDecoder();

Deno.test("greets and answers EHLO as the book's mail.example.com", async () => {
  await withPlayground(async ({ port }) => {
    const [greeting, ehlo] = await rawSession(port, ["EHLO [127.0.0.1]", "QUIT"]);
    assert.equal(greeting, "220 mail.example.com ESMTP (Chapter 13 playground)\r\n");
    assert.equal(
      ehlo,
      "250-mail.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n" +
        "250-ETRN\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN CRAM-MD5\r\n" +
        "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 DSN\r\n",
    );
  });
});

Deno.test("delivers to a local user at either local domain, any case", async () => {
  await withPlayground(async ({ dataDir }, server) => {
    const smtp = await SMTP.connect(server);
    await smtp.ehlo();
    assert.deepEqual(await smtp.mail(FROM), [250, "2.1.0 Ok"]);
    assert.deepEqual(await smtp.rcpt("brandon@mail.example.com"), [250, "2.1.5 Ok"]);
    assert.deepEqual(await smtp.rcpt("Brandon@EXAMPLE.com"), [250, "2.1.5 Ok"]);
    const [code, text] = await smtp.data("Subject: two\n\nhi\n");
    assert.equal(code, 250);
    assert.match(text, /^2\.0\.0 Ok: queued as [0-9A-F]{10}$/);
    await smtp.quit();
    // One copy for each accepted recipient.
    assert.equal((await readMailbox(dataDir, "brandon")).length, 2);
  });
});

Deno.test("refuses an unknown local user with 550 and another domain with a relay 554", async () => {
  await withPlayground(async ({ dataDir }, server) => {
    const smtp = await SMTP.connect(server);
    await smtp.ehlo();
    await smtp.mail(FROM);
    assert.deepEqual(await smtp.rcpt("nobody@example.com"), [
      550,
      "5.1.1 <nobody@example.com>: Recipient address rejected: " +
      "User unknown in local recipient table",
    ]);
    assert.deepEqual(await smtp.rcpt("brandon@gmail.com"), [
      554,
      "5.7.1 <brandon@gmail.com>: Relay access denied",
    ]);
    // smtp-server itself wants a domain (Postfix would add its own); Postfix's words.
    assert.deepEqual(await smtp.rcpt("brandon"), [
      501,
      "5.1.3 Bad recipient address syntax",
    ]);
    await smtp.quit();
    await assert.rejects(
      async () => {
        const again = await SMTP.connect(server);
        try {
          await again.sendmail(FROM, ["nobody@mail.example.com"], "Subject: x\n\nx\n");
        } finally {
          again.close();
        }
      },
      SMTPRecipientsRefused,
    );
    assert.deepEqual(await readMailbox(dataDir, "brandon"), []);
  });
});

Deno.test("a message over SIZE gets 552, announced or not", async () => {
  await withPlayground(async ({ dataDir, port }, server) => {
    const replies = await rawSession(port, ["EHLO x", "MAIL FROM:<a@example.com> SIZE=10240001"]);
    assert.equal(replies[2], "552 5.3.4 Message size exceeds fixed limit\r\n");

    const smtp = await SMTP.connect(server);
    await smtp.ehlo();
    await smtp.mail(FROM); // no size= parameter: the server finds out during DATA
    await smtp.rcpt(TO);
    const line = "x".repeat(1000) + "\n";
    const [code, text] = await smtp.data("Subject: big\n\n" + line.repeat(10_300));
    assert.equal(code, 552);
    assert.equal(text, "5.3.4 Message size exceeds fixed limit");
    await smtp.quit();
    assert.deepEqual(await readMailbox(dataDir, "brandon"), []);
  });
});

Deno.test("AUTH PLAIN, LOGIN and CRAM-MD5 take brandon/abc123 and refuse a wrong password", async () => {
  await withPlayground(async (_playground, server) => {
    for (const mechanism of ["PLAIN", "LOGIN", "CRAM-MD5"] as const) {
      const good = await SMTP.connect(server);
      await good.ehlo();
      assert.deepEqual(
        await good.auth(mechanism, mechanisms("brandon", "abc123")[mechanism]),
        [235, "2.7.0 Authentication successful"],
        mechanism,
      );
      await good.quit();

      const bad = await SMTP.connect(server);
      await bad.ehlo();
      await assert.rejects(
        bad.auth(mechanism, mechanisms("brandon", "wrong")[mechanism]),
        (error: unknown) =>
          error instanceof SMTPAuthenticationError && error.code === 535 &&
          error.smtpError === "5.7.8 Error: authentication failed: authentication failure",
        mechanism,
      );
      await bad.quit();
    }
  });
});

Deno.test("--user adds a user who can log in and receive mail", async () => {
  const users = parseUsers(["Alice:s3cret:with:colons"]);
  assert.deepEqual(users, { brandon: "abc123", alice: "s3cret:with:colons" });
  assert.throws(() => parseUsers(["../x:y"]), /--user takes name:password/);
  const dir = await Deno.makeTempDir({ prefix: "playground-test-" });
  const playground = await startPlayground({ port: 0, dataDir: dir, users, closeTimeout: 200 });
  try {
    const smtp = await SMTP.connect(`127.0.0.1:${playground.port}`);
    await smtp.login("alice", "s3cret:with:colons");
    await smtp.sendmail(FROM, ["alice@example.com"], "Subject: for alice\n\nhi\n");
    await smtp.quit();
    assert.equal((await readMailbox(dir, "alice")).length, 1);
  } finally {
    await playground.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the mbox entry has a From line, Received header, and survives dots and From lines", async () => {
  await withPlayground(async ({ dataDir }, server) => {
    const body = "Subject: tricky\n\n.leading dot\n..two dots\nFrom here\n>From there\n.\nend\n";
    const smtp = await SMTP.connect(server);
    await smtp.sendmail("Sender <sender@example.com>", [TO], body);
    await smtp.quit();

    const raw = await Deno.readTextFile(mailboxPath(dataDir, "brandon"));
    assert.match(raw, /^From sender@example\.com \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\n/);
    assert.match(raw, /\nReturn-Path: <sender@example\.com>\nReceived: from \[127\.0\.0\.1\] /);
    assert.match(raw, /\n\tby mail\.example\.com \(Chapter 13 playground\) with ESMTP id \w+\n/);
    assert.match(raw, /\n\tfor <brandon@example\.com>; \w{3}, \d\d \w{3} \d{4} [\d:]{8} \+0000\n/);
    assert.ok(raw.endsWith(
      "Subject: tricky\n\n.leading dot\n..two dots\n>From here\n>>From there\n.\nend\n\n",
    ));

    const [message] = await readMailbox(dataDir, "brandon");
    assert.ok(message.text.endsWith(body), message.text);
    assert.equal(message.sender, "sender@example.com");
  });
});

Deno.test("formatEntry and parseMbox round-trip, CRLF made LF, empty sender", () => {
  const date = new Date(Date.UTC(2014, 9, 22, 20, 34, 5));
  assert.equal(asctime(date), "Wed Oct 22 20:34:05 2014");
  assert.equal(asctime(new Date(Date.UTC(2026, 0, 5, 1, 2, 3))), "Mon Jan  5 01:02:03 2026");
  const first = formatEntry("", date, "Subject: a\r\n\r\nFrom me\r\nno newline");
  assert.equal(
    decoder.decode(first),
    "From MAILER-DAEMON Wed Oct 22 20:34:05 2014\nSubject: a\n\n>From me\nno newline\n\n",
  );
  const second = formatEntry("b@example.com", date, "Subject: b\n\n>>From x\n\n");
  // Bytes that are not UTF-8 (Latin-1 "café") go through unchanged.
  const third = formatEntry("c@example.com", date, new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x0a]));
  const messages = parseMbox(new Uint8Array([...first, ...second, ...third]));
  assert.deepEqual(messages[2].raw, new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x0a]));
  assert.deepEqual(third.slice(-6), new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x0a, 0x0a]));
  messages.pop();
  assert.deepEqual(messages.map((m) => [m.sender, m.date, m.text]), [
    ["MAILER-DAEMON", "Wed Oct 22 20:34:05 2014", "Subject: a\n\nFrom me\nno newline\n"],
    ["b@example.com", "Wed Oct 22 20:34:05 2014", "Subject: b\n\n>>From x\n\n"],
  ]);
  // The lines include the separator and the empty line that ends the entry.
  assert.deepEqual([messages[0].lines, messages[0].bytes], [6, first.length]);
  assert.throws(() => mailboxPath("/tmp", "../etc"), /not a mailbox name/);
});

Deno.test("20 clients sending 10 messages each at once: each message once, whole", async () => {
  await withPlayground(async ({ dataDir }, server) => {
    const client = async (c: number) => {
      const smtp = await SMTP.connect(server);
      for (let m = 0; m < 10; m++) {
        // A body of a few kilobytes, so that an interleaved write would show.
        const lines = Array.from(
          { length: 60 },
          (_, i) => `client ${c} message ${m} line ${i} ` + "=".repeat(50),
        );
        await smtp.sendmail(FROM, [TO], `Subject: c${c} m${m}\n\n${lines.join("\n")}\n`);
      }
      await smtp.quit();
    };
    await Promise.all(Array.from({ length: 20 }, (_, c) => client(c)));

    const messages = await readMailbox(dataDir, "brandon");
    assert.equal(messages.length, 200);
    const seen = new Set<string>();
    for (const message of messages) {
      const subject = /^Subject: c(\d+) m(\d+)$/m.exec(message.text);
      assert.ok(subject, message.text.slice(0, 300));
      const [, c, m] = subject;
      const body = message.text.slice(message.text.indexOf("\n\n") + 2);
      const expected = Array.from(
        { length: 60 },
        (_, i) => `client ${c} message ${m} line ${i} ` + "=".repeat(50),
      );
      assert.equal(body, expected.join("\n") + "\n");
      seen.add(`${c}/${m}`);
    }
    assert.equal(seen.size, 200);
  });
});

Deno.test("messages delivered before a restart are still there after it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "playground-test-" });
  try {
    const send = async (subject: string) =>
      await withPlayground(async (_playground, server) => {
        const smtp = await SMTP.connect(server);
        await smtp.sendmail(FROM, [TO], `Subject: ${subject}\n\nhello\n`);
        await smtp.quit();
      }, dir);
    await send("before");
    const ca = await Deno.readTextFile(`${dir}/ca.pem`);
    await send("after");
    // The same CA, so a reader who trusted it once need not do it again.
    assert.equal(await Deno.readTextFile(`${dir}/ca.pem`), ca);
    const subjects = (await readMailbox(dir, "brandon")).map((m) =>
      /^Subject: (.*)$/m.exec(m.text)?.[1]
    );
    assert.deepEqual(subjects, ["before", "after"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a message answered 250 survives the server being killed at once", async () => {
  await withPlaygroundProcess(async ({ child, server, dataDir: dir }) => {
    const smtp = await SMTP.connect(server);
    await smtp.ehlo();
    await smtp.mail(FROM);
    await smtp.rcpt(TO);
    assert.equal((await smtp.data("Subject: kept\n\nhello\n"))[0], 250);
    child.kill("SIGKILL");
    smtp.close();
    assert.equal((await child.status).signal, "SIGKILL");
    const [message] = await readMailbox(dir, "brandon");
    assert.match(message.text, /^Subject: kept$/m);
  }, { prefix: "playground-test-", stop: "SIGKILL" });
});

Deno.test("certificates: a CA and a server certificate, the key readable by its owner only", async () => {
  await withPlayground(async ({ dataDir, caPath }) => {
    assert.equal(caPath, `${dataDir}/ca.pem`);
    const key = await Deno.stat(`${dataDir}/server-key.pem`);
    if (Deno.build.os !== "windows") assert.equal(key.mode! & 0o777, 0o600);
    const dir = await Deno.stat(dataDir);
    if (Deno.build.os !== "windows") assert.equal(dir.mode! & 0o077, 0);
    assert.match(await Deno.readTextFile(caPath), /^-----BEGIN CERTIFICATE-----/);
    // No CA key is kept: nothing else can be signed with the CA.
    const names = [...Deno.readDirSync(dataDir)].map((e) => e.name).sort();
    assert.deepEqual(names, ["ca.pem", "server-cert.pem", "server-key.pem", "sessions"]);
  });
});

Deno.test("STARTTLS verifies against the playground CA for 127.0.0.1 and localhost", async () => {
  await withPlayground(async ({ caPath, port, dataDir }) => {
    const caCerts = [await Deno.readTextFile(caPath)];
    for (const server of [`127.0.0.1:${port}`, `localhost:${port}`]) {
      const smtp = await SMTP.connect(server, {
        caCerts,
        // localhost may resolve to ::1 first; the playground is on 127.0.0.1.
        dial: (_host, port, signal) => Deno.connect({ hostname: "127.0.0.1", port, signal }),
      });
      await smtp.starttls();
      await smtp.ehlo();
      assert.ok(!smtp.hasExtn("starttls"));
      assert.ok(smtp.hasExtn("auth"));
      await smtp.sendmail(FROM, [TO], "Subject: secure\n\nhi\n");
      await smtp.quit();
    }
    const messages = await readMailbox(dataDir, "brandon");
    assert.equal(messages.length, 2);
    assert.match(messages[0].text, / with ESMTPS id /);
  });
});

Deno.test("the playground listens on ::1 when asked", async () => {
  const dir = await Deno.makeTempDir({ prefix: "playground-test-" });
  let playground: Playground;
  try {
    playground = await startPlayground({ port: 0, hostname: "::1", dataDir: dir });
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    if ((error as { code?: string }).code === "EADDRNOTAVAIL") return; // no IPv6 here
    throw error;
  }
  try {
    const server = serverArgument(playground.hostname, playground.port);
    assert.match(server, /^\[::1\]:\d+$/);
    const smtp = await SMTP.connect(server);
    await smtp.sendmail(FROM, [TO], "Subject: six\n\nhi\n");
    await smtp.quit();
    const [message] = await readMailbox(dir, "brandon");
    assert.match(message.text, /^Received: from \[IPv6:::1\] \(\[IPv6:::1\]\)$/im);
  } finally {
    await playground.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mail's summary lines have the columns of the book's `mail`", async () => {
  assert.equal(
    summaryLine(4, {
      sender: "sender@example.com",
      date: "Wed Oct 22 20:34",
      lines: 14,
      bytes: 477,
      subject: "Test Message from simple.py",
    }),
    " N   4 sender@example.com Wed Oct 22 20:34  14/477   Test Message from simple.",
  );
  assert.equal(
    summaryLine(1, {
      sender: "Administrator",
      date: "Tue Mar 25 17:14",
      lines: 9,
      bytes: 345,
      subject: "Welcome to example.com!",
    }, true),
    ">N   1 Administrator      Tue Mar 25 17:14   9/345   Welcome to example.com!",
  );

  const dir = await Deno.makeTempDir({ prefix: "playground-test-" });
  try {
    const entry = formatEntry(
      "x@example.com",
      new Date(Date.UTC(2014, 9, 22, 20, 34, 5)),
      'From: "Test Sender" <x@example.com>\nSubject: =?utf-8?q?caf=C3=A9?=\n\nhi\n',
    );
    await Deno.writeFile(`${dir}/brandon`, entry);
    assert.deepEqual(await mailboxSummary(dir, "brandon"), [
      `"${dir}/brandon": 1 message 1 new`,
      `>N   1 Test Sender        Wed Oct 22 20:34   6/${entry.length}   café`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mail shows message N with its headers and decoded body, and refuses a bad N", async () => {
  const dir = await Deno.makeTempDir({ prefix: "playground-test-" });
  try {
    const date = new Date(Date.UTC(2014, 9, 22, 20, 34, 5));
    const first = formatEntry("x@example.com", date, "Subject: one\n\nfirst\n");
    const second = formatEntry(
      "y@example.com",
      date,
      "Subject: two\nContent-Transfer-Encoding: quoted-printable\n\ncaf=C3=A9\nFrom here\n",
    );
    await Deno.writeFile(`${dir}/brandon`, new Uint8Array([...first, ...second]));
    const printed: string[] = [];
    const errors: string[] = [];
    const mail = (...args: string[]) =>
      mailMain(["--data", dir, ...args], (l) => printed.push(l), (l) => errors.push(l));
    assert.equal(await mail("brandon", "2"), 0);
    // The headers decoded; Content-Transfer-Encoding left out, as the body is shown decoded.
    assert.deepEqual(printed, [
      "Message 2:",
      "From y@example.com Wed Oct 22 20:34:05 2014",
      "Subject: two",
      "",
      "café",
      "From here",
    ]);
    assert.deepEqual(errors, []);

    for (const bad of ["3", "0", "x", "99999999999999999999"]) {
      printed.length = 0;
      errors.length = 0;
      assert.equal(await mail("brandon", bad), 1);
      assert.deepEqual([printed, errors], [[], [`mail: ${bad}: Invalid message number`]]);
    }
    // Errors on stderr, as mail's: no mail is exit 1; a usage error exit 2.
    printed.length = 0;
    errors.length = 0;
    assert.equal(await mail("alice"), 1);
    assert.deepEqual([printed, errors], [[], [`No mail for alice (${dir}/alice)`]]);
    errors.length = 0;
    assert.equal(await mail("a", "1", "2"), 2);
    assert.match(errors[0], /^usage: deno task mail \[--data DIR\] \[user \[N\]\]/);
    errors.length = 0;
    assert.equal(await mail("../etc"), 1);
    assert.deepEqual(errors, ["mail: no such user: ../etc"]);
    assert.deepEqual(printed, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// The book's tls.py builds its STARTTLS context this way; given `host:port` in one string,
// smtplib sends all of it as the TLS server name, which Deno's TLS (rustls) refuses.
const BOOK_TLS_PY = `
import smtplib, ssl, sys
port = int(sys.argv[1])
def starttls(connection):
    connection.ehlo()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.load_verify_locations(sys.argv[2])
    connection.starttls(context=context)
    connection.ehlo()
try:
    starttls(smtplib.SMTP("127.0.0.1:%d" % port))
    print("host:port in one string: sent")
except Exception:
    print("host:port in one string: refused")
connection = smtplib.SMTP("127.0.0.1", port)
starttls(connection)
connection.sendmail("${FROM}", ["${TO}"], "Subject: from Python\\n\\nhi\\n")
connection.quit()
print("host and port apart: sent")
`;

Deno.test({
  name: "Python's smtplib: STARTTLS with host and port apart; host:port in one string is logged",
  ignore: !(() => {
    try {
      return Deno.statSync("/usr/bin/python3").isFile;
    } catch {
      return false;
    }
  })(),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "playground-test-" });
    const lines: string[] = [];
    const playground = await startPlayground({
      port: 0,
      dataDir: dir,
      closeTimeout: 200,
      log: (line) => lines.push(line),
    });
    try {
      const { code, stdout, stderr } = await new Deno.Command("/usr/bin/python3", {
        args: ["-c", BOOK_TLS_PY, String(playground.port), playground.caPath],
      }).output();
      assert.equal(code, 0, decoder.decode(stderr));
      assert.deepEqual(decoder.decode(stdout).trimEnd().split("\n"), [
        "host:port in one string: refused",
        "host and port apart: sent",
      ]);
      assert.ok(
        lines.some((line) => /as Python's smtplib does when given host:port/.test(line)),
        lines.join("\n"),
      );
      const subjects = (await readMailbox(dir, "brandon")).map((m) =>
        /^Subject: (.*)$/m.exec(m.text)?.[1]
      );
      assert.deepEqual(subjects, ["from Python"]);
    } finally {
      await playground.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("rewriteMailbox drops what it is told, whole, and keeps deliveries made meanwhile", async () => {
  const { appendMessage, readMailbox, rewriteMailbox } = await import("../playground/mbox.ts");
  const dir = await Deno.makeTempDir({ prefix: "playground-rewrite-test-" });
  try {
    for (const n of [1, 2, 3]) {
      await appendMessage(dir, "brandon", "s@example.com", `Subject: ${n}\n\nFrom here ${n}\n`);
    }
    const [dropped] = await Promise.all([
      rewriteMailbox(dir, "brandon", (message) => !message.text.includes("Subject: 2")),
      appendMessage(dir, "brandon", "s@example.com", "Subject: 4\n\nbody\n"),
    ]);
    assert.deepEqual(dropped.map((m) => m.text), ["Subject: 2\n\nFrom here 2\n"]);
    const left = await readMailbox(dir, "brandon");
    assert.deepEqual(left.map((m) => /Subject: (\d)/.exec(m.text)![1]), ["1", "3", "4"]);
    assert.equal(left[0].text, "Subject: 1\n\nFrom here 1\n", "the >From quoting survives");
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name),
      ["brandon"],
      "no temporary file",
    );
    assert.deepEqual(await rewriteMailbox(dir, "nobody", () => false), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
