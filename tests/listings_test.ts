/**
 * Integration tests: the five listings run exactly as a reader types them
 * (`deno run -N [--cert ca.pem] X.ts 127.0.0.1:PORT ...`, as subprocesses)
 * against the playground mail server over real sockets and real TLS, and the
 * mailbox is read back. One test runs tls.ts in-process with `io.smtp.caCerts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type MboxMessage, readMailbox } from "../playground/mbox.ts";
import { main as tlsMain } from "../tls.ts";
import { PROJECT, runListing, withPlayground } from "./playground_run.ts";

const FROM = "sender@example.com";
const TO = "brandon@example.com";
const SENT = "Message sent to 1 recipient";
const MAYBE_NOT_SENT = "Your message may not have been sent!";

/** The message a listing sends, as it must arrive (after the server's trace headers). */
function expectedMessage(prog: string): string {
  return `To: ${TO}\nFrom: ${FROM}\nSubject: Test Message from ${prog}\n\nHello,\n\n` +
    `This is a test message sent to you from the ${prog} program\n` +
    "in Foundations of Python Network Programming.\n";
}

/** Checks the one message in the mailbox: envelope, trace headers, the listing's text. */
function assertDelivered(messages: MboxMessage[], prog: string, protocol: string): void {
  assert.equal(messages.length, 1, `${prog}: one message in the mailbox`);
  const [message] = messages;
  assert.equal(message.sender, FROM);
  const lines = message.text.split("\n");
  assert.equal(lines[0], `Return-Path: <${FROM}>`);
  assert.equal(lines[1], "Received: from [127.0.0.1] ([127.0.0.1])");
  assert.match(lines[2], new RegExp(`^\\tby mail\\.example\\.com .* with ${protocol} id \\w+$`));
  assert.match(lines[3], /^\tfor <brandon@example\.com>; /);
  assert.equal(lines.slice(4).join("\n"), expectedMessage(prog));
}

const LISTINGS: {
  prog: string;
  stdin?: string;
  stdout: string;
  protocol: string;
  tls?: boolean;
}[] = [
  { prog: "simple.ts", stdout: `${SENT}\n`, protocol: "ESMTP" },
  {
    prog: "ehlo.ts",
    stdout: `Maximum message size is 10240000\n${SENT}\n`,
    protocol: "ESMTP",
  },
  { prog: "debug.ts", stdout: `${SENT}\n`, protocol: "ESMTP" },
  {
    prog: "login.ts",
    stdin: "brandon\nabc123\n",
    stdout: `Enter username: ${SENT}\n`,
    protocol: "ESMTPA",
  },
  {
    prog: "tls.ts",
    tls: true,
    stdout: `Negotiating TLS....\nUsing TLS connection.\n${SENT}\n`,
    protocol: "ESMTPS",
  },
];

for (const listing of LISTINGS) {
  Deno.test(`${listing.prog} delivers its message to the playground`, async () => {
    await withPlayground(async ({ caPath, dataDir }, server) => {
      const result = await runListing(
        listing.tls ? ["--cert", caPath] : [],
        listing.prog,
        [server, FROM, TO],
        listing.stdin,
      );
      assert.equal(result.stdout, listing.stdout, result.stderr);
      assert.equal(result.code, 0);
      assertDelivered(await readMailbox(dataDir, "brandon"), listing.prog, listing.protocol);

      if (listing.prog === "debug.ts") {
        const transcript = result.stderr.split("\n");
        assert.equal(transcript[0], "send: 'ehlo [127.0.0.1]\\r\\n'");
        assert.equal(transcript[1], "reply: b'250-mail.example.com\\r\\n'");
        assert.ok(transcript.includes("reply: b'250-SIZE 10240000\\r\\n'"));
        assert.ok(transcript.includes("send: 'mail FROM:<sender@example.com> size=209\\r\\n'"));
        assert.equal(transcript.at(-2), "reply: retcode (221); Msg: b'2.0.0 Bye'");
      } else if (listing.prog === "login.ts") {
        assert.equal(result.stderr, "Enter password: \n");
      } else {
        assert.equal(result.stderr, "");
      }
    });
  });
}

const WITH_FLAGS: {
  prog: string;
  flags: string[];
  stdin?: string;
  stdout: string;
  protocol: string;
}[] = [
  {
    prog: "login.ts",
    flags: ["--starttls"],
    stdin: "brandon\nabc123\n",
    stdout: `Enter username: ${SENT}\n`,
    protocol: "ESMTPSA",
  },
  {
    prog: "tls.ts",
    flags: ["--starttls"],
    stdout: `Negotiating TLS....\nUsing TLS connection.\n${SENT}\n`,
    protocol: "ESMTPS",
  },
  { prog: "simple.ts", flags: ["--starttls"], stdout: `${SENT}\n`, protocol: "ESMTPS" },
  { prog: "debug.ts", flags: ["--pipelining"], stdout: `${SENT}\n`, protocol: "ESMTP" },
];

for (const listing of WITH_FLAGS) {
  const flags = listing.flags.join(" ");
  Deno.test(`${listing.prog} ${flags} delivers, with the book's lines on stdout`, async () => {
    await withPlayground(async ({ caPath, dataDir }, server) => {
      const result = await runListing(
        ["--cert", caPath],
        listing.prog,
        [server, ...listing.flags, FROM, TO],
        listing.stdin,
      );
      assert.equal(result.stdout, listing.stdout, result.stderr);
      assert.equal(result.code, 0);
      assertDelivered(await readMailbox(dataDir, "brandon"), listing.prog, listing.protocol);
      if (listing.prog === "debug.ts") {
        // The envelope goes in one write: three sends before the first reply.
        const lines = result.stderr.split("\n");
        const mail = lines.findIndex((line) => line.startsWith("send: 'mail FROM:"));
        assert.ok(
          lines[mail + 1].startsWith("send: 'rcpt TO:<brandon@example.com>"),
          result.stderr,
        );
        assert.equal(lines[mail + 2], "send: 'data\\r\\n'");
      }
    });
  });
}

Deno.test("login.ts with a wrong password: Authentication failed, exit 1, nothing sent", async () => {
  await withPlayground(async ({ dataDir }, server) => {
    const result = await runListing([], "login.ts", [server, FROM, TO], "brandon\nwrong\n");
    assert.equal(
      result.stdout,
      "Enter username: Authentication failed: " +
        "535 5.7.8 Error: authentication failed: authentication failure\n",
    );
    assert.equal(result.code, 1);
    assert.deepEqual(await readMailbox(dataDir, "brandon"), []);
  });
});

Deno.test("tls.ts without the playground CA fails verification, exit 1, nothing sent", async () => {
  await withPlayground(async ({ dataDir }, server) => {
    const result = await runListing([], "tls.ts", [server, FROM, TO]);
    const lines = result.stdout.split("\n");
    assert.equal(lines[0], "Negotiating TLS....");
    assert.equal(lines[1], MAYBE_NOT_SENT);
    assert.match(lines[2], /^TLS handshake with 127\.0\.0\.1:\d+ failed: .*UnknownIssuer/);
    assert.equal(lines.length, 4);
    assert.equal(result.code, 1);
    assert.deepEqual(await readMailbox(dataDir, "brandon"), []);
  });
});

Deno.test("tls.ts in-process with io.smtp.caCerts", async () => {
  await withPlayground(async ({ caPath, dataDir }, server) => {
    const printed: string[] = [];
    const code = await tlsMain([server, FROM, TO], {
      print: (line) => printed.push(line),
      smtp: { caCerts: [await Deno.readTextFile(caPath)] },
    });
    assert.deepEqual(printed, ["Negotiating TLS....", "Using TLS connection.", SENT]);
    assert.equal(code, 0);
    assertDelivered(await readMailbox(dataDir, "brandon"), "tls.ts", "ESMTPS");
  });
});

Deno.test("an unknown recipient is refused: ehlo.ts exits 1 with the server's 550", async () => {
  await withPlayground(async ({ dataDir }, server) => {
    const result = await runListing([], "ehlo.ts", [server, FROM, "nobody@example.com"]);
    assert.equal(
      result.stdout,
      "Maximum message size is 10240000\n" + `${MAYBE_NOT_SENT}\n` +
        "Recipients refused: nobody@example.com (550 5.1.1 <nobody@example.com>: " +
        "Recipient address rejected: User unknown in local recipient table)\n",
    );
    assert.equal(result.code, 1);
    assert.deepEqual(await readMailbox(dataDir, "nobody"), []);
  });
});

Deno.test("mail for another domain is not relayed: debug.ts exits 1", async () => {
  await withPlayground(async ({ dataDir }, server) => {
    const result = await runListing([], "debug.ts", [server, FROM, "brandon@gmail.com"]);
    assert.equal(
      result.stdout,
      `${MAYBE_NOT_SENT}\nRecipients refused: brandon@gmail.com ` +
        "(554 5.7.1 <brandon@gmail.com>: Relay access denied)\n",
    );
    assert.equal(result.code, 1);
    assert.deepEqual(await readMailbox(dataDir, "brandon"), []);
  });
});

Deno.test("one of two recipients refused: the other still gets the message", async () => {
  await withPlayground(async ({ dataDir }, server) => {
    const result = await runListing([], "simple.ts", [server, FROM, TO, "nobody@example.com"]);
    assert.equal(result.stdout, "Message sent to 2 recipients\n");
    assert.equal(result.code, 0);
    assert.equal((await readMailbox(dataDir, "brandon")).length, 1);
  });
});

Deno.test("deno task demo: all five listings, then the mailbox with five messages", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "demo"],
    cwd: PROJECT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
  const { code, stdout, stderr } = await child.output();
  const output = new TextDecoder().decode(stdout);
  assert.equal(code, 0, output + new TextDecoder().decode(stderr));
  for (const prog of ["simple", "ehlo", "debug", "login", "tls"]) {
    assert.match(output, new RegExp(`^\\$ deno run -N .*${prog}\\.ts 127\\.0\\.0\\.1:\\d+ `, "m"));
  }
  assert.match(output, /^\$ deno run -N --cert \S+ login\.ts --oauth2 --tls 127\.0\.0\.1:\d+ /m);
  assert.match(output, /: 8 messages 8 new\n/);
  assert.match(output, /^ N {3}5 sender@example\.com .* Test Message from tls\.ts$/m);
  assert.match(
    output,
    /\nAll five listings delivered their message\.\n\nTo watch the same sends in a browser/,
  );
  assert.match(output, /^ {2}open http:\/\/127\.0\.0\.1:8025\/ and run the listings/m);
});
