/**
 * Interoperability of CHUNKING (RFC 3030) with a real Postfix, which lists CHUNKING: the helper
 * with `{ chunking: true }`, one chunk at a time and pipelined, and `debug.ts --chunking` as a
 * reader runs it, from strings and from a file streamed. Each message is read back from the mbox
 * and compared byte for byte with what was sent (and with the same message sent by DATA). A message over Postfix's size limit is
 * refused at a BDAT, and the session goes on after RSET.
 *
 * Runs only when asked, as root, after `tests/interop/postfix.sh` has set Postfix up (see
 * postfix_test.ts):
 *
 * ```sh
 * bash tests/interop/postfix.sh install configure start
 * SMTP_INTEROP=postfix deno task test:interop
 * ```
 *
 * @module
 */

import assert from "node:assert/strict";
import { SMTP, SMTPDataError, SMTPNotSupportedError, type SMTPOptions } from "../../lib/smtp.ts";
import {
  type Delivered,
  delivered,
  runListing,
  setUpProblem,
  SIZE_LIMIT,
  TLS_PORT,
  waitForDelivery,
} from "./rig.ts";

const ENABLED = Deno.env.get("SMTP_INTEROP") === "postfix";
const PROBLEM = ENABLED ? await setUpProblem() : undefined;
const SERVER = `127.0.0.1:${TLS_PORT}`;
const TO = "brandon@localhost";
const RUN = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
let serial = 0;

/** A sender address no other message in the mailbox has. */
function uniqueSender(what: string): string {
  return `${what}-${RUN}-${++serial}@example.com`;
}

/** Declares a test that runs only when SMTP_INTEROP=postfix and Postfix is set up. */
function interop(name: string, fn: () => Promise<void>): void {
  Deno.test({ name: `postfix bdat: ${name}`, ignore: !ENABLED || PROBLEM !== undefined, fn });
}

/**
 * A message with what could go wrong in chunks: lines that start with a dot or are a lone dot,
 * LF, CRLF and lone CR line endings, UTF-8, an empty line in the body, about `lines` body lines,
 * and no line ending at the very end. It carries its own Date and Message-ID, so Postfix adds
 * none and the headers arrive as sent.
 */
function trickyMessage(sender: string, lines: number): string {
  const body: string[] = [".a line that starts with a dot", ".", "..", "Grüße, naïve café"];
  for (let i = 0; body.length < lines; i++) {
    body.push(`${i} ${"0123456789abcdefghijklmnopqrstuvwxyz".repeat(1 + (i % 20))}`);
    if (i % 97 === 0) body.push(".", "");
  }
  const head = `Subject: ${sender}\nFrom: ${sender}\nTo: ${TO}\n` +
    `Date: Wed, 02 Dec 2026 18:00:00 +0000\nMessage-ID: <${sender}>\nMIME-Version: 1.0\n` +
    "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n";
  // Mixed line endings: LF in the header, CRLF and lone CR in the body.
  return `${head}\n${body.slice(0, lines / 2).join("\r\n")}\r${body.slice(lines / 2).join("\n")}`;
}

/** What the mbox holds for `message`: LF line endings, a last line ended, as Postfix stores it. */
function asStored(message: string): string {
  return message.replace(/\r\n|\r/g, "\n").replace(/([^\n])$/, "$1\n");
}

/** The message as delivered, from its own first header (Subject) on, Postfix's trace cut off. */
function fromSubject(delivery: Delivered): string {
  const at = delivery.headers.findIndex((line) => line.startsWith("Subject: "));
  assert.notEqual(at, -1, delivery.headers.join("\n"));
  return `${delivery.headers.slice(at).join("\n")}\n\n${delivery.body}`;
}

/**
 * Waits (up to 20 s) until the message from `sender` is in the mailbox as `message` was sent,
 * byte for byte: local(8) may still be writing a large one when its first line shows. After
 * 20 s, fails showing where the two part.
 */
async function assertArrivesWhole(sender: string, message: string): Promise<void> {
  const want = asStored(message);
  const deadline = Date.now() + 20_000;
  let got = "";
  while (Date.now() < deadline) {
    const found = await delivered(sender);
    assert.ok(found.length <= 1, `one message from ${sender}`);
    const subject = found[0]?.headers.findIndex((line) => line.startsWith("Subject: ")) ?? -1;
    got = subject === -1 ? "" : fromSubject(found[0]);
    if (got === want) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  let at = 0;
  while (at < got.length && got[at] === want[at]) at++;
  assert.fail(
    `the message from ${sender} arrived as ${got.length} bytes, not ${want.length}, and differs ` +
      `at ${at}: ${JSON.stringify(got.slice(at, at + 60))} for ` +
      JSON.stringify(want.slice(at, at + 60)),
  );
}

/** Sends `message` (or `file`, streamed) in-process with `options`; returns the transcript's lines. */
async function send(
  sender: string,
  message: string,
  options: SMTPOptions,
  mailOptions?: string[],
  file?: Deno.FsFile,
): Promise<string[]> {
  const lines: string[] = [];
  const smtp = await SMTP.connect(SERVER, {
    debugLevel: 1,
    debugOutput: (line) => lines.push(line.length > 200 ? `${line.slice(0, 200)}...` : line),
    ...options,
  });
  try {
    await smtp.sendmail(sender, [TO], file?.readable ?? message, mailOptions);
    await smtp.quit();
  } finally {
    smtp.close();
  }
  return lines;
}

/** The BDAT commands in a transcript. */
function bdats(transcript: string[]): string[] {
  return transcript.filter((line) => line.startsWith("send: 'bdat "));
}

Deno.test({
  name: "postfix bdat: set-up (the CA, Postfix on every port, brandon's mailbox)",
  ignore: !ENABLED,
  fn() {
    if (PROBLEM !== undefined) throw PROBLEM;
  },
});

interop("the same message by DATA, BDAT and pipelined BDAT arrives byte for byte", async () => {
  const ways: [string, SMTPOptions][] = [
    ["data", {}],
    ["bdat", { chunking: true, chunkSize: 4096 }],
    ["bdat-pipelined", { chunking: true, chunkSize: 4096, pipelining: true }],
  ];
  for (const [way, options] of ways) {
    const sender = uniqueSender(way);
    const message = trickyMessage(sender, 600);
    const transcript = await send(sender, message, options);
    await assertArrivesWhole(sender, message);
    const wire = message.replace(/\r\n|\r|\n/g, "\r\n").replace(/([^\n])$/, "$1\r\n");
    const size = new TextEncoder().encode(wire).length;
    const commands = bdats(transcript);
    if (way === "data") {
      assert.deepEqual(commands, []);
      continue;
    }
    // Chunks of 4096 bytes, the last with LAST; each answered 250.
    const count = Math.ceil(size / 4096);
    assert.equal(commands.length, count, way);
    assert.equal(commands.at(-1), `send: 'bdat ${size - 4096 * (count - 1)} last\\r\\n'`);
    assert.ok(commands.slice(0, -1).every((line) => line === "send: 'bdat 4096\\r\\n'"));
    const queued = new RegExp(`^reply: b'250 2\\.0\\.0 Ok: ${size} bytes queued as `);
    assert.ok(transcript.some((line) => queued.test(line)), way);
    if (way === "bdat-pipelined") {
      // MAIL, RCPT and the first chunk went out before MAIL's reply came.
      const mail = transcript.findIndex((line) => line.startsWith("send: 'mail FROM:"));
      assert.deepEqual(
        transcript.slice(mail + 1, mail + 3),
        ["send: 'rcpt TO:<brandon@localhost>\\r\\n'", "send: 'bdat 4096\\r\\n'"],
      );
    }
  }
});

interop("a 3 MB message in 1 MiB chunks, pipelined, arrives byte for byte", async () => {
  const sender = uniqueSender("bdat-large");
  const message = trickyMessage(sender, 8_000);
  const transcript = await send(sender, message, { chunking: true, pipelining: true });
  const commands = bdats(transcript);
  assert.ok(commands.length >= 3, commands.join("\n"));
  assert.ok(commands.slice(0, -1).every((line) => line === `send: 'bdat ${1 << 20}\\r\\n'`));
  await assertArrivesWhole(sender, message);
});

for (const pipelining of [false, true]) {
  interop(
    `a 2 MB file streamed by BDAT${pipelining ? ", pipelined" : ""} arrives byte for byte`,
    async () => {
      const sender = uniqueSender("bdat-stream");
      const message = trickyMessage(sender, 5_000);
      const path = await Deno.makeTempFile({ prefix: "bdat-stream-" });
      try {
        await Deno.writeTextFile(path, message);
        const file = await Deno.open(path);
        const transcript = await send(sender, "", { chunking: true, pipelining }, undefined, file);
        const commands = bdats(transcript);
        assert.ok(commands.length >= 2, commands.join("\n"));
        assert.ok(commands.slice(0, -1).every((line) => line === `send: 'bdat ${1 << 20}\\r\\n'`));
        // A stream's size is not known: no size= unless declared.
        assert.ok(!transcript.some((line) => / size=/.test(line)), transcript.join("\n"));
        await assertArrivesWhole(sender, message);
      } finally {
        await Deno.remove(path);
      }
    },
  );

  interop(
    `over the size limit${pipelining ? ", pipelined" : ""}: a BDAT refused with 552, RSET, ` +
      "nothing delivered, the session goes on",
    async () => {
      const sender = uniqueSender("bdat-big");
      // SIZE=1 declared, so MAIL is accepted and the limit is met in the chunks.
      const message = `Subject: big\n\n${"x".repeat(998)}\n`.repeat(Number(SIZE_LIMIT) / 900);
      const lines: string[] = [];
      const smtp = await SMTP.connect(SERVER, {
        chunking: true,
        pipelining,
        debugLevel: 1,
        debugOutput: (line) => lines.push(line.slice(0, 120)),
      });
      try {
        const error = await smtp.sendmail(sender, [TO], message, ["SIZE=1"]).then(
          () => assert.fail("sent"),
          (error) => error,
        );
        assert.ok(error instanceof SMTPDataError, String(error));
        assert.equal(error.code, 552);
        assert.match(error.message, /^Message data refused: 552 5\.3\.4 /);
        assert.ok(lines.includes("send: 'rset\\r\\n'"), lines.join("\n"));
        if (!pipelining) {
          // One at a time, nothing is sent after the refused chunk but RSET.
          const refused = lines.findIndex((line) => line.startsWith("reply: b'552"));
          assert.equal(lines[refused + 2], "send: 'rset\\r\\n'");
        }
        // The session goes on: the next message is delivered.
        const next = uniqueSender("bdat-after");
        await smtp.sendmail(next, [TO], `Subject: ${next}\n\nafter the refusal\n`);
        await smtp.quit();
        await waitForDelivery(next);
      } finally {
        smtp.close();
      }
      assert.deepEqual(await delivered(sender), []);
    },
  );
}

interop("BODY=BINARYMIME: Postfix does not offer it, so nothing is sent", async () => {
  const smtp = await SMTP.connect(SERVER, { chunking: true });
  try {
    await smtp.ehlo();
    assert.ok(smtp.hasExtn("chunking") && !smtp.hasExtn("binarymime"));
    await assert.rejects(
      () => smtp.sendmail(uniqueSender("binary"), [TO], "x\n", ["BODY=BINARYMIME"]),
      (error: Error) => error instanceof SMTPNotSupportedError && /BINARYMIME/.test(error.message),
    );
    assert.deepEqual(await smtp.noop(), [250, "2.0.0 Ok"]);
    await smtp.quit();
  } finally {
    smtp.close();
  }
});

for (const flags of [["--chunking"], ["--chunking", "--pipelining"]]) {
  interop(
    `debug.ts ${flags.join(" ")}: send: 'bdat 209 last\\r\\n' and Postfix's reply`,
    async () => {
      const sender = uniqueSender("debug-bdat");
      const run = await runListing("debug.ts", [...flags, SERVER, sender, TO]);
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.equal(run.stdout, "Message sent to 1 recipient\n");
      const transcript = run.stderr.split("\n");
      const payload =
        `To: ${TO}\r\nFrom: ${sender}\r\nSubject: Test Message from debug.ts\r\n\r\n` +
        "Hello,\r\n\r\nThis is a test message sent to you from the debug.ts program\r\n" +
        "in Foundations of Python Network Programming.\r\n";
      const bdat = transcript.indexOf(`send: 'bdat ${payload.length} last\\r\\n'`);
      assert.notEqual(bdat, -1, run.stderr);
      assert.equal(
        transcript[bdat + 1],
        `send: b'${payload.replaceAll("\r", "\\r").replaceAll("\n", "\\n")}'`,
      );
      const queued = new RegExp(
        `^reply: b'250 2\\.0\\.0 Ok: ${payload.length} bytes queued as [0-9A-F]+\\\\r\\\\n'$`,
      );
      assert.ok(transcript.some((line) => queued.test(line)), run.stderr);
      assert.ok(!transcript.includes("send: 'data\\r\\n'"));
      const message = await waitForDelivery(sender);
      assert.equal(
        `${message.headers.slice(message.headers.indexOf(`To: ${TO}`), -2).join("\n")}\n\n` +
          message.body,
        payload.replaceAll("\r\n", "\n"),
      );
    },
  );
}
