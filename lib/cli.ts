/**
 * What the five listings share that the book leaves to Python itself:
 * reading the command line (and each script's help), opening the connection
 * the flags ask for, the end after an accepted message, hints on stderr,
 * and the prompts of `login.ts`.
 *
 * Each listing's `main()` takes the arguments and a {@link ScriptIO}, so tests
 * can capture what it prints and hand it a mock connection.
 *
 * The start path stays cheap: no `node:` module, a hand-written parser.
 *
 * @module
 */

import { IMPLICIT_TLS_PORT, isSendError, parseServer, SMTP, type SMTPOptions } from "./smtp.ts";

/** What a listing talks to: the terminal and the network. */
export interface ScriptIO {
  /** Prints one line on stdout (Python's `print`). */
  print?: (line: string) => void;
  /** Prints one line on stderr. */
  printError?: (line: string) => void;
  /**
   * Asks for a line, like Python's `input()`; null at end of input. Throws
   * {@link Interrupted} on Ctrl-C.
   */
  input?: (prompt: string) => Promise<string | null>;
  /**
   * Asks for a password, like Python's `getpass()`; null at end of input.
   * Throws {@link Interrupted} on Ctrl-C.
   */
  getpass?: (prompt: string) => Promise<string | null>;
  /** Passed to `SMTP.connect`: tests give a mock `dial` and `startTls` here. */
  smtp?: SMTPOptions;
}

/** A parsed command line: the book's three arguments and the SMTP options. */
export interface CommandLine {
  /** The script's own name, `simple.ts`. */
  prog: string;
  /** `host`, `host:port` or `[v6address]:port`. */
  server: string;
  /** The sender, as typed. */
  fromaddr: string;
  /** The recipients, as typed. */
  toaddrs: string[];
  /**
   * What to pass to `SMTP.connect`: `--timeout` (as milliseconds), `--tls`
   * (`tls`), `--starttls` (`requireTls`), `--pipelining` (`pipelining`).
   */
  options: SMTPOptions;
}

/** The longest `--timeout`: Deno's timers hold at most 2^31-1 ms. */
export const MAX_TIMEOUT_SECONDS = 2147483;

/** Exit status after Ctrl-C, as a shell reports a program ended by SIGINT. */
export const EXIT_INTERRUPTED = 130;

// ---- the command line ----

/**
 * Reads `PROG server fromaddr toaddr [toaddr...]` and the options
 * `--timeout SECONDS`, `--tls`, `--starttls`, `--pipelining` and `-h`,
 * anywhere among the arguments (`--` ends the options). Returns the exit
 * status instead when there is nothing to send: 0 after help, 2 after a
 * usage error (the usage line goes to stdout, as in the book; `word` is the
 * book's `usage` or `Syntax`; the reason goes to stderr).
 */
export function parseCommandLine(
  prog: string,
  word: "usage" | "Syntax",
  args: string[],
  io: ScriptIO = {},
): CommandLine | number {
  const print = io.print ?? console.log;
  const printError = io.printError ?? console.error;
  const usage = `${word}: ${prog} server fromaddr toaddr [toaddr...]`;
  const usageError = (...why: string[]): number => {
    for (const line of why) printError(`${prog}: ${line}`);
    print(usage);
    return 2;
  };

  const misplaced = denoOptionsIn(args);
  if (misplaced.options.length > 0) {
    const names = misplaced.names.map((name) => `'${name}'`).join(", ");
    const these = misplaced.names.length === 1 ? "is Deno's option" : "are Deno's options";
    return usageError(
      `${names} ${these}, not ${prog}'s: Deno's options go before the script name, as in`,
      `  ${denoCommand(prog, misplaced.options, misplaced.rest)}`,
    );
  }

  const positionals: string[] = [];
  const options: SMTPOptions = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    const equals = arg.indexOf("=");
    const name = equals > 0 && arg.startsWith("--") ? arg.slice(0, equals) : arg;
    const value = name === arg ? undefined : arg.slice(equals + 1);
    if (name !== "--timeout" && value !== undefined) {
      return usageError(`${name} takes no value`);
    }
    switch (name) {
      case "-h":
      case "--help":
        for (const line of help(prog, usage)) print(line);
        return 0;
      case "--timeout": {
        const text = value ?? args[++i];
        const seconds = Number(text);
        if (text === undefined || text.trim() === "" || !(seconds > 0 && seconds < Infinity)) {
          return usageError("--timeout takes a number of seconds above 0");
        }
        if (seconds > MAX_TIMEOUT_SECONDS) {
          return usageError(
            `--timeout takes at most ${MAX_TIMEOUT_SECONDS} seconds (about 24 days, ` +
              "the longest timer Deno can set)",
          );
        }
        options.timeout = seconds * 1000;
        break;
      }
      case "--tls":
        options.tls = true;
        break;
      case "--starttls":
        options.requireTls = true;
        break;
      case "--pipelining":
        options.pipelining = true;
        break;
      default:
        return usageError(`unknown option '${arg}' (${prog} -h lists the options)`);
    }
  }
  if (options.tls && options.requireTls) {
    return usageError(
      "--tls and --starttls do not go together: --tls is TLS from the first byte " +
        "(port 465), --starttls upgrades a plain connection (port 587 or 25)",
    );
  }
  if (positionals.length < 3) {
    print(usage);
    return 2;
  }
  const [server, fromaddr, ...toaddrs] = positionals;
  return { prog, server, fromaddr, toaddrs, options: { ...options, ...io.smtp } };
}

/** Deno's options that take the next argument as their value. */
const DENO_VALUE_OPTIONS = new Set([
  "--cert",
  "-c",
  "--config",
  "--import-map",
  "--ext",
  "--location",
  "--seed",
  "--preload",
  "--require",
  "--conditions",
  "--node-modules-linker",
  "--min-dep-age",
  "--inspect-publish-uid",
  "-L",
  "--log-level",
]);

/** Deno's flags (a value only after `=`): permissions, `--unstable-*`, `--no-*` and the like. */
const DENO_FLAG =
  /^(-[ARWINESPrq]+|--(allow|deny|ignore)-[a-z-]+|--unstable(-[a-z-]+)?|--no-[a-z-]+|--(allow-all|permission-set|check|reload|lock|frozen|frozen-lockfile|cached-only|quiet|watch|watch-exclude|hmr|env|env-file|coverage|node-modules-dir|vendor|v8-flags|inspect|inspect-brk|inspect-wait|unsafely-ignore-certificate-errors|use-env-proxy|allow-scripts))$/;

/**
 * Deno's own options found among a script's arguments (where Deno hands
 * them to the script), with their values, and the arguments left.
 */
function denoOptionsIn(args: string[]): { names: string[]; options: string[]; rest: string[] } {
  const names: string[] = [];
  const options: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      rest.push(...args.slice(i));
      break;
    }
    const name = arg.startsWith("-") ? arg.replace(/=.*$/s, "") : "";
    if (DENO_VALUE_OPTIONS.has(name) && name === arg && i + 1 < args.length) {
      names.push(name);
      options.push(arg, args[++i]);
    } else if (DENO_VALUE_OPTIONS.has(name) || (name !== "-h" && DENO_FLAG.test(name))) {
      names.push(name);
      options.push(arg);
    } else {
      rest.push(arg);
    }
  }
  return { names, options, rest };
}

/** The command to type: `deno run -N [options] PROG args`, quoted for a POSIX shell. */
function denoCommand(prog: string, options: string[], args: string[]): string {
  const network = options.some((o) => /^(-[A-Za-z]*[NA][A-Za-z]*|--allow-(net|all))(=|$)/.test(o));
  const words = ["deno", "run", ...(network ? [] : ["-N"]), ...options, prog, ...args];
  return words.map(shellQuote).join(" ");
}

function shellQuote(word: string): string {
  return /^[A-Za-z0-9@%+=:,./_-]+$/.test(word) ? word : `'${word.replaceAll("'", `'"'"'`)}'`;
}

// ---- help: each script's own ----

/** What each listing shows, for its `-h`. */
const SHOWS: Record<string, string[]> = {
  "simple.ts": [
    "The book's simple.py: sends a test message with sendmail() in three lines.",
    "Like the book's it catches nothing: a failure ends it with Deno's own",
    "report of the uncaught error on stderr.",
  ],
  "ehlo.ts": [
    "The book's ehlo.py: says EHLO itself (HELO when EHLO is refused), prints",
    "the server's maximum message size (SIZE) and does not send a message",
    "larger than that.",
  ],
  "debug.ts": [
    "The book's debug.py: sends with the transcript on. Every command and",
    "reply goes to stderr in smtplib's format (send: ..., reply: ...); stdout",
    "keeps the book's lines.",
  ],
  "login.ts": [
    "The book's login.py: asks 'Enter username: ' and 'Enter password: ' (not",
    "echoed on a terminal; without one, the next two lines of stdin), then",
    "logs in with AUTH (CRAM-MD5, PLAIN or LOGIN) before sending. Without",
    "--starttls or --tls the password crosses the network as the server's",
    "mechanism leaves it: a provider on port 587 needs --starttls.",
  ],
  "tls.ts": [
    "The book's tls.py: says STARTTLS when the server offers it, checking the",
    "certificate's chain and host name, else sends in plain text. It trusts",
    "Deno's root certificates plus a CA given to Deno, before the script name,",
    "with --cert FILE (or the environment variable DENO_CERT=FILE):",
    "  deno run -N --cert ca.pem tls.ts 127.0.0.1:2525 sender@example.com brandon@example.com",
  ],
};

/** What each listing's exit statuses mean, for its `-h`. */
function exitStatuses(prog: string): string[] {
  if (prog === "simple.ts") {
    return [
      "  0    sent (also when the server accepted it but then did not answer QUIT)",
      "  1    not sent: Deno's report of the uncaught error on stderr",
      "  2    usage error",
      "  130  interrupted (Ctrl-C)",
    ];
  }
  return [
    "  0    sent (also when the server accepted it but then did not answer QUIT)",
    prog === "login.ts"
      ? "  1    not sent, login refused, or end of input before the password"
      : "  1    not sent: 'Your message may not have been sent!' and the reason",
    "  2    usage error",
    ...(prog === "tls.ts" ? ["  5    the server refused EHLO after STARTTLS"] : []),
    "  130  interrupted (Ctrl-C)",
  ];
}

function help(prog: string, usage: string): string[] {
  return [
    usage,
    "",
    ...(SHOWS[prog] ?? ["Sends a test message through an SMTP server."]),
    "",
    "  server    host (port 25), host:port or [v6addr]:port; port 465 with --tls",
    "  fromaddr  the sender",
    "  toaddr    one or more recipients",
    "",
    "Options (anywhere among the arguments):",
    "  --timeout SECONDS  give up on a silent server after this long, at most",
    `                     ${MAX_TIMEOUT_SECONDS} (default: RFC 5321's, up to 10 minutes a step)`,
    "  --tls              TLS from the first byte (implicit TLS, port 465)",
    prog === "tls.ts"
      ? "  --starttls         STARTTLS required: refuse to fall back to plain text"
      : "  --starttls         EHLO, STARTTLS (required), EHLO, then this script's steps",
    "  --pipelining       MAIL, RCPT and DATA in one write when the server offers",
    "                     PIPELINING (RFC 2920)",
    "  -h, --help         show this help",
    "",
    "Deno's own options go before the script name (-N: network only; --cert FILE:",
    "trust that CA too), the script's anywhere after it:",
    `  deno run -N ${prog} 127.0.0.1:2525 sender@example.com brandon@example.com`,
    `  deno run -N ${prog} --starttls smtp.example.com:587 sender@example.com brandon@example.com`,
    "",
    "Exit status:",
    ...exitStatuses(prog),
  ];
}

// ---- connecting, the end, and hints ----

/**
 * Connects as the command line asks: plain, or with `--tls` TLS from the
 * first byte. With `--starttls` it also says EHLO, STARTTLS and EHLO at
 * once, before the listing's own steps, unless `upgradeNow` is false
 * (debug.ts shows those steps in its transcript; tls.ts says them its own
 * way). On failure, a hint may go to stderr before the error is thrown on.
 */
export async function openConnection(
  command: CommandLine,
  io: ScriptIO = {},
  upgradeNow = true,
): Promise<SMTP> {
  let connection: SMTP | undefined;
  try {
    connection = await SMTP.connect(command.server, command.options);
    if (upgradeNow && command.options.requireTls) await connection.ehloOrHeloIfNeeded();
    return connection;
  } catch (error) {
    connection?.close();
    explain(error, command, io, connection);
    throw error;
  }
}

/**
 * Says QUIT once the server has accepted the message (250 to the end of
 * data). The message is the server's by then (RFC 5321 section 6.1), so a
 * QUIT that fails (the server hangs up, stays silent, resets) is a notice
 * on stderr, not a failure: the listing still exits 0, and a caller that
 * retries on failure does not send the message twice.
 */
export async function quitAfterSending(
  command: CommandLine,
  connection: SMTP,
  io: ScriptIO = {},
): Promise<void> {
  try {
    await connection.quit();
  } catch (error) {
    if (!isSendError(error)) throw error;
    (io.printError ?? console.error)(
      `${command.prog}: the server accepted the message but did not answer QUIT: ${error.message}`,
    );
  }
}

const explained = new WeakSet<object>();

/**
 * Prints on stderr what a failure suggests about the command line (see
 * {@link hintFor}), once per error.
 */
export function explain(
  error: unknown,
  command: CommandLine,
  io: ScriptIO = {},
  connection?: SMTP,
): void {
  if (typeof error !== "object" || error === null || explained.has(error)) return;
  explained.add(error);
  const hint = hintFor(error, command, connection);
  for (const line of hint) (io.printError ?? console.error)(`${command.prog}: ${line}`);
}

/**
 * The hint for a failure, as lines (none when there is nothing to add):
 * `--tls` for a server that speaks TLS from the first byte (and the other
 * way round), `--starttls` for AUTH offered only after STARTTLS, Deno's `--cert` for a certificate
 * from an unknown CA, and the CA file that Deno could not read.
 */
export function hintFor(error: unknown, command: CommandLine, connection?: SMTP): string[] {
  const message = error instanceof Error ? error.message : String(error);
  const { prog, server, fromaddr, toaddrs, options } = command;
  const rest = [server, fromaddr, ...toaddrs];
  if (message.includes("Failed opening CA file")) {
    const file = caFileGiven();
    return [
      `the CA file given to Deno with --cert or DENO_CERT cannot be read${
        file ? `: ${file}` : ""
      }.`,
      "Check its path; Deno reads it only when a TLS connection starts.",
    ];
  }
  if (message.includes("UnknownIssuer")) {
    return [
      "the server's certificate is signed by a CA that Deno does not trust.",
      "If you have that CA's certificate (PEM), give it to Deno before the script name:",
      `  ${denoCommand(prog, ["--cert", "FILE"], [...flagsOf(options), ...rest])}`,
      "or set DENO_CERT=FILE.",
    ];
  }
  if (!options.tls && connection === undefined && !message.startsWith("Could not connect")) {
    let port = 0;
    try {
      port = parseServer(server).port;
    } catch { /* no port to judge by */ }
    const implicit = `TLS from the first byte (implicit TLS, as on port ${IMPLICIT_TLS_PORT})`;
    const why = /looks like TLS/i.test(message)
      ? `the server answered with TLS: it speaks ${implicit}. Try --tls:`
      : message.includes("waiting for the server's greeting")
      ? `the server sent no greeting: if it speaks ${implicit}, try --tls:`
      : port === IMPLICIT_TLS_PORT
      ? `port ${IMPLICIT_TLS_PORT} is for TLS from the first byte (implicit TLS): try --tls:`
      : undefined;
    if (why) return [why, `  ${denoCommand(prog, [], ["--tls", ...flagsOf(options), ...rest])}`];
  }
  if (
    options.tls && connection === undefined && message.startsWith("TLS handshake") &&
    !/certificate|UnknownIssuer|NotValidForName|Expired/i.test(message)
  ) {
    return [
      "the server did not answer in TLS: if it starts in plain text (port 25 or 587),",
      "leave out --tls, or use --starttls to upgrade with STARTTLS.",
    ];
  }
  if (
    message === "SMTP AUTH extension not supported by server." && connection !== undefined &&
    !connection.isTls && connection.hasExtn("starttls")
  ) {
    return [
      "the server offers STARTTLS and no AUTH: it offers AUTH only after STARTTLS. Try --starttls:",
      `  ${denoCommand(prog, [], ["--starttls", ...flagsOf(options), ...rest])}`,
    ];
  }
  return [];
}

/** The listing flags in `options`, to repeat them in a suggested command. */
function flagsOf(options: SMTPOptions): string[] {
  return [
    ...(options.tls ? ["--tls"] : []),
    ...(options.requireTls ? ["--starttls"] : []),
    ...(options.timeout !== undefined ? ["--timeout", String(options.timeout / 1000)] : []),
    ...(options.pipelining ? ["--pipelining"] : []),
  ];
}

/**
 * The CA file given to Deno, where this script may know it: `--cert FILE`
 * from Deno's command line (Deno lets only `-A` read /proc/self/cmdline),
 * else `DENO_CERT` (when it may read that variable). Asks for nothing.
 */
function caFileGiven(): string | undefined {
  try {
    // Only with -A: reading it otherwise could make Deno prompt at a terminal.
    const all = (["read", "write", "net", "env", "run", "sys", "ffi"] as const)
      .every((name) => Deno.permissions.querySync({ name }).state === "granted");
    const words = all ? Deno.readTextFileSync("/proc/self/cmdline").split("\0") : [];
    for (let i = 0; i < words.length; i++) {
      if (words[i] === "--cert" && i + 1 < words.length) return words[i + 1];
      if (words[i].startsWith("--cert=")) return words[i].slice("--cert=".length);
      if (!words[i].startsWith("-") && /\.[jt]sx?$/.test(words[i])) break; // the script
    }
  } catch { /* not allowed, or not Linux */ }
  try {
    if (Deno.permissions.querySync({ name: "env", variable: "DENO_CERT" }).state === "granted") {
      return Deno.env.get("DENO_CERT");
    }
  } catch { /* not to be known */ }
  return undefined;
}

// ---- prompts for login.ts ----

/** Ctrl-C at a prompt; the listing exits with {@link EXIT_INTERRUPTED}. */
export class Interrupted extends Error {
  /** Builds the error. */
  constructor() {
    super("interrupted (Ctrl-C)");
    this.name = "Interrupted";
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
let stdinBuffer = new Uint8Array(0);

/** Reads one line from stdin (without its ending), or null at end of input. */
async function readStdinLine(): Promise<string | null> {
  const chunk = new Uint8Array(4096);
  while (true) {
    const lf = stdinBuffer.indexOf(0x0a);
    if (lf >= 0) {
      const line = stdinBuffer.subarray(0, lf);
      stdinBuffer = stdinBuffer.slice(lf + 1);
      return decoder.decode(line).replace(/\r$/, "");
    }
    const n = await Deno.stdin.read(chunk);
    if (n === null) {
      if (stdinBuffer.length === 0) return null;
      const rest = decoder.decode(stdinBuffer);
      stdinBuffer = new Uint8Array(0);
      return rest;
    }
    const joined = new Uint8Array(stdinBuffer.length + n);
    joined.set(stdinBuffer);
    joined.set(chunk.subarray(0, n), stdinBuffer.length);
    stdinBuffer = joined;
  }
}

/**
 * Python's `input()`: the prompt on stdout, then a line from stdin. (Ctrl-C
 * on a terminal sends SIGINT here, which ends the process with 130.)
 */
export async function input(prompt: string): Promise<string | null> {
  Deno.stdout.writeSync(encoder.encode(prompt));
  return await readStdinLine();
}

/** What one byte typed at the password prompt (the terminal in raw mode) does. */
export type PasswordKey = "char" | "erase" | "enter" | "end" | "interrupt";

/**
 * Maps a byte typed in raw mode to what it does: Ctrl-C interrupts,
 * Ctrl-D on an empty line ends the input, Enter ends the password,
 * Backspace/Delete erases a character.
 */
export function passwordKey(byte: number, typedSoFar: number): PasswordKey {
  if (byte === 0x03) return "interrupt";
  if (byte === 0x04 && typedSoFar === 0) return "end";
  if (byte === 0x0d || byte === 0x0a) return "enter";
  if (byte === 0x7f || byte === 0x08) return "erase";
  return "char";
}

/**
 * Python's `getpass()`: on a terminal the prompt goes there and the typing
 * is not echoed; otherwise, as getpass falls back to, the prompt goes to
 * stderr and the password is the next line of stdin. Ctrl-C throws
 * {@link Interrupted}, after the terminal is set back.
 */
export async function getpass(prompt: string): Promise<string | null> {
  if (!Deno.stdin.isTerminal()) {
    Deno.stderr.writeSync(encoder.encode(prompt));
    return await readStdinLine();
  }
  // Where the person can see it, even when stdout goes to a file.
  const screen = Deno.stdout.isTerminal() ? Deno.stdout : Deno.stderr;
  screen.writeSync(encoder.encode(prompt));
  Deno.stdin.setRaw(true);
  // A SIGINT from elsewhere (kill -INT) must not leave the terminal raw.
  const onSignal = () => {
    Deno.stdin.setRaw(false);
    screen.writeSync(encoder.encode("\n"));
    Deno.exit(EXIT_INTERRUPTED);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  const typed: number[] = [];
  const byte = new Uint8Array(1);
  try {
    while (true) {
      const n = await Deno.stdin.read(byte);
      const key = n === null ? "end" : passwordKey(byte[0], typed.length);
      if (key === "interrupt") throw new Interrupted();
      if (key === "end") return null;
      if (key === "enter") break;
      if (key === "erase") {
        // Erase one character: its UTF-8 continuation bytes, then its first byte.
        while ((typed.at(-1)! & 0xc0) === 0x80) typed.pop();
        typed.pop();
      } else typed.push(byte[0]);
    }
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.stdin.setRaw(false);
    screen.writeSync(encoder.encode("\n"));
  }
  return decoder.decode(new Uint8Array(typed));
}
