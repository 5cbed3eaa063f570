/**
 * What the five listings share that the book leaves to Python itself:
 * reading the command line, printing, and the prompts of `login.ts`.
 *
 * Each listing's `main()` takes the arguments and a {@link ScriptIO}, so tests
 * can capture what it prints and hand it a mock connection.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { SMTPOptions } from "./smtp.ts";

/** What a listing talks to: the terminal and the network. */
export interface ScriptIO {
  /** Prints one line on stdout (Python's `print`). */
  print?: (line: string) => void;
  /** Prints one line on stderr. */
  printError?: (line: string) => void;
  /** Asks for a line, like Python's `input()`; null at end of input. */
  input?: (prompt: string) => Promise<string | null>;
  /** Asks for a password, like Python's `getpass()`; null at end of input. */
  getpass?: (prompt: string) => Promise<string | null>;
  /** Passed to `SMTP.connect`: tests give a mock `dial` and `startTls` here. */
  smtp?: SMTPOptions;
}

/** A parsed command line: the book's three arguments and the SMTP options. */
export interface CommandLine {
  /** `host`, `host:port` or `[v6address]:port`. */
  server: string;
  /** The sender, as typed. */
  fromaddr: string;
  /** The recipients, as typed. */
  toaddrs: string[];
  /** What to pass to `SMTP.connect`. */
  options: SMTPOptions;
}

/**
 * Reads `PROG server fromaddr toaddr [toaddr...]` plus `--timeout` and
 * `--help`. Returns the exit status instead when there is nothing to send:
 * 0 after help, 2 after a usage error (the usage line goes to stdout, as
 * in the book; `word` is the book's `usage` or `Syntax`).
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
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        help: { type: "boolean", short: "h" },
        timeout: { type: "string" },
      },
    });
  } catch (error) {
    printError(`${prog}: ${(error as Error).message}`);
    print(usage);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    print(usage);
    print("");
    print(`Sends a test message through the SMTP server (host, host:port or [v6addr]:port).`);
    print("Options:");
    print("  --timeout SECONDS  give up on a silent server after this long");
    print("                     (default: RFC 5321's, up to 10 minutes per step)");
    print("  -h, --help         show this help");
    return 0;
  }
  const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeout !== undefined && !(timeout > 0 && Number.isFinite(timeout))) {
    printError(`${prog}: --timeout takes a number of seconds above 0`);
    print(usage);
    return 2;
  }
  if (positionals.length < 3) {
    print(usage);
    return 2;
  }
  const [server, fromaddr, ...toaddrs] = positionals;
  const options: SMTPOptions = timeout === undefined ? {} : { timeout: timeout * 1000 };
  return { server, fromaddr, toaddrs, options: { ...options, ...io.smtp } };
}

// ---- prompts for login.ts ----

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

/** Python's `input()`: the prompt on stdout, then a line from stdin. */
export async function input(prompt: string): Promise<string | null> {
  Deno.stdout.writeSync(encoder.encode(prompt));
  return await readStdinLine();
}

/**
 * Python's `getpass()`: on a terminal the prompt goes there and the typing
 * is not echoed; otherwise, as getpass falls back to, the prompt goes to
 * stderr and the password is the next line of stdin.
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
  const typed: number[] = [];
  const byte = new Uint8Array(1);
  try {
    while (true) {
      const n = await Deno.stdin.read(byte);
      const b = byte[0];
      if (n === null || b === 0x03 /* ^C */ || (b === 0x04 /* ^D */ && typed.length === 0)) {
        return null;
      }
      if (b === 0x0d || b === 0x0a) break;
      if (b === 0x7f || b === 0x08) {
        // Erase one character: its UTF-8 continuation bytes, then its first byte.
        while ((typed.at(-1)! & 0xc0) === 0x80) typed.pop();
        typed.pop();
      } else typed.push(b);
    }
  } finally {
    Deno.stdin.setRaw(false);
    screen.writeSync(encoder.encode("\n"));
  }
  return decoder.decode(new Uint8Array(typed));
}
