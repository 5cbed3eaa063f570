/**
 * The harness the fault-injection tests share (faults_test.ts,
 * faults_tls_test.ts, faults_quit_test.ts, faults_cli_test.ts): running a
 * listing as a real `deno run` subprocess against the hostile server in
 * `tests/hostile/server.ts`, registering a scenario that checks the exact
 * stdout lines, the exit status, every line the server received and the
 * time taken, and the conversation a well-behaved server has.
 *
 * The expected lines follow the book's listings as LISTINGS.md (kept beside the project, not in
 * it) describes them.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type KeyPair, makeTestCertificates } from "./hostile/certs.ts";
import { type Script, type Session, startServer } from "./hostile/server.ts";

/** A listing, by the name of its file without `.ts`. */
export type Listing = "simple" | "ehlo" | "debug" | "login" | "tls";
/** All five listings. */
export const ALL: Listing[] = ["simple", "ehlo", "debug", "login", "tls"];

/** The project's root, where the listings are. */
export const ROOT = new URL("../", import.meta.url).pathname;
/** Every step's timeout given to the scripts, in seconds. */
export const TIMEOUT = 1;
/** Time for deno to start and load the script on a busy machine. */
const STARTUP_SLACK_MS = 5000;

/** The sender the listings are given. */
export const FROM = "sender@example.com";
/** The recipient the listings are given. */
export const TO = "brandon@example.com";
/** A second recipient, for the scenarios with two. */
export const OTHER = "bad@example.com";
/** login.ts's AUTH PLAIN line for the user name and password it is given. */
export const PASSWORD_PLAIN = "AUTH PLAIN AGJyYW5kb24AYWJjMTIz"; // brandon / abc123
/** The line a listing prints before the reason it did not send. */
export const FAILED = "Your message may not have been sent!";
/** What tls.ts prints when the server offers no STARTTLS. */
export const NO_TLS = "Server does not support TLS; using normal connection.";

/** The test CA and server certificates; the CA goes to the listings with `--cert`. */
export const certs = await makeTestCertificates();
const caFile = await Deno.makeTempFile({ prefix: "hostile-ca-", suffix: ".pem" });
await Deno.writeTextFile(caFile, certs.ca);
globalThis.addEventListener("unload", () => Deno.removeSync(caFile));

// ---- running a listing ----

/** What one run of a listing printed, its exit status and how long it took. */
export interface Run {
  stdout: string[];
  stderr: string;
  code: number;
  ms: number;
}

/** How to run a listing, beyond the defaults. */
export interface RunOptions {
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
export async function run(
  listing: Listing,
  server: string,
  options: RunOptions = {},
): Promise<Run> {
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
  const stderr = new TextDecoder().decode(output.stderr).replace(/^Enter password: \n/, "");
  return { stdout, stderr, code: output.code, ms };
}

// ---- what a scenario expects ----

/** An expected line: the exact text, or a pattern. */
export type Line = string | RegExp;

/** What a scenario expects of one listing's run. */
export interface Expected {
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

/** One listing's part in a scenario: the server's script and what to expect. */
export interface Case {
  server: Script;
  /** The server speaks TLS from the first byte with these keys. */
  tls?: KeyPair;
  expected: Expected;
  options?: RunOptions;
  /** Extra checks on the finished session. */
  check?: (session: Session) => void;
}

/** How many scenarios were registered and listing runs made, for the `(counts)` test. */
export const counts = { scenarios: 0, runs: 0 };

/** Registers one scenario, run against each of `listings` at once. */
export function scenario(
  name: string,
  listings: Listing[],
  make: (listing: Listing) => Case,
): void {
  counts.scenarios++;
  Deno.test(`fault: ${name}`, async () => {
    await Promise.all(listings.map(async (listing) => {
      const { server: script, tls, expected, options, check } = make(listing);
      await using server = startServer(script, { tls });
      const result = await run(listing, server.address, options);
      counts.runs++;
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

/** Asserts that `actual` matches `expected` line for line. */
export function matchLines(actual: string[], expected: Line[], what: string): void {
  const ok = actual.length === expected.length &&
    expected.every((e, i) => typeof e === "string" ? e === actual[i] : e.test(actual[i]));
  assert.ok(ok, `${what}: expected ${expected.map(String).join(" | ")}`);
}

/** The output and exit status of a failed send, for each listing. */
export function failure(listing: Listing, reason: Line, before: Line[] = []): Expected {
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
export function atLoginEhlo(listing: Listing, reason: string): Expected {
  if (listing !== "login") return failure(listing, reason);
  return { stdout: [`Authentication failed: ${reason}`], code: 1, received: [] };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// ---- the conversation a well-behaved server has ----

/** A reply of one or more lines with `eol` line endings. */
export function reply(code: number, lines: string[], eol = "\r\n"): string {
  return lines.map((line, i) => `${code}${i === lines.length - 1 ? " " : "-"}${line}${eol}`)
    .join("");
}

/** The message each listing sends, as the server reads it (CRLF, no final `.`). */
export function payload(listing: Listing, to = [TO]): string[] {
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
export async function hello(s: Session, listing: Listing, features: string[] = []): Promise<void> {
  await s.send("220 hostile.test ESMTP\r\n");
  await s.expect(/^ehlo /);
  const more = listing === "login" ? ["AUTH PLAIN"] : [];
  await s.send(reply(250, ["hostile.test", ...features, ...more]));
  if (listing === "login") await s.answer(/^AUTH PLAIN /, "235 2.7.0 Authenticated\r\n");
}

/** What the client says up to and including its login. */
export function helloSent(listing: Listing): string[] {
  return ["ehlo [127.0.0.1]", ...(listing === "login" ? [PASSWORD_PLAIN] : [])];
}

/** What the listing prints after a successful EHLO without STARTTLS. */
export function afterHello(listing: Listing): string[] {
  return listing === "tls" ? [NO_TLS] : [];
}

/** Accepts MAIL, each RCPT, DATA and the message, then QUIT. */
export async function accept(s: Session, recipients = 1): Promise<void> {
  await s.answer(/^mail FROM:/, "250 2.1.0 Ok\r\n");
  for (let i = 0; i < recipients; i++) await s.answer(/^rcpt TO:/, "250 2.1.5 Ok\r\n");
  await s.answer(/^data$/, "354 End data with <CR><LF>.<CR><LF>\r\n");
  await s.readData();
  await s.send("250 2.0.0 Ok: queued\r\n");
  await s.answer(/^quit$/, "221 2.0.0 Bye\r\n");
}

/** What the client sends from MAIL to QUIT when all goes well. */
export function sendSent(listing: Listing, to = [TO]): string[] {
  return [
    `mail FROM:<${FROM}>`,
    ...to.map((t) => `rcpt TO:<${t}>`),
    "data",
    ...payload(listing, to),
    ".",
    "quit",
  ];
}

/** The success line for `count` recipients. */
export function sent(count: number): string {
  return `Message sent to ${count} recipient${count === 1 ? "" : "s"}`;
}

/** The whole successful exchange for `listing`, with `greeting` sent as given. */
export function success(listing: Listing): Expected {
  return {
    stdout: [...afterHello(listing), sent(1)],
    code: 0,
    received: [...helloSent(listing), ...sendSent(listing)],
  };
}

/** What a listing prints when the server stops answering a command. */
export const TIMED_OUT = `Timed out after ${TIMEOUT} s waiting for the server's reply`;

// ---- AUTH (login.ts) ----

/** Greets and answers EHLO offering `auth` (or no AUTH line when null). */
export async function offerAuth(s: Session, auth: string | null): Promise<void> {
  await s.send("220 hostile.test\r\n");
  await s.expect(/^ehlo /);
  await s.send(reply(250, ["hostile.test", ...(auth === null ? [] : [`AUTH ${auth}`])]));
}

/** login.ts's output when AUTH fails with `reason`. */
export function authFailed(reason: string, received: string[]): Expected {
  return { stdout: [`Authentication failed: ${reason}`], code: 1, received };
}
