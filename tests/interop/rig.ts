/**
 * The Postfix that `tests/interop/postfix.sh` sets up, as the interop suite sees it: its ports,
 * its CA and mailbox, a check that all of them are there, and the ways the suite runs a listing
 * and reads the mailbox back.
 *
 * @module
 */

import assert from "node:assert/strict";

/** Plain SMTP with STARTTLS offered; AUTH only after it. Port 25 is the same. */
export const TLS_PORT = 2587;
/** AUTH offered without TLS too, for login.ts. */
export const PLAIN_AUTH_PORT = 2588;
/** No STARTTLS, AUTH in plain text: a server as a client sees it when STARTTLS is stripped. */
export const NO_TLS_PORT = 2589;
/** Like a provider's 587: STARTTLS required, AUTH only after it, no MAIL without AUTH. */
export const SUBMISSION_PORT = 5870;
/** Like a provider's 465: the same, with TLS from the first byte. */
export const IMPLICIT_TLS_PORT = 4650;
/** The test CA that signed Postfix's certificate. */
export const CA_FILE = "/etc/postfix/interop/ca.crt";
/** brandon's mbox. */
export const MAILBOX = "/var/mail/brandon";
/** Postfix's log (maillog_file). */
export const LOG = "/var/log/postfix.log";
/** Postfix's message_size_limit. */
export const SIZE_LIMIT = "10240000";
/** brandon's password, which no output may ever show. */
export const PASSWORD = "abc123";

const SET_UP = "bash tests/interop/postfix.sh install configure start";
const PROJECT = new URL("../../", import.meta.url).pathname;

/** Resolves to `work`'s result, or rejects after `ms`, calling `onTimeout` first. */
async function within<T>(ms: number, onTimeout: () => void, work: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new Error(`no answer within ${ms / 1000} s`));
    }, ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads the server's first reply line; resolves to it, or throws. */
async function greeting(conn: Deno.Conn): Promise<string> {
  const buffer = new Uint8Array(512);
  let text = "";
  return await within(
    5000,
    () => conn.close(),
    (async () => {
      while (!text.includes("\r\n")) {
        const n = await conn.read(buffer);
        if (n === null) throw new Error("the connection closed before a greeting");
        text += new TextDecoder().decode(buffer.subarray(0, n));
      }
      return text.slice(0, text.indexOf("\r\n"));
    })(),
  );
}

/**
 * Why `port` does not answer as Postfix with a 220 greeting: "refused" when nothing listens, a
 * few words otherwise; undefined when it does.
 */
async function portProblem(port: number, caCerts?: string[]): Promise<string | undefined> {
  const where = `127.0.0.1:${port}`;
  let conn: Deno.Conn | undefined;
  try {
    conn = port === IMPLICIT_TLS_PORT && caCerts
      ? await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts })
      : await Deno.connect({ hostname: "127.0.0.1", port });
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionRefused) return "refused";
    return `${where}: ${(error as Error).message}`;
  }
  try {
    // With implicit TLS, nothing comes before the handshake: a TCP connection is all we can ask
    // for without the CA.
    if (port === IMPLICIT_TLS_PORT && !caCerts) return undefined;
    const line = await greeting(conn);
    if (!line.startsWith("220 ")) return `${where} greets with ${JSON.stringify(line)}`;
    // Leave politely, so Postfix's log shows no lost connection for the check.
    await conn.write(new TextEncoder().encode("QUIT\r\n"));
    await greeting(conn);
    return undefined;
  } catch (error) {
    return `${where}: ${(error as Error).message}`;
  } finally {
    try {
      conn.close();
    } catch {
      // Closed already, by the timeout.
    }
  }
}

/**
 * Checks what the suite needs before any test runs: the CA file, Postfix answering on every
 * port, and a readable mailbox. Resolves to one line saying what is missing and how to set it
 * up, or undefined when all is there.
 */
export async function setUpProblem(): Promise<string | undefined> {
  const problems: string[] = [];
  let caCerts: string[] | undefined;
  try {
    caCerts = [await Deno.readTextFile(CA_FILE)];
  } catch (error) {
    problems.push(`cannot read the test CA ${CA_FILE} (${(error as Error).name})`);
  }
  const silent: number[] = [];
  const ports = [25, TLS_PORT, PLAIN_AUTH_PORT, NO_TLS_PORT, SUBMISSION_PORT, IMPLICIT_TLS_PORT];
  for (const port of ports) {
    const problem = await portProblem(port, caCerts);
    if (problem === "refused") silent.push(port);
    else if (problem) problems.push(problem);
  }
  if (silent.length > 0) {
    problems.unshift(
      `nothing answers on 127.0.0.1 port${silent.length > 1 ? "s" : ""} ${silent.join(", ")}`,
    );
  }
  for (const file of [MAILBOX, LOG]) {
    try {
      (await Deno.open(file)).close();
    } catch (error) {
      problems.push(
        error instanceof Deno.errors.PermissionDenied
          ? `cannot read ${file}: run the suite as root`
          : `cannot read ${file} (${(error as Error).name})`,
      );
    }
  }
  if (problems.length === 0) return undefined;
  return `postfix interop: ${problems.join("; ")}; run: ${SET_UP}`;
}

/** What a listing did. */
export interface Run {
  /** Its exit status. */
  code: number;
  /** Everything it printed on stdout. */
  stdout: string;
  /** Everything it printed on stderr. */
  stderr: string;
}

/**
 * Runs `deno run -N [--cert CA] prog args...` in the project, as a reader would, with `stdin`
 * typed in. Fails if the password shows anywhere in the output.
 */
export async function runListing(
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
  const run = { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
  assertNoPassword(run.stdout + run.stderr);
  return run;
}

/** Fails if `text` shows brandon's password, plainly or as AUTH PLAIN's base64. */
export function assertNoPassword(text: string): void {
  const plain = btoa(`\0brandon\0${PASSWORD}`);
  assert.ok(!text.includes(PASSWORD) && !text.includes(plain), `password shown in: ${text}`);
}

/** A message as the mbox holds it. */
export interface Delivered {
  /** The header lines, unfolded lines kept as they are. */
  headers: string[];
  /** The body, LF line endings, as the mbox holds it. */
  body: string;
}

/** The messages in the mbox whose envelope sender is `sender`. */
export async function delivered(sender: string): Promise<Delivered[]> {
  const mbox = await Deno.readTextFile(MAILBOX);
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
export async function waitForDelivery(sender: string): Promise<Delivered> {
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

/**
 * Postfix's reply lines to EHLO, read without the helper: over plain TCP, or with `caCerts`
 * over implicit TLS.
 */
export async function rawEhloLines(port: number, caCerts?: string[]): Promise<string[]> {
  const conn = caCerts
    ? await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts })
    : await Deno.connect({ hostname: "127.0.0.1", port });
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
    // One command at a time: EHLO ends a pipelined group (RFC 2920), and Postfix logs a QUIT
    // sent with it as improper pipelining.
    await within(10_000, () => conn.close(), readUntil(/^220 .*\r\n/m));
    text = "";
    await conn.write(new TextEncoder().encode("EHLO [127.0.0.1]\r\n"));
    await within(10_000, () => conn.close(), readUntil(/^250 .*\r\n/m));
    const ehlo = text;
    await conn.write(new TextEncoder().encode("QUIT\r\n"));
    await within(10_000, () => conn.close(), readUntil(/^221 .*\r\n/m));
    text = ehlo;
  } finally {
    try {
      conn.close();
    } catch {
      // Closed already, by a timeout.
    }
  }
  return text.split("\r\n").filter((line) => /^250[ -]/.test(line));
}

/** Where Postfix's log ends now: pass it to {@link waitForSession}. */
export async function logEnd(): Promise<number> {
  return (await Deno.stat(LOG)).size;
}

/**
 * Waits (up to 10 s) for the end of a session on the smtpd whose syslog name is `service`
 * (`postfix/notls`), logged after `since`, and resolves to the commands Postfix counted in it:
 * `ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6`.
 */
export async function waitForSession(service: string, since: number): Promise<string> {
  const line = new RegExp(`${service}/smtpd\\[\\d+\\]: disconnect from \\S+ (.*)$`, "m");
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const log = await Deno.readFile(LOG);
    const found = line.exec(new TextDecoder().decode(log.subarray(since)));
    if (found) return found[1];
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no session on ${service} in ${LOG} after 10 s`);
}
