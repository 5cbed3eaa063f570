/**
 * Property-based tests with fast-check: the reply reader, the DATA encoder
 * (whole, and as a stream cut into random chunks) and the refusal of CR and
 * LF in commands, each fed arbitrary input; and pipelined and one-at-a-time
 * `sendmail` agreeing for any server replies.
 *
 * A bounded number of cases runs by default; set FUZZ_RUNS to run more
 * (`FUZZ_RUNS=100000 deno task test tests/fuzz_test.ts`). The number run is
 * printed at the end.
 *
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeData } from "../lib/data.ts";
import { writeMessage } from "../lib/stream.ts";
import { MAX_LINE, MAX_REPLY_LINES, type Reply, ReplyReader, type Source } from "../lib/reply.ts";
import { SMTP, SMTPException } from "../lib/smtp.ts";
import { concat } from "./hostile/server.ts";

const RUNS = Number(Deno.env.get("FUZZ_RUNS") ?? "") || 1000;
const BUFFER_LIMIT = MAX_LINE * 2 + 2;
const encoder = new TextEncoder();
let casesRun = 0;

// ---- the reply reader ----

/** Bytes that look a little like replies, and some that do not. */
const replyBytes = fc.array(
  fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom("250", "220", "421", "-", " ", "\r\n", "\n", "\r") },
    { weight: 3, arbitrary: fc.constantFrom("250-PIPELINING\r\n", "250 ok\r\n", "2x0 no\r\n") },
    { weight: 3, arbitrary: fc.uint8Array({ maxLength: 12 }) },
    { weight: 1, arbitrary: fc.integer({ min: MAX_LINE - 8, max: MAX_LINE + 8 }) },
  ).map((part) =>
    typeof part === "string"
      ? encoder.encode(part)
      // A long line: its length is the number, without or with its LF.
      : typeof part === "number"
      ? encoder.encode(`250 ${"y".repeat(part - 6)}\r\n`)
      : part
  ),
  { maxLength: 30, size: "max" },
).map(concat);

/** A source that hands out `bytes` in chunks of the given sizes, then EOF. */
class ChunkedSource implements Source {
  reads = 0;
  largestRequest = 0;
  delivered = 0;
  #at = 0;
  constructor(
    private bytes: Uint8Array,
    private sizes: number[],
    private forever = false,
  ) {}

  read(p: Uint8Array): Promise<number | null> {
    this.reads++;
    this.largestRequest = Math.max(this.largestRequest, p.length);
    // A reader that keeps reading past any sane amount is hanging.
    if (this.delivered > 20 * 1024 * 1024) throw new Error("the reader never stops reading");
    if (this.#at >= this.bytes.length) {
      if (!this.forever || this.bytes.length === 0) return Promise.resolve(null);
      this.#at = 0; // a server that repeats itself without end
    }
    const size = this.sizes.length ? this.sizes[this.reads % this.sizes.length] : p.length;
    const n = Math.min(p.length, size, this.bytes.length - this.#at);
    p.set(this.bytes.subarray(this.#at, this.#at + n));
    this.#at += n;
    this.delivered += n;
    return Promise.resolve(n);
  }
}

type Outcome = { reply: Reply } | { error: unknown };

async function readOne(source: Source): Promise<{ outcome: Outcome; reader: ReplyReader }> {
  const reader = new ReplyReader(source);
  try {
    return { outcome: { reply: await reader.readReply() }, reader };
  } catch (error) {
    return { outcome: { error }, reader };
  }
}

/** What a reply must look like, whatever the bytes. */
function checkReply(reply: Reply, input: Uint8Array): void {
  assert.ok(reply.lines.length >= 1 && reply.lines.length <= MAX_REPLY_LINES);
  const all = concat(reply.lines);
  assert.deepEqual(all, input.subarray(0, all.length), "lines are not what was sent");
  reply.lines.forEach((line, i) => {
    assert.ok(line.length <= MAX_LINE, "a line over the limit");
    assert.equal(line.at(-1), 0x0a, "a line without its LF");
    assert.match(String.fromCharCode(...line.subarray(0, 3)), /^\d{3}$/);
    const last = i === reply.lines.length - 1;
    assert.equal(line[3] === 0x2d, !last, "continuation marks do not match");
  });
  const lastLine = reply.lines.at(-1)!;
  assert.equal(reply.code, Number(String.fromCharCode(...lastLine.subarray(0, 3))));
}

Deno.test("fuzz: the reply reader returns a reply or throws SMTPException, in any chunking", async () => {
  // How often each outcome came up: the input must reach every one of them.
  const seen = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(
      replyBytes,
      fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 8 }),
      async (bytes, sizes) => {
        casesRun++;
        const chunked = new ChunkedSource(bytes, sizes);
        const { outcome, reader } = await readOne(chunked);
        const whole = await readOne(new ChunkedSource(bytes, []));
        const kind = "reply" in outcome
          ? "reply"
          : /Line too long|Malformed|unexpectedly closed/.exec((outcome.error as Error).message)
            ?.[0] ??
            "other";
        seen.set(kind, (seen.get(kind) ?? 0) + 1);
        if ("reply" in outcome) {
          checkReply(outcome.reply, bytes);
          assert.ok("reply" in whole.outcome, "the chunking changed the outcome");
          assert.deepEqual(outcome.reply, whole.outcome.reply);
        } else {
          assert.ok(outcome.error instanceof SMTPException, `threw ${outcome.error}`);
          assert.ok("error" in whole.outcome, "the chunking changed the outcome");
          assert.equal(
            (outcome.error as Error).message,
            (whole.outcome.error as Error).message,
          );
        }
        assert.ok(reader.buffered <= BUFFER_LIMIT, `holds ${reader.buffered} bytes`);
        assert.ok(chunked.largestRequest <= BUFFER_LIMIT, `read ${chunked.largestRequest}`);
      },
    ),
    { numRuns: RUNS },
  );
  for (const kind of ["reply", "unexpectedly closed", "Line too long", "Malformed"]) {
    assert.ok(seen.has(kind), `no case ended with ${kind}: ${JSON.stringify([...seen])}`);
  }
});

Deno.test("fuzz: the reply reader ends on a server that never stops sending", async () => {
  await fc.assert(
    fc.asyncProperty(
      replyBytes.filter((b) => b.length > 0),
      fc.array(fc.integer({ min: 1, max: 4096 }), { maxLength: 4 }),
      async (bytes, sizes) => {
        casesRun++;
        const endless = new ChunkedSource(bytes, sizes, true);
        const { outcome, reader } = await readOne(endless);
        if ("error" in outcome) {
          assert.ok(outcome.error instanceof SMTPException, `threw ${outcome.error}`);
        }
        assert.ok(reader.buffered <= BUFFER_LIMIT);
        assert.ok(endless.largestRequest <= BUFFER_LIMIT);
      },
    ),
    { numRuns: Math.ceil(RUNS / 3) },
  );
});

// ---- dot-stuffing and line endings ----

/** Text rich in line breaks and dots, plus any Unicode. */
const messagePieces = fc.constantFrom(".", "..", "\r", "\n", "\r\n", "a", " ", "é", "\0");
const messageText = fc.oneof(
  fc.array(messagePieces, { maxLength: 60, size: "max" }).map((parts) => parts.join("")),
  // Long texts of short dotted lines: the encoder has to grow its buffer.
  fc.array(fc.constantFrom("\n.", "\r.", ".\r\n", "\n"), { maxLength: 2000, size: "max" })
    .map((parts) => parts.join("")),
  fc.string({ unit: "binary", maxLength: 200, size: "max" }),
);

/** What a server does with the payload: drop the end line, remove one dot per line. */
function unstuff(payload: string): string {
  assert.ok(payload.endsWith("\r\n.\r\n"), "no end-of-data line");
  const body = payload.slice(0, -3);
  return body.split("\r\n").map((line) => line.startsWith(".") ? line.slice(1) : line).join(
    "\r\n",
  );
}

Deno.test("fuzz: encodeData dot-stuffs and normalises any text", () => {
  let longest = 0;
  fc.assert(
    fc.property(messageText, (text) => {
      casesRun++;
      const { payload, size } = encodeData(text);
      longest = Math.max(longest, text.length);
      const wire = String.fromCharCode(...payload); // one char per byte
      const crlf = String.fromCharCode(...encoder.encode(text.replace(/\r\n|\r|\n/g, "\r\n")));
      assert.equal(size, crlf.length, "size is not the CRLF message's length");
      const expected = crlf.endsWith("\r\n") ? crlf : crlf + "\r\n";
      assert.equal(unstuff(wire), expected);
      // Every CR is followed by LF, every LF preceded by CR.
      assert.doesNotMatch(wire, /\r(?!\n)|(?<!\r)\n/, "a bare CR or LF");
      const lines = wire.split("\r\n").slice(0, -2);
      assert.ok(!lines.includes("."), "a line of just '.' before the end");
    }),
    { numRuns: RUNS * 3 },
  );
  assert.ok(longest > 1000, `the longest text was only ${longest} characters`);
});

// ---- a stream, cut anywhere, gives the string's bytes ----

Deno.test("fuzz: a message as a stream in random chunks gives the string's bytes", async () => {
  await fc.assert(
    fc.asyncProperty(
      messageText,
      fc.array(fc.integer({ min: 1, max: 70_000 }), { maxLength: 12 }),
      async (text, sizes) => {
        casesRun++;
        const bytes = encoder.encode(text);
        const chunks: Uint8Array[] = [];
        for (let at = 0, i = 0; at < bytes.length; i++) {
          const size = sizes.length ? sizes[i % sizes.length] : bytes.length;
          chunks.push(bytes.slice(at, at + size));
          at += size;
        }
        const stream = ReadableStream.from(chunks);
        const written: Uint8Array[] = [];
        const sent = await writeMessage(stream, {
          write: (piece) => (written.push(piece.slice()), Promise.resolve()),
          written: () => written.reduce((n, w) => n + w.length, 0),
          abort: () => assert.fail("aborted"),
        });
        const whole = encodeData(text);
        assert.deepEqual(concat(written), whole.payload);
        assert.equal(sent.size, whole.size);
        assert.equal(sent.eightBit, whole.eightBit);
      },
    ),
    { numRuns: RUNS },
  );
});

// ---- CR and LF never reach the wire ----

/** A fake connection: greets, answers every line with 250, records all writes. */
function fakeServer() {
  const written: Uint8Array[] = [];
  let pending: Uint8Array = encoder.encode("220 fake\r\n");
  const conn = {
    localAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 },
    setNoDelay() {},
    close() {},
    read(p: Uint8Array): Promise<number | null> {
      if (pending.length === 0) return Promise.resolve(null);
      const n = Math.min(p.length, pending.length);
      p.set(pending.subarray(0, n));
      pending = pending.slice(n);
      return Promise.resolve(n);
    },
    write(p: Uint8Array): Promise<number> {
      written.push(p.slice());
      const lines = new TextDecoder().decode(p).split("\r\n").length - 1;
      pending = concat([pending, encoder.encode("250 ok\r\n".repeat(lines))]);
      return Promise.resolve(p.length);
    },
  };
  return {
    dial: () => Promise.resolve(conn as unknown as Deno.TcpConn),
    wire: () => new TextDecoder().decode(concat(written)),
  };
}

/** A string with at least one CR or LF somewhere in it. */
const withLineBreak = fc.tuple(
  fc.string({ maxLength: 20 }),
  fc.constantFrom("\r", "\n", "\r\n", "\n.\r\n", "\rRCPT TO:<evil@example.com>\r\n"),
  fc.string({ maxLength: 20 }),
).map(([a, b, c]) => a + b + c);

Deno.test("fuzz: an argument with CR or LF never reaches the wire", async () => {
  const calls = ["sendmail-from", "sendmail-to", "mail", "rcpt", "ehlo", "helo", "docmd"] as const;
  await fc.assert(
    fc.asyncProperty(withLineBreak, fc.constantFrom(...calls), async (evil, call) => {
      casesRun++;
      const server = fakeServer();
      const smtp = await SMTP.connect("fake:25", { dial: server.dial });
      const ok = "brandon@example.com";
      const attempts: Record<typeof calls[number], () => Promise<unknown>> = {
        "sendmail-from": () => smtp.sendmail(evil, [ok], "Hi\n"),
        "sendmail-to": () => smtp.sendmail(ok, [ok, evil], "Hi\n"),
        "mail": () => smtp.mail(evil),
        "rcpt": () => smtp.rcpt(evil),
        "ehlo": () => smtp.ehlo(evil),
        "helo": () => smtp.helo(evil),
        "docmd": () => smtp.docmd("noop", evil),
      };
      await assert.rejects(attempts[call](), SMTPException);
      // Nothing at all was written: sendmail checks every address first.
      assert.equal(server.wire(), "");
    }),
    { numRuns: RUNS },
  );
});

// ---- pipelined and one-at-a-time sendmail agree ----

/** The codes a server gives: to MAIL, to each RCPT, to DATA, to the end of the data. */
interface Answers {
  mail: number;
  rcpts: number[];
  data: number;
  end: number;
}

/**
 * A server that answers each command line with the code chosen for it,
 * however the lines arrive (one per write or all in one), and closes after
 * a 421. It records whether the client wrote anything after that.
 */
class AnsweringConn {
  readonly localAddr: Deno.NetAddr = { transport: "tcp", hostname: "127.0.0.1", port: 40000 };
  readonly remoteAddr: Deno.NetAddr = { transport: "tcp", hostname: "127.0.0.1", port: 25 };
  wroteAfterClosing = false;
  #answers: Answers;
  #rcpt = 0;
  #inData = false;
  #closing = false;
  #input = "";
  #output: Uint8Array = new Uint8Array(0);
  #waiting: (() => void) | null = null;

  constructor(answers: Answers) {
    this.#answers = answers;
    this.#send("220 fuzz.example ESMTP");
  }

  write(p: Uint8Array): Promise<number> {
    if (this.#closing) {
      this.wroteAfterClosing = true;
      return Promise.reject(new Deno.errors.BrokenPipe("Broken pipe (os error 32)"));
    }
    this.#input += new TextDecoder().decode(p);
    let end;
    while (!this.#closing && (end = this.#input.indexOf("\r\n")) >= 0) {
      const line = this.#input.slice(0, end);
      this.#input = this.#input.slice(end + 2);
      this.#answer(line);
    }
    return Promise.resolve(p.length);
  }

  read(p: Uint8Array): Promise<number | null> {
    if (this.#output.length > 0) {
      const n = Math.min(p.length, this.#output.length);
      p.set(this.#output.subarray(0, n));
      this.#output = this.#output.slice(n);
      return Promise.resolve(n);
    }
    if (this.#closing) return Promise.resolve(null);
    return new Promise((resolve) => this.#waiting = () => resolve(this.read(p)));
  }

  close(): void {
    this.#closing = true;
    this.#wake();
  }

  setNoDelay(): void {}

  #answer(line: string): void {
    const verb = line.split(" ")[0].toLowerCase();
    if (this.#inData) {
      if (line === ".") {
        this.#inData = false;
        this.#reply(this.#answers.end);
      }
    } else if (verb === "ehlo") this.#send("250-fuzz.example\r\n250-PIPELINING\r\n250 8BITMIME");
    else if (verb === "mail") this.#reply(this.#answers.mail);
    else if (verb === "rcpt") this.#reply(this.#answers.rcpts[this.#rcpt++]);
    else if (verb === "data") {
      this.#reply(this.#answers.data);
      this.#inData = this.#answers.data === 354;
    } else if (verb === "rset") this.#reply(250);
    else if (verb === "quit") this.#reply(221);
    else this.#reply(500);
  }

  #reply(code: number): void {
    this.#send(`${code} ${code === 421 ? "4.3.2 closing" : "fuzz"}`);
    if (code === 421) this.#closing = true;
  }

  #send(text: string): void {
    this.#output = concat([this.#output, encoder.encode(`${text}\r\n`)]);
    this.#wake();
  }

  #wake(): void {
    const waiting = this.#waiting;
    this.#waiting = null;
    waiting?.();
  }
}

/** The result of one sendmail: the refused map, or the error's class and message. */
async function sendThrough(answers: Answers, pipelining: boolean): Promise<unknown> {
  const conn = new AnsweringConn(answers);
  const smtp = await SMTP.connect("fuzz.example", {
    pipelining,
    dial: () => Promise.resolve(conn as unknown as Deno.TcpConn),
  });
  const recipients = answers.rcpts.map((_, i) => `r${i}@example.com`);
  let result: unknown;
  try {
    result = { refused: [...await smtp.sendmail("s@example.com", recipients, "x\n")] };
  } catch (error) {
    result = { error: (error as Error).name, message: (error as Error).message };
  }
  smtp.close();
  assert.equal(conn.wroteAfterClosing, false, "nothing may be written after a 421");
  return result;
}

Deno.test("fuzz: pipelined and one-at-a-time sendmail give the same result for any replies", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        mail: fc.constantFrom(250, 250, 421, 451, 553),
        rcpts: fc.array(fc.constantFrom(250, 250, 251, 421, 450, 550), {
          minLength: 1,
          maxLength: 5,
        }),
        data: fc.constantFrom(354, 354, 421, 451, 554),
        end: fc.constantFrom(250, 250, 421, 452, 552),
      }),
      async (answers) => {
        casesRun++;
        assert.deepEqual(await sendThrough(answers, true), await sendThrough(answers, false));
      },
    ),
    { numRuns: RUNS },
  );
});

Deno.test("fuzz: (cases run)", () => {
  console.log(`${casesRun} fuzz cases run (FUZZ_RUNS=${RUNS})`);
  assert.ok(casesRun >= RUNS);
});
