/**
 * Fault injection: every listing run as a real `deno run` subprocess against
 * the hostile server in `tests/hostile/server.ts`. Each scenario checks the
 * exact stdout lines, the exit status, every line the server received (so
 * nothing went out after the failure, and no message body when it should
 * not have), and that the process ended within its `--timeout`.
 *
 * The expected lines come from /work/shared/book/LISTINGS.md.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { type KeyPair, makeTestCertificates } from "./hostile/certs.ts";
import {
  type Script,
  type Session,
  startResetAtServer,
  startResettingServer,
  startServer,
} from "./hostile/server.ts";
import { SMTP } from "../lib/smtp.ts";
import { MAX_LINE } from "../lib/reply.ts";

type Listing = "simple" | "ehlo" | "debug" | "login" | "tls";
const ALL: Listing[] = ["simple", "ehlo", "debug", "login", "tls"];

const ROOT = new URL("../", import.meta.url).pathname;
/** Every step's timeout given to the scripts, in seconds. */
const TIMEOUT = 1;
/** Time for deno to start and load the script on a busy machine. */
const STARTUP_SLACK_MS = 5000;

const FROM = "sender@example.com";
const TO = "brandon@example.com";
const OTHER = "bad@example.com";
const PASSWORD_PLAIN = "AUTH PLAIN AGJyYW5kb24AYWJjMTIz"; // brandon / abc123
const FAILED = "Your message may not have been sent!";
const NO_TLS = "Server does not support TLS; using normal connection.";

const certs = await makeTestCertificates();
const caFile = await Deno.makeTempFile({ prefix: "hostile-ca-", suffix: ".pem" });
await Deno.writeTextFile(caFile, certs.ca);
globalThis.addEventListener("unload", () => Deno.removeSync(caFile));

// ---- running a listing ----

interface Run {
  stdout: string[];
  stderr: string;
  code: number;
  ms: number;
}

interface RunOptions {
  /** Instead of the hostile server's address. */
  server?: string;
  from?: string;
  to?: string[];
  /** Run inside a new network namespace (`unshare -n`): no network at all. */
  isolated?: boolean;
  /** The listing's flags (`--tls`, `--starttls`, `--pipelining`), after `--timeout 1`. */
  flags?: string[];
  /** Deno's options instead of `-N --cert ca.pem`. */
  deno?: string[];
  /** Environment variables besides NO_COLOR. */
  env?: Record<string, string>;
}

/** Runs `listing` as `deno run -N --cert ca.pem X.ts --timeout 1 server from to...`. */
async function run(listing: Listing, server: string, options: RunOptions = {}): Promise<Run> {
  const deno = [
    Deno.execPath(),
    "run",
    ...(options.deno ?? ["-N", "--cert", caFile]),
    `${ROOT}${listing}.ts`,
    "--timeout",
    String(TIMEOUT),
    ...(options.flags ?? []),
    options.server ?? server,
    options.from ?? FROM,
    ...(options.to ?? [TO]),
  ];
  const argv = options.isolated ? ["unshare", "-n", ...deno] : deno;
  const started = performance.now();
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd: ROOT,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  if (listing === "login") await writer.write(new TextEncoder().encode("brandon\nabc123\n"));
  await writer.close();
  // A hung client must fail the test, not the whole suite.
  const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const output = await child.output();
  clearTimeout(killer);
  const ms = performance.now() - started;
  const text = new TextDecoder().decode(output.stdout);
  // login's prompts have no newline: they start its first line.
  const cleaned = text.replace("Enter username: ", "");
  const stdout = cleaned === "" ? [] : cleaned.replace(/\n$/, "").split("\n");
  // And the password prompt starts stderr.
  const stderr = new TextDecoder().decode(output.stderr).replace(/^Enter password: /, "");
  return { stdout, stderr, code: output.code, ms };
}

// ---- what a scenario expects ----

type Line = string | RegExp;

interface Expected {
  stdout: Line[];
  code: number;
  /** Every line the server received, in order (after STARTTLS: decrypted). */
  received: Line[];
  /** For simple: the uncaught error's text on stderr. */
  stderr?: RegExp;
  /** Every line on stderr (login's password prompt left out). */
  stderrLines?: Line[];
  /** The client had to wait out one step's timeout. */
  waits?: boolean;
}

interface Case {
  server: Script;
  /** The server speaks TLS from the first byte with these keys. */
  tls?: KeyPair;
  expected: Expected;
  options?: RunOptions;
  /** Extra checks on the finished session. */
  check?: (session: Session) => void;
}

let scenarioCount = 0;
let runCount = 0;

/** Registers one scenario, run against each of `listings` at once. */
function scenario(name: string, listings: Listing[], make: (listing: Listing) => Case): void {
  scenarioCount++;
  Deno.test(`fault: ${name}`, async () => {
    await Promise.all(listings.map(async (listing) => {
      const { server: script, tls, expected, options, check } = make(listing);
      await using server = startServer(script, { tls });
      const result = await run(listing, server.address, options);
      runCount++;
      const sessions = await server.finished();
      const where = `${listing}.ts: ${name}`;
      const received = sessions.flatMap((s) => s.receivedLines());
      try {
        matchLines(result.stdout, expected.stdout, "stdout");
        assert.equal(result.code, expected.code, "exit status");
        matchLines(received, expected.received, "received by the server");
        if (expected.stderr) assert.match(result.stderr, expected.stderr);
        if (expected.stderrLines) {
          // debug.ts's transcript aside.
          const lines = result.stderr.split("\n").filter((line) =>
            line !== "" && !/^(send|reply|data|connect): /.test(line)
          );
          matchLines(lines, expected.stderrLines, "stderr");
        }
        assert.ok(
          result.ms < TIMEOUT * 1000 + STARTUP_SLACK_MS,
          `took ${Math.round(result.ms)} ms`,
        );
        if (expected.waits) assert.ok(result.ms >= TIMEOUT * 1000 - 50, "gave up too soon");
        assert.deepEqual(server.errors, [], "the server script failed");
        for (const session of sessions) check?.(session);
      } catch (error) {
        (error as Error).message = `${where}\n${(error as Error).message}\nstdout: ${
          JSON.stringify(result.stdout)
        }\nreceived: ${JSON.stringify(received)}\nstderr: ${result.stderr}`;
        throw error;
      }
    }));
  });
}

function matchLines(actual: string[], expected: Line[], what: string): void {
  const ok = actual.length === expected.length &&
    expected.every((e, i) => typeof e === "string" ? e === actual[i] : e.test(actual[i]));
  assert.ok(ok, `${what}: expected ${expected.map(String).join(" | ")}`);
}

/** The output and exit status of a failed send, for each listing. */
function failure(listing: Listing, reason: Line, before: Line[] = []): Expected {
  if (listing === "simple") {
    const text = typeof reason === "string"
      ? escapeRegExp(reason)
      : reason.source.replace(/^\^/, "");
    return { stdout: [], code: 1, received: [], stderr: new RegExp(`Uncaught.*${text}`, "s") };
  }
  return { stdout: [...before, FAILED, reason], code: 1, received: [] };
}

/**
 * A failure during EHLO. login.ts says EHLO inside `login()`, so an SMTP
 * error there is reported as `Authentication failed:`, as in the book.
 */
function atLoginEhlo(listing: Listing, reason: string): Expected {
  if (listing !== "login") return failure(listing, reason);
  return { stdout: [`Authentication failed: ${reason}`], code: 1, received: [] };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// ---- the conversation a well-behaved server has ----

/** A reply of one or more lines with `eol` line endings. */
function reply(code: number, lines: string[], eol = "\r\n"): string {
  return lines.map((line, i) => `${code}${i === lines.length - 1 ? " " : "-"}${line}${eol}`)
    .join("");
}

/** The message each listing sends, as the server reads it (CRLF, no final `.`). */
function payload(listing: Listing, to = [TO]): string[] {
  return [
    `To: ${to.join(", ")}`,
    `From: ${FROM}`,
    `Subject: Test Message from ${listing}.ts`,
    "",
    "Hello,",
    "",
    `This is a test message sent to you from the ${listing}.ts program`,
    "in Foundations of Python Network Programming.",
  ];
}

/** Greets, answers EHLO with `features` (and logs login in). */
async function hello(s: Session, listing: Listing, features: string[] = []): Promise<void> {
  await s.send("220 hostile.test ESMTP\r\n");
  await s.expect(/^ehlo /);
  const more = listing === "login" ? ["AUTH PLAIN"] : [];
  await s.send(reply(250, ["hostile.test", ...features, ...more]));
  if (listing === "login") await s.answer(/^AUTH PLAIN /, "235 2.7.0 Authenticated\r\n");
}

/** What the client says up to and including its login. */
function helloSent(listing: Listing): string[] {
  return ["ehlo [127.0.0.1]", ...(listing === "login" ? [PASSWORD_PLAIN] : [])];
}

/** What the listing prints after a successful EHLO without STARTTLS. */
function afterHello(listing: Listing): string[] {
  return listing === "tls" ? [NO_TLS] : [];
}

/** Accepts MAIL, each RCPT, DATA and the message, then QUIT. */
async function accept(s: Session, recipients = 1): Promise<void> {
  await s.answer(/^mail FROM:/, "250 2.1.0 Ok\r\n");
  for (let i = 0; i < recipients; i++) await s.answer(/^rcpt TO:/, "250 2.1.5 Ok\r\n");
  await s.answer(/^data$/, "354 End data with <CR><LF>.<CR><LF>\r\n");
  await s.readData();
  await s.send("250 2.0.0 Ok: queued\r\n");
  await s.answer(/^quit$/, "221 2.0.0 Bye\r\n");
}

/** What the client sends from MAIL to QUIT when all goes well. */
function sendSent(listing: Listing, to = [TO]): string[] {
  return [
    `mail FROM:<${FROM}>`,
    ...to.map((t) => `rcpt TO:<${t}>`),
    "data",
    ...payload(listing, to),
    ".",
    "quit",
  ];
}

function sent(count: number): string {
  return `Message sent to ${count} recipient${count === 1 ? "" : "s"}`;
}

/** The whole successful exchange for `listing`, with `greeting` sent as given. */
function success(listing: Listing): Expected {
  return {
    stdout: [...afterHello(listing), sent(1)],
    code: 0,
    received: [...helloSent(listing), ...sendSent(listing)],
  };
}

// ---- connecting ----

const unshareWorks = await (async () => {
  try {
    const { success } = await new Deno.Command("unshare", { args: ["-n", "true"] }).output();
    return success;
  } catch {
    return false;
  }
})();

if (unshareWorks) {
  scenario("unknown host (in a namespace without network)", ALL, (listing) => ({
    server: async () => {},
    options: { isolated: true, server: "nohost.invalid" },
    expected: failure(listing, /^Could not connect to nohost\.invalid: .*(lookup|resolv)/),
  }));
} else {
  Deno.test("fault: unknown host (faked dial: unshare -n is not available)", async () => {
    const { main } = await import("../ehlo.ts");
    const lines: string[] = [];
    const code = await main(["nohost.invalid", FROM, TO], {
      print: (line) => lines.push(line),
      smtp: {
        dial: () => Promise.reject(new Error("failed to lookup address information")),
      },
    });
    assert.equal(code, 1);
    assert.deepEqual(lines, [
      FAILED,
      "Could not connect to nohost.invalid: failed to lookup address information",
    ]);
  });
}

/** A port on 127.0.0.1 that nothing listens on. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

const refused = closedPort();
scenario("connection refused", ALL, (listing) => ({
  server: async () => {},
  options: { server: `127.0.0.1:${refused}` },
  expected: failure(
    listing,
    `Could not connect to 127.0.0.1:${refused}: Connection refused (os error 111)`,
  ),
}));

/**
 * A listener with a full backlog, so a connection is never completed: a
 * Python socket with `listen(0)` (Deno's cannot set the backlog) holding
 * one connection that is never accepted. Null when python3 is missing.
 */
async function fullBacklog(): Promise<{ port: number; stop: () => Promise<void> } | null> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("python3", {
      args: [
        "-c",
        "import socket,sys\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\n" +
        "print(s.getsockname()[1],flush=True)\nsys.stdin.read()",
      ],
      stdin: "piped",
      stdout: "piped",
    }).spawn();
  } catch {
    return null;
  }
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  const port = Number(new TextDecoder().decode(value).trim());
  const held = await Deno.connect({ hostname: "127.0.0.1", port });
  // Check that the next connection does hang, or the test would prove nothing.
  let hangs = false;
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port, signal: AbortSignal.timeout(300) }))
      .close();
  } catch {
    hangs = true;
  }
  const stop = async () => {
    held.close();
    await child.stdin.close();
    await child.stdout.cancel();
    await child.status;
  };
  if (!hangs) {
    await stop();
    return null;
  }
  return { port, stop };
}

const backlog = await fullBacklog();
if (backlog) {
  scenario("connect timeout (listener with a full backlog)", ALL, (listing) => ({
    server: async () => {},
    options: { server: `127.0.0.1:${backlog.port}` },
    expected: {
      ...failure(listing, `Could not connect to 127.0.0.1:${backlog.port}: timed out after 1 s`),
      waits: true,
    },
  }));
  Deno.test("fault: (stop the full-backlog listener)", async () => await backlog.stop());
} else {
  Deno.test("fault: connect timeout (faked dial: no full-backlog listener here)", async () => {
    const { main } = await import("../ehlo.ts");
    const lines: string[] = [];
    const code = await main(["127.0.0.1:9", FROM, TO, "--timeout", "0.2"], {
      print: (line) => lines.push(line),
      smtp: { dial: (_h, _p, signal) => new Promise((_, reject) => signal.onabort = reject) },
    });
    assert.equal(code, 1);
    assert.deepEqual(lines, [FAILED, "Could not connect to 127.0.0.1:9: timed out after 0.2 s"]);
  });
}

const TIMED_OUT = `Timed out after ${TIMEOUT} s waiting for the server's reply`;

scenario("greeting timeout (accepts, says nothing)", ALL, (listing) => ({
  server: async () => {},
  expected: {
    ...failure(listing, `Timed out after ${TIMEOUT} s waiting for the server's greeting`),
    waits: true,
  },
}));

scenario("stall in the middle of the EHLO reply", ALL, (listing) => ({
  server: async (s) => {
    await s.send("220 hostile.test ESMTP\r\n");
    await s.expect(/^ehlo /);
    await s.send("250-hostile.test\r\n250-PIPEL");
  },
  expected: { ...failure(listing, TIMED_OUT), received: ["ehlo [127.0.0.1]"], waits: true },
}));

// ---- greetings and EHLO/HELO ----

for (const code of [554, 421]) {
  scenario(`greeting ${code}`, ALL, (listing) => ({
    server: (s) => s.send(`${code} 4.3.2 not today\r\n`),
    expected: failure(listing, `Server refused the connection: ${code} 4.3.2 not today`),
  }));
}

scenario("multi-line greeting", ALL, (listing) => ({
  server: async (s) => {
    await s.send("220-hostile.test ESMTP\r\n220-second line\r\n");
    await hello(s, listing); // its 220 ends the greeting
    await accept(s);
  },
  expected: success(listing),
}));

scenario("EHLO refused, HELO accepted", ALL, (listing) => ({
  server: async (s) => {
    await s.send("220 hostile.test\r\n");
    await s.answer(/^ehlo /, "502 5.5.2 what?\r\n");
    await s.answer(/^helo /, "250 hostile.test\r\n");
    if (listing !== "login") await accept(s);
  },
  expected: listing === "login"
    ? {
      stdout: ["Authentication failed: SMTP AUTH extension not supported by server."],
      code: 1,
      received: ["ehlo [127.0.0.1]", "helo [127.0.0.1]"],
    }
    : {
      stdout: [...afterHello(listing), sent(1)],
      code: 0,
      received: ["ehlo [127.0.0.1]", "helo [127.0.0.1]", ...sendSent(listing)],
    },
}));

scenario("EHLO and HELO refused", ALL, (listing) => ({
  server: async (s) => {
    await s.send("220 hostile.test\r\n");
    await s.answer(/^ehlo /, "502 5.5.2 what?\r\n");
    await s.answer(/^helo /, "501 5.5.4 nor that\r\n");
  },
  expected: {
    ...(listing === "ehlo" || listing === "tls"
      ? { stdout: ["Remote server refused HELO; code: 501"], code: 1, received: [] }
      : listing === "login"
      ? {
        stdout: ["Authentication failed: Server refused HELO: 501 5.5.4 nor that"],
        code: 1,
        received: [],
      }
      : failure(listing, "Server refused HELO: 501 5.5.4 nor that")),
    received: ["ehlo [127.0.0.1]", "helo [127.0.0.1]"],
  },
}));

// ---- malformed and hostile replies ----

/** A well-behaved conversation whose every reply goes through `shape`. */
function shaped(listing: Listing, send: (s: Session, text: string) => Promise<void>): Script {
  return async (s) => {
    const say = (text: string) => send(s, text);
    await say("220-hostile.test ESMTP\r\n220 hi\r\n");
    await s.expect(/^ehlo /);
    await say(
      reply(250, ["hostile.test", "PIPELINING", ...(listing === "login" ? ["AUTH PLAIN"] : [])]),
    );
    if (listing === "login") {
      await s.expect(/^AUTH PLAIN /);
      await say("235 2.7.0 ok\r\n");
    }
    await s.expect(/^mail /);
    await say("250 2.1.0 ok\r\n");
    await s.expect(/^rcpt /);
    await say("250 2.1.5 ok\r\n");
    await s.expect(/^data$/);
    await say("354 go on\r\n");
    await s.readData();
    await say("250-2.0.0 queued\r\n250 as 1234\r\n");
    await s.expect(/^quit$/);
    await say("221 2.0.0 Bye\r\n");
  };
}

scenario("every reply split into single bytes", ALL, (listing) => ({
  server: shaped(listing, (s, text) => s.send(text, text.length, 1)),
  expected: success(listing),
}));

scenario("bare LF line endings", ALL, (listing) => ({
  server: shaped(listing, (s, text) => s.send(text.replaceAll("\r\n", "\n"))),
  expected: success(listing),
}));

scenario("several replies in one write", ALL, (listing) => ({
  server: async (s) => {
    await hello(s, listing);
    // MAIL's, RCPT's and DATA's replies all at once, before RCPT is sent.
    await s.expect(/^mail /);
    await s.send("250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go on\r\n");
    await s.expect(/^rcpt /);
    await s.expect(/^data$/);
    await s.readData();
    await s.send("250 2.0.0 queued\r\n221 2.0.0 Bye\r\n");
    await s.expect(/^quit$/);
  },
  expected: success(listing),
}));

scenario("non-numeric reply code", ALL, (listing) => ({
  server: (s) => s.send("2x0 hostile.test\r\n"),
  expected: failure(listing, `-1 Malformed reply line: "2x0 hostile.test\\r\\n"`),
}));

const LINE_TOO_LONG = `500 Line too long (a reply line is over ${MAX_LINE} bytes)`;

scenario("reply line of 8193 bytes", ALL, (listing) => ({
  server: (s) => s.send(`220 ${"x".repeat(MAX_LINE + 1 - 6)}\r\n`),
  expected: failure(listing, LINE_TOO_LONG),
}));

scenario("reply line of exactly 8192 bytes is accepted", ["ehlo"], (listing) => ({
  server: async (s) => {
    await s.send(`220 ${"x".repeat(MAX_LINE - 6)}\r\n`);
    await s.expect(/^ehlo /);
    await s.send(reply(250, ["hostile.test"]));
    await accept(s);
  },
  expected: success(listing),
}));

scenario("reply line of 10 MB", ALL, (listing) => ({
  server: async (s) => {
    const huge = new Uint8Array(10 * 1024 * 1024).fill(0x78);
    huge.set(new TextEncoder().encode("220 "));
    // The client stops reading and closes: the write fails, as it should.
    await s.send(huge, 160, 0).catch(() => {});
  },
  expected: failure(listing, LINE_TOO_LONG),
}));

scenario("a reply that never ends", ALL, (listing) => ({
  server: async (s) => {
    await s.send("220 hostile.test\r\n");
    await s.expect(/^ehlo /);
    const batch = "250-still going\r\n".repeat(100);
    try {
      while (true) await s.send(batch);
    } catch { /* the client gave up and closed */ }
  },
  expected: {
    ...atLoginEhlo(listing, "500 Reply too long (more than 1000 lines)"),
    received: ["ehlo [127.0.0.1]"],
  },
}));

scenario("EOF inside a multi-line reply", ALL, (listing) => ({
  server: async (s) => {
    await s.send("220 hostile.test\r\n");
    await s.expect(/^ehlo /);
    await s.send("250-hostile.test\r\n250-PIPELINING\r\n");
    s.close();
  },
  expected: {
    ...atLoginEhlo(listing, "Connection unexpectedly closed"),
    received: ["ehlo [127.0.0.1]"],
  },
}));

scenarioCount++;
Deno.test("fault: connection reset while waiting for the EHLO reply", async () => {
  await Promise.all(ALL.map(async (listing) => {
    const server = await startResettingServer("220 hostile.test\r\n", 1);
    const result = await run(listing, server.address);
    runCount++;
    const reason = /^Connection unexpectedly closed: Connection reset by peer/;
    const expected = listing === "login"
      ? { stdout: [/^Authentication failed: Connection unexpectedly closed: .*reset/], code: 1 }
      : failure(listing, reason);
    assert.deepEqual(await server.finished(), ["ehlo [127.0.0.1]"], listing);
    matchLines(result.stdout, expected.stdout, `${listing}.ts stdout`);
    assert.equal(result.code, expected.code, listing);
    if ("stderr" in expected && expected.stderr) assert.match(result.stderr, expected.stderr);
  }));
});

// ---- the mail transaction ----

scenario("421 at MAIL", ALL, (listing) => ({
  server: async (s) => {
    await hello(s, listing);
    await s.answer(/^mail /, "421 4.3.2 shutting down\r\n");
  },
  expected: {
    ...failure(listing, `Sender ${FROM} refused: 421 4.3.2 shutting down`, afterHello(listing)),
    received: [...helloSent(listing), `mail FROM:<${FROM}>`],
  },
}));

scenario("421 at RCPT", ALL, (listing) => ({
  server: async (s) => {
    await hello(s, listing);
    await s.answer(/^mail /, "250 ok\r\n");
    await s.answer(/^rcpt /, "421 4.3.2 shutting down\r\n");
  },
  options: { to: [TO, OTHER] },
  expected: {
    ...failure(
      listing,
      `Recipients refused: ${TO} (421 4.3.2 shutting down)`,
      afterHello(listing),
    ),
    // The second RCPT is not sent: the connection is closed at once.
    received: [...helloSent(listing), `mail FROM:<${FROM}>`, `rcpt TO:<${TO}>`],
  },
}));

scenario("421 in reply to DATA", ALL, (listing) => ({
  server: async (s) => {
    await hello(s, listing);
    await s.answer(/^mail /, "250 ok\r\n");
    await s.answer(/^rcpt /, "250 ok\r\n");
    await s.answer(/^data$/, "421 4.3.2 shutting down\r\n");
  },
  expected: {
    ...failure(listing, "Message data refused: 421 4.3.2 shutting down", afterHello(listing)),
    // No message body after a refused DATA.
    received: [...helloSent(listing), `mail FROM:<${FROM}>`, `rcpt TO:<${TO}>`, "data"],
  },
}));

scenario("421 after the message", ALL, (listing) => ({
  server: async (s) => {
    await hello(s, listing);
    await s.answer(/^mail /, "250 ok\r\n");
    await s.answer(/^rcpt /, "250 ok\r\n");
    await s.answer(/^data$/, "354 go on\r\n");
    await s.readData();
    await s.send("421 4.3.2 shutting down\r\n");
  },
  expected: {
    ...failure(listing, "Message data refused: 421 4.3.2 shutting down", afterHello(listing)),
    received: [...helloSent(listing), ...sendSent(listing).slice(0, -1)],
  },
}));

scenario("sender refused", ALL, (listing) => ({
  server: async (s) => {
    await hello(s, listing);
    await s.answer(/^mail /, "553 5.1.8 no such sender\r\n");
    await s.answer(/^rset$/, "250 ok\r\n");
  },
  expected: {
    ...failure(listing, `Sender ${FROM} refused: 553 5.1.8 no such sender`, afterHello(listing)),
    received: [...helloSent(listing), `mail FROM:<${FROM}>`, "rset"],
  },
}));

scenario("one of two recipients refused", ALL, (listing) => ({
  server: async (s) => {
    await hello(s, listing);
    await s.answer(/^mail /, "250 ok\r\n");
    await s.answer(/^rcpt /, "250 ok\r\n");
    await s.answer(/^rcpt /, "550 5.1.1 no such user\r\n");
    await s.answer(/^data$/, "354 go on\r\n");
    await s.readData();
    await s.send("250 queued\r\n");
    await s.answer(/^quit$/, "221 bye\r\n");
  },
  options: { to: [TO, OTHER] },
  expected: {
    stdout: [...afterHello(listing), sent(2)],
    code: 0,
    received: [...helloSent(listing), ...sendSent(listing, [TO, OTHER])],
  },
}));

scenario("all recipients refused", ALL, (listing) => ({
  server: async (s) => {
    await hello(s, listing);
    await s.answer(/^mail /, "250 ok\r\n");
    await s.answer(/^rcpt /, "550 5.1.1 no such user\r\n");
    await s.answer(/^rcpt /, "551 5.1.6 moved\r\n");
    await s.answer(/^rset$/, "250 ok\r\n");
  },
  options: { to: [TO, OTHER] },
  expected: {
    ...failure(
      listing,
      `Recipients refused: ${TO} (550 5.1.1 no such user), ${OTHER} (551 5.1.6 moved)`,
      afterHello(listing),
    ),
    received: [
      ...helloSent(listing),
      `mail FROM:<${FROM}>`,
      `rcpt TO:<${TO}>`,
      `rcpt TO:<${OTHER}>`,
      "rset",
    ],
  },
}));

scenario("552 in reply to DATA", ALL, (listing) => ({
  server: async (s) => {
    await hello(s, listing);
    await s.answer(/^mail /, "250 ok\r\n");
    await s.answer(/^rcpt /, "250 ok\r\n");
    await s.answer(/^data$/, "552 5.3.4 too big\r\n");
  },
  expected: {
    ...failure(listing, "Message data refused: 552 5.3.4 too big", afterHello(listing)),
    // No body, and (as smtplib's data()) no RSET either.
    received: [...helloSent(listing), `mail FROM:<${FROM}>`, `rcpt TO:<${TO}>`, "data"],
  },
}));

scenario("552 after the message", ALL, (listing) => ({
  server: async (s) => {
    await hello(s, listing);
    await s.answer(/^mail /, "250 ok\r\n");
    await s.answer(/^rcpt /, "250 ok\r\n");
    await s.answer(/^data$/, "354 go on\r\n");
    await s.readData();
    await s.send("552 5.3.4 too big\r\n");
    await s.answer(/^rset$/, "250 ok\r\n");
  },
  expected: {
    ...failure(listing, "Message data refused: 552 5.3.4 too big", afterHello(listing)),
    received: [...helloSent(listing), ...sendSent(listing).slice(0, -1), "rset"],
  },
}));

// ---- AUTH (login.ts) ----

/** Greets and answers EHLO offering `auth` (or no AUTH line when null). */
async function offerAuth(s: Session, auth: string | null): Promise<void> {
  await s.send("220 hostile.test\r\n");
  await s.expect(/^ehlo /);
  await s.send(reply(250, ["hostile.test", ...(auth === null ? [] : [`AUTH ${auth}`])]));
}

function authFailed(reason: string, received: string[]): Expected {
  return { stdout: [`Authentication failed: ${reason}`], code: 1, received };
}

scenario("AUTH not advertised", ["login"], () => ({
  server: (s) => offerAuth(s, null),
  expected: authFailed("SMTP AUTH extension not supported by server.", ["ehlo [127.0.0.1]"]),
}));

scenario("AUTH with only unknown mechanisms", ["login"], () => ({
  server: (s) => offerAuth(s, "GSSAPI NTLM XOAUTH2"),
  expected: authFailed("No suitable authentication method found.", ["ehlo [127.0.0.1]"]),
}));

const CHALLENGE = "<1896.697170952@hostile.test>";
const cramAnswer = btoa(
  `brandon ${createHmac("md5", "abc123").update(CHALLENGE).digest("hex")}`,
);

scenario("wrong password with every mechanism", ["login"], () => ({
  server: async (s) => {
    await offerAuth(s, "LOGIN PLAIN CRAM-MD5");
    await s.answer(/^AUTH CRAM-MD5$/, `334 ${btoa(CHALLENGE)}\r\n`);
    await s.answer(/./, "535 5.7.8 bad (cram)\r\n");
    await s.answer(/^AUTH PLAIN /, "535 5.7.8 bad (plain)\r\n");
    await s.answer(/^AUTH LOGIN /, `334 ${btoa("Password:")}\r\n`);
    await s.answer(/./, "535 5.7.8 bad (login)\r\n");
  },
  expected: authFailed("535 5.7.8 bad (login)", [
    "ehlo [127.0.0.1]",
    "AUTH CRAM-MD5",
    cramAnswer,
    PASSWORD_PLAIN,
    `AUTH LOGIN ${btoa("brandon")}`,
    btoa("abc123"),
  ]),
}));

scenario("334 forever", ["login"], () => ({
  server: async (s) => {
    await offerAuth(s, "PLAIN");
    try {
      while (true) await s.answer(/./, "334 \r\n");
    } catch { /* the client gave up */ }
  },
  expected: authFailed("Server AUTH mechanism infinite loop. Last response: 334 ", [
    "ehlo [127.0.0.1]",
    PASSWORD_PLAIN,
    ...Array(5).fill(PASSWORD_PLAIN.slice("AUTH PLAIN ".length)),
  ]),
}));

scenario("malformed base64 challenge", ["login"], () => ({
  server: async (s) => {
    await offerAuth(s, "LOGIN");
    await s.answer(/^AUTH LOGIN /, "334 !!not*base64\r\n");
  },
  expected: authFailed("Malformed AUTH challenge from the server: '!!not*base64'", [
    "ehlo [127.0.0.1]",
    `AUTH LOGIN ${btoa("brandon")}`,
  ]),
}));

scenario("disconnect during AUTH", ["login"], () => ({
  server: async (s) => {
    await offerAuth(s, "LOGIN");
    await s.answer(/^AUTH LOGIN /, `334 ${btoa("Password:")}\r\n`);
    await s.expect(/./);
    s.close();
  },
  expected: authFailed("Connection unexpectedly closed", [
    "ehlo [127.0.0.1]",
    `AUTH LOGIN ${btoa("brandon")}`,
    btoa("abc123"),
  ]),
}));

// ---- STARTTLS (tls.ts) ----

const NEGOTIATING = "Negotiating TLS....";

/** Greets, offers STARTTLS and answers it with `answer`. */
async function offerStartTls(s: Session, answer: string): Promise<void> {
  await s.send("220 hostile.test\r\n");
  await s.answer(/^ehlo /, reply(250, ["hostile.test", "STARTTLS"]));
  await s.answer(/^STARTTLS$/, answer);
}

/** Checks that what followed STARTTLS on the wire was TLS and no plain SMTP. */
function onlyTlsAfterStartTls(session: Session): void {
  const raw = session.rawAfterTls.flatMap((chunk) => [...chunk]);
  assert.ok(raw.length > 0, "the client began no TLS handshake");
  assert.equal(raw[0], 0x16, "the first byte after STARTTLS is not a TLS handshake record");
  const text = String.fromCharCode(...raw);
  assert.doesNotMatch(text, /ehlo|mail FROM|rcpt TO|data\r\n|quit/);
}

scenario("STARTTLS with a good certificate (the baseline)", ["tls"], () => ({
  server: async (s) => {
    await offerStartTls(s, "220 2.0.0 Ready to start TLS\r\n");
    if (!await s.startTls(certs.good)) throw s.tlsError;
    await s.answer(/^ehlo /, reply(250, ["hostile.test", "PIPELINING"]));
    await accept(s);
  },
  expected: {
    stdout: [NEGOTIATING, "Using TLS connection.", sent(1)],
    code: 0,
    received: ["ehlo [127.0.0.1]", "STARTTLS", "ehlo [127.0.0.1]", ...sendSent("tls")],
  },
  check: onlyTlsAfterStartTls,
}));

scenario("STARTTLS refused with 454", ["tls"], () => ({
  server: (s) => offerStartTls(s, "454 4.7.0 TLS not available\r\n"),
  expected: {
    ...failure("tls", "STARTTLS refused: 454 4.7.0 TLS not available", [NEGOTIATING]),
    received: ["ehlo [127.0.0.1]", "STARTTLS"],
  },
}));

scenario("STARTTLS 220 with plaintext injected in the same write", ["tls"], () => ({
  server: (s) => offerStartTls(s, "220 go ahead\r\n250-hostile.test\r\n250 AUTH PLAIN\r\n"),
  expected: {
    ...failure(
      "tls",
      "Server sent data after its 220 reply to STARTTLS, before the TLS handshake; " +
        "refusing to go on (possible command injection)",
      [NEGOTIATING],
    ),
    // Not one byte after STARTTLS: no TLS hello, no command.
    received: ["ehlo [127.0.0.1]", "STARTTLS"],
  },
  check: (session) => assert.equal(session.rawAfterTls.length, 0),
}));

const badCertificates = [
  ["expired", certs.expired, /certificate expired/],
  ["for another host name", certs.wrongName, /not valid for name "127\.0\.0\.1"/],
  ["self-signed (untrusted)", certs.selfSigned, /UnknownIssuer/],
] as const;
for (const [what, keys, problem] of badCertificates) {
  scenario(`STARTTLS with a certificate ${what}`, ["tls"], () => ({
    server: async (s) => {
      await offerStartTls(s, "220 2.0.0 Ready\r\n");
      if (await s.startTls(keys)) throw new Error("the handshake should have failed");
    },
    expected: {
      ...failure(
        "tls",
        new RegExp(`^TLS handshake with 127\\.0\\.0\\.1 failed: .*${problem.source}`),
        [NEGOTIATING],
      ),
      received: ["ehlo [127.0.0.1]", "STARTTLS"],
    },
    check: onlyTlsAfterStartTls,
  }));
}

scenario("server stops answering during the TLS handshake", ["tls"], () => ({
  server: async (s) => {
    await offerStartTls(s, "220 2.0.0 Ready\r\n");
    await s.ignoreTls();
  },
  expected: {
    ...failure("tls", `Timed out after ${TIMEOUT} s during the TLS handshake`, [NEGOTIATING]),
    received: ["ehlo [127.0.0.1]", "STARTTLS"],
    waits: true,
  },
  check: onlyTlsAfterStartTls,
}));

scenario("EHLO refused after STARTTLS (exit 5)", ["tls"], () => ({
  server: async (s) => {
    await offerStartTls(s, "220 2.0.0 Ready\r\n");
    if (!await s.startTls(certs.good)) throw s.tlsError;
    await s.answer(/^ehlo /, "502 5.5.2 no\r\n");
  },
  expected: {
    stdout: [NEGOTIATING, "Couldn't EHLO after STARTTLS"],
    code: 5,
    received: ["ehlo [127.0.0.1]", "STARTTLS", "ehlo [127.0.0.1]"],
  },
}));

// ---- hostile arguments ----

const INVALID = "an address may not hold CR, LF, '<' or '>'";
const badArguments: [string, RunOptions, string][] = [
  [
    "CR LF in the sender",
    { from: `${FROM}\r\nRCPT TO:<evil@example.com>` },
    `Invalid address 'sender@example.com\\r\\nRCPT TO:<evil@example.com>': ${INVALID}`,
  ],
  [
    "LF in a recipient",
    { to: [TO, `${OTHER}\nDATA`] },
    `Invalid address 'bad@example.com\\nDATA': ${INVALID}`,
  ],
  [
    // (Not at the end: Deno drops a trailing CR from each argument.)
    "CR in a recipient",
    { to: [`${TO}\rRSET`] },
    `Invalid address 'brandon@example.com\\rRSET': ${INVALID}`,
  ],
  [
    "'<' and '>' in a recipient",
    { to: ["a<b>@example.com"] },
    `Invalid address 'a<b>@example.com': ${INVALID}`,
  ],
  [
    "'>' and an option in the sender",
    { from: `${FROM}> BODY=8BITMIME` },
    `Invalid address 'sender@example.com> BODY=8BITMIME': ${INVALID}`,
  ],
];
for (const [what, options, message] of badArguments) {
  scenario(what, ALL, (listing) => ({
    server: (s) => hello(s, listing),
    options,
    expected: {
      ...failure(listing, message, afterHello(listing)),
      // simple and debug check the addresses before EHLO; the other three
      // say EHLO themselves first. Nothing is said after that.
      received: listing === "simple" || listing === "debug" ? [] : helloSent(listing),
    },
  }));
}

scenario("non-ASCII address without SMTPUTF8", ALL, (listing) => ({
  server: (s) => hello(s, listing, ["8BITMIME"]),
  options: { to: ["brændon@example.com"] },
  expected: {
    ...failure(
      listing,
      "The address 'brændon@example.com' is not ASCII and the server does not offer SMTPUTF8",
      afterHello(listing),
    ),
    received: helloSent(listing),
  },
}));

// ---- SIZE (ehlo.ts) ----

const messageSize = payload("ehlo").reduce((sum, line) => sum + line.length + 2, 0);

for (const [value, shown] of [["", "SIZE"], [" 0", "SIZE 0"], [" abc", "SIZE abc"]]) {
  scenario(`ehlo.ts with ${shown}`, ["ehlo"], () => ({
    server: async (s) => {
      await hello(s, "ehlo", [`SIZE${value}`]);
      await accept(s);
    },
    expected: {
      stdout: [`Maximum message size is ${value.trim() || "not stated"}`, sent(1)],
      code: 0,
      received: [
        "ehlo [127.0.0.1]",
        `mail FROM:<${FROM}> size=${messageSize}`,
        ...sendSent("ehlo").slice(1),
      ],
    },
  }));
}

scenario("ehlo.ts with a SIZE below the message", ["ehlo"], () => ({
  server: (s) => hello(s, "ehlo", ["SIZE 100"]),
  expected: {
    stdout: ["Maximum message size is 100", "Message too large; aborting."],
    code: 1,
    received: ["ehlo [127.0.0.1]"],
  },
}));

// ---- 421 at the steps not covered above ----

const CLOSING = "The server closed the connection: 421 4.3.2 shutting down";

scenario("421 in reply to EHLO: no HELO", ALL, (listing) => ({
  server: async (s) => {
    await s.send("220 hostile.test ESMTP\r\n");
    await s.answer(/^ehlo /, "421 4.3.2 shutting down\r\n");
  },
  expected: { ...atLoginEhlo(listing, CLOSING), received: ["ehlo [127.0.0.1]"] },
}));

scenario("421 in reply to AUTH: no next mechanism", ["login"], () => ({
  server: async (s) => {
    await offerAuth(s, "PLAIN LOGIN");
    await s.answer(/^AUTH PLAIN /, "421 4.3.2 shutting down\r\n");
  },
  expected: {
    stdout: ["Authentication failed: 421 4.3.2 shutting down"],
    code: 1,
    received: ["ehlo [127.0.0.1]", PASSWORD_PLAIN],
  },
}));

// ---- the message accepted, then QUIT goes unanswered ----

const NOTICE = "the server accepted the message but did not answer QUIT: ";

/** Accepts the message, then does `atQuit` instead of answering QUIT. */
function acceptedThen(listing: Listing, atQuit: (s: Session) => Promise<void>): Script {
  return async (s) => {
    await hello(s, listing);
    await s.answer(/^mail FROM:/, "250 2.1.0 Ok\r\n");
    await s.answer(/^rcpt TO:/, "250 2.1.5 Ok\r\n");
    await s.answer(/^data$/, "354 End data with <CR><LF>.<CR><LF>\r\n");
    await s.readData();
    await s.send("250 2.0.0 Ok: queued\r\n");
    await s.expect(/^quit$/);
    await atQuit(s);
  };
}

scenario("accepted, then the server hangs up at QUIT", ALL, (listing) => ({
  server: acceptedThen(listing, (s) => Promise.resolve(s.close())),
  expected: {
    ...success(listing),
    stderrLines: [new RegExp(`^${listing}\\.ts: ${NOTICE}Connection unexpectedly closed`)],
  },
}));

scenario("accepted, then the server stays silent at QUIT", ALL, (listing) => ({
  server: acceptedThen(listing, async () => {}),
  expected: {
    ...success(listing),
    stderrLines: [`${listing}.ts: ${NOTICE}${TIMED_OUT}`],
    waits: true,
  },
}));

scenarioCount++;
Deno.test("fault: accepted, then the connection is reset at QUIT", async () => {
  await Promise.all(ALL.map(async (listing) => {
    const server = await startResetAtServer(/^quit$/);
    const result = await run(listing, server.address);
    runCount++;
    assert.deepEqual(await server.finished(), [...helloSent(listing), ...sendSent(listing)]);
    assert.deepEqual(result.stdout, success(listing).stdout, `${listing}.ts\n${result.stderr}`);
    assert.equal(result.code, 0, listing);
    const notices = result.stderr.split("\n").filter((line) => line.includes(NOTICE));
    assert.equal(notices.length, 1, result.stderr);
    assert.match(notices[0], new RegExp(`^${listing}\\.ts: ${NOTICE}.*reset`), result.stderr);
    assert.doesNotMatch(result.stderr, /Uncaught/);
  }));
});

// ---- --starttls: TLS or nothing ----

scenario("--starttls against a server that strips STARTTLS", ALL, (listing) => ({
  server: (s) => offerAuth(s, "PLAIN LOGIN"),
  options: { flags: ["--starttls"] },
  expected: {
    ...failure(
      listing,
      listing === "tls"
        ? "STARTTLS extension not supported by server; --starttls refuses to send in plain text."
        : /^TLS is required \(requireTls\), but the server does not offer STARTTLS; .*nothing more was sent/,
    ),
    // Not one byte after EHLO: no AUTH (no password), no MAIL, no QUIT.
    received: ["ehlo [127.0.0.1]"],
  },
}));

scenario(
  "--starttls with a good certificate: login after the upgrade",
  ["login", "tls"],
  (listing) => ({
    server: async (s) => {
      await offerStartTls(s, "220 2.0.0 Ready to start TLS\r\n");
      if (!await s.startTls(certs.good)) throw s.tlsError;
      await s.answer(/^ehlo /, reply(250, ["hostile.test", "AUTH PLAIN"]));
      if (listing === "login") await s.answer(/^AUTH PLAIN /, "235 2.7.0 Authenticated\r\n");
      await accept(s);
    },
    options: { flags: ["--starttls"] },
    expected: {
      stdout: listing === "tls" ? [NEGOTIATING, "Using TLS connection.", sent(1)] : [sent(1)],
      code: 0,
      received: [
        "ehlo [127.0.0.1]",
        "STARTTLS",
        "ehlo [127.0.0.1]",
        ...(listing === "login" ? [PASSWORD_PLAIN] : []),
        ...sendSent(listing),
      ],
      stderrLines: [],
    },
    // The password went only inside TLS.
    check: onlyTlsAfterStartTls,
  }),
);

// ---- --tls: TLS from the first byte ----

scenario("--tls against an implicit-TLS server", ALL, (listing) => ({
  tls: certs.good,
  server: async (s) => {
    await hello(s, listing);
    await accept(s);
  },
  options: { flags: ["--tls"] },
  expected: {
    stdout: [...(listing === "tls" ? ["Using TLS connection."] : []), sent(1)],
    code: 0,
    received: [...helloSent(listing), ...sendSent(listing)],
    stderrLines: [],
  },
}));

scenario(
  "--tls with a certificate from an unknown CA: a --cert hint",
  ["ehlo", "tls"],
  (listing) => ({
    tls: certs.selfSigned,
    server: async () => {},
    options: { flags: ["--tls"] },
    expected: {
      ...failure(listing, /^TLS handshake with 127\.0\.0\.1 failed: .*UnknownIssuer/),
      stderrLines: [
        `${listing}.ts: the server's certificate is signed by a CA that Deno does not trust.`,
        `${listing}.ts: If you have that CA's certificate (PEM), give it to Deno before the script name:`,
        new RegExp(
          `^${listing}\\.ts: {3}deno run -N --cert FILE ${listing}\\.ts --tls --timeout 1 127\\.0\\.0\\.1:\\d+ ${FROM} ${TO}$`,
        ),
        `${listing}.ts: or set DENO_CERT=FILE.`,
      ],
    },
  }),
);

// ---- hints that point the way (stderr; stdout keeps the book's lines) ----

/** The `--tls` hint: `why`, then the command with `--tls`. */
function tlsHint(listing: Listing, why: string): Line[] {
  return [
    `${listing}.ts: ${why}`,
    new RegExp(
      `^${listing}\\.ts: {3}deno run -N ${listing}\\.ts --tls --timeout 1 127\\.0\\.0\\.1:\\d+ ${FROM} ${TO}$`,
    ),
  ];
}

scenario("no --tls against an implicit-TLS server: no greeting, a --tls hint", ALL, (listing) => ({
  tls: certs.good,
  server: async () => {},
  expected: {
    ...failure(listing, `Timed out after ${TIMEOUT} s waiting for the server's greeting`),
    ...(listing === "simple" ? {} : {
      stderrLines: tlsHint(
        listing,
        "the server sent no greeting: if it speaks TLS from the first byte " +
          "(implicit TLS, as on port 465), try --tls:",
      ),
    }),
    waits: true,
  },
}));

scenario("a TLS record where the greeting should be: a --tls hint", ALL, (listing) => ({
  // A TLS alert record, as some servers send to a client that does not start TLS.
  server: (s) => s.send(new Uint8Array([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32])),
  expected: {
    ...failure(
      listing,
      "The server sent a TLS record (0x15 0x03) where its SMTP greeting should be: " +
        "this looks like TLS from the first byte (implicit TLS)",
    ),
    ...(listing === "simple" ? {} : {
      stderrLines: tlsHint(
        listing,
        "the server answered with TLS: it speaks TLS from the first byte " +
          "(implicit TLS, as on port 465). Try --tls:",
      ),
    }),
  },
}));

scenario("AUTH offered only after STARTTLS: a --starttls hint", ["login"], () => ({
  server: async (s) => {
    await s.send("220 hostile.test\r\n");
    await s.answer(/^ehlo /, reply(250, ["hostile.test", "STARTTLS"]));
  },
  expected: {
    ...authFailed("SMTP AUTH extension not supported by server.", ["ehlo [127.0.0.1]"]),
    stderrLines: [
      "login.ts: the server offers STARTTLS and no AUTH: it offers AUTH only after STARTTLS. Try --starttls:",
      new RegExp(
        `^login\\.ts: {3}deno run -N login\\.ts --starttls --timeout 1 127\\.0\\.0\\.1:\\d+ ${FROM} ${TO}$`,
      ),
    ],
  },
}));

scenario("STARTTLS without --cert: UnknownIssuer, a --cert hint", ["tls"], () => ({
  server: async (s) => {
    await offerStartTls(s, "220 2.0.0 Ready\r\n");
    await s.startTls(certs.good);
  },
  options: { deno: ["-N"] },
  expected: {
    ...failure("tls", /^TLS handshake with 127\.0\.0\.1 failed: .*UnknownIssuer/, [NEGOTIATING]),
    received: ["ehlo [127.0.0.1]", "STARTTLS"],
    stderrLines: [
      "tls.ts: the server's certificate is signed by a CA that Deno does not trust.",
      "tls.ts: If you have that CA's certificate (PEM), give it to Deno before the script name:",
      new RegExp(
        `^tls\\.ts: {3}deno run -N --cert FILE tls\\.ts --timeout 1 127\\.0\\.0\\.1:\\d+ `,
      ),
      "tls.ts: or set DENO_CERT=FILE.",
    ],
  },
}));

scenario("a CA file that cannot be read (DENO_CERT): the file named", ["tls"], () => ({
  server: async (s) => {
    await offerStartTls(s, "220 2.0.0 Ready\r\n");
    await s.ignoreTls();
  },
  options: {
    deno: ["-N", "--allow-env=DENO_CERT"],
    env: { DENO_CERT: "/nonexistent/ca.pem" },
  },
  expected: {
    ...failure("tls", /Failed opening CA file/, [NEGOTIATING]),
    received: ["ehlo [127.0.0.1]", "STARTTLS"],
    stderrLines: [
      "tls.ts: the CA file given to Deno with --cert or DENO_CERT cannot be read: /nonexistent/ca.pem.",
      "tls.ts: Check its path; Deno reads it only when a TLS connection starts.",
    ],
  },
}));

scenario("a CA file that cannot be read (--cert): the file named", ["tls"], () => ({
  server: async (s) => {
    await offerStartTls(s, "220 2.0.0 Ready\r\n");
    await s.ignoreTls();
  },
  // With -A it may read its own command line, so it can name the file.
  options: { deno: ["-A", "--cert", "/nonexistent/given.pem"] },
  expected: {
    ...failure("tls", /Failed opening CA file/, [NEGOTIATING]),
    received: ["ehlo [127.0.0.1]", "STARTTLS"],
    stderrLines: [
      "tls.ts: the CA file given to Deno with --cert or DENO_CERT cannot be read: /nonexistent/given.pem.",
      "tls.ts: Check its path; Deno reads it only when a TLS connection starts.",
    ],
  },
}));

scenario("a CA file that cannot be read, with -N only: the hint without a name", ["tls"], () => ({
  server: async (s) => {
    await offerStartTls(s, "220 2.0.0 Ready\r\n");
    await s.ignoreTls();
  },
  options: { deno: ["-N", "--cert", "/nonexistent/given.pem"] },
  expected: {
    ...failure("tls", /Failed opening CA file/, [NEGOTIATING]),
    received: ["ehlo [127.0.0.1]", "STARTTLS"],
    stderrLines: [
      "tls.ts: the CA file given to Deno with --cert or DENO_CERT cannot be read.",
      "tls.ts: Check its path; Deno reads it only when a TLS connection starts.",
    ],
  },
}));

// ---- --pipelining ----

scenario("--pipelining: the envelope arrives before any reply", ALL, (listing) => ({
  server: async (s) => {
    await hello(s, listing, ["PIPELINING"]);
    // A client that waited for MAIL's reply would never send RCPT: no deadlock here.
    await s.expect(/^mail FROM:/);
    await s.expect(/^rcpt TO:/);
    await s.expect(/^data$/);
    await s.send("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go on\r\n");
    await s.readData();
    await s.send("250 2.0.0 Ok: queued\r\n");
    await s.answer(/^quit$/, "221 2.0.0 Bye\r\n");
  },
  options: { flags: ["--pipelining"] },
  expected: { ...success(listing), stderrLines: [] },
}));

// ---- the command line, run as a reader types it ----

/** Runs `deno run [deno] X.ts args...` and returns what it printed. */
async function runPlain(deno: string[], listing: Listing, args: string[]): Promise<Run> {
  const started = performance.now();
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...deno, `${listing}.ts`, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  const stdout = decoder.decode(output.stdout).replace(/\n$/, "").split("\n");
  return {
    stdout,
    stderr: decoder.decode(output.stderr),
    code: output.code,
    ms: performance.now() - started,
  };
}

Deno.test("fault: Deno's options after the script name: the corrected command, exit 2", async () => {
  const cert = await runPlain(["-N"], "tls", ["--cert", "ca.pem", "127.0.0.1:2525", FROM, TO]);
  assert.equal(cert.code, 2);
  assert.deepEqual(cert.stdout, ["Syntax: tls.ts server fromaddr toaddr [toaddr...]"]);
  assert.equal(
    cert.stderr,
    "tls.ts: '--cert' is Deno's option, not tls.ts's: Deno's options go before the script name, as in\n" +
      `tls.ts:   deno run -N --cert ca.pem tls.ts 127.0.0.1:2525 ${FROM} ${TO}\n`,
  );
  const net = await runPlain(["-N"], "simple", ["-N", "127.0.0.1:2525", FROM, TO]);
  assert.equal(net.code, 2);
  assert.deepEqual(net.stdout, ["usage: simple.ts server fromaddr toaddr [toaddr...]"]);
  assert.match(net.stderr, /^simple\.ts: '-N' is Deno's option/);
  assert.match(net.stderr, /\nsimple\.ts: {3}deno run -N simple\.ts 127\.0\.0\.1:2525 /);
  assert.doesNotMatch(cert.stderr + net.stderr, /positional|Uncaught/);
});

Deno.test("fault: --timeout above 2147483 s: a usage error at once, no 1 ms timer", async () => {
  await using server = startServer((s) => s.send("220 hostile.test\r\n"));
  await Promise.all(ALL.map(async (listing) => {
    const result = await runPlain(["-N"], listing, [
      "--timeout",
      "3000000",
      server.address,
      FROM,
      TO,
    ]);
    assert.equal(result.code, 2, listing);
    assert.match(result.stderr, /--timeout takes at most 2147483 seconds/);
    assert.doesNotMatch(result.stderr, /TimeoutOverflowWarning|timed out/i);
  }));
  assert.deepEqual(await server.finished(), [], "nothing connected");
});

// ---- memory stays bounded (in-process, counting the bytes read) ----

Deno.test("fault: a 10 MB reply line is read no further than the line limit", async () => {
  const huge = new Uint8Array(10 * 1024 * 1024).fill(0x78);
  huge.set(new TextEncoder().encode("220 "));
  await using server = startServer((s) => s.send(huge, 160, 0).catch(() => {}));
  let bytesRead = 0;
  let largestRead = 0;
  const dial = async (hostname: string, port: number) => {
    const conn = await Deno.connect({ hostname, port });
    return new Proxy(conn, {
      get(target, property) {
        if (property === "read") {
          return async (buffer: Uint8Array) => {
            largestRead = Math.max(largestRead, buffer.length);
            const n = await target.read(buffer);
            bytesRead += n ?? 0;
            return n;
          };
        }
        const value = Reflect.get(target, property);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  };
  await assert.rejects(
    SMTP.connect(server.address, { dial, timeout: 5000 }),
    { message: LINE_TOO_LONG },
  );
  const limit = MAX_LINE * 2 + 2;
  assert.ok(bytesRead <= limit, `read ${bytesRead} bytes of 10 MB`);
  assert.ok(largestRead <= limit, `asked for ${largestRead} bytes at once`);
  await server.finished();
});

Deno.test("fault: (counts)", () => {
  console.log(`${scenarioCount} scenarios, ${runCount} listing runs`);
  assert.ok(runCount > 0);
});
