/**
 * What the tests of the five listings against the scripted mock server
 * share (scripts_test.ts, scripts_flags_test.ts): each listing's `main`
 * and what it says before sending, the conversation a server has (its
 * greeting and EHLO are smtp_run.ts's), the book's message, and `run`,
 * which runs a listing with a mock server and mock prompts and captures
 * what it printed and wrote.
 *
 * @module
 */

import type { ScriptIO } from "../lib/cli.ts";
import { Interrupted } from "../lib/prompt.ts";
import { main as debugMain } from "../debug.ts";
import { main as ehloMain } from "../ehlo.ts";
import { main as loginMain } from "../login.ts";
import { main as simpleMain } from "../simple.ts";
import { main as tlsMain } from "../tls.ts";
import { MockServer, type refusedDial, type Step, TLS } from "./mock_conn.ts";
import { ehlo, GREETING } from "./smtp_run.ts";

/** A listing's `main`. */
export type Main = (args: string[], io?: ScriptIO) => Promise<number>;

/** The server the listings are given. */
export const SERVER = "mail.example.com";
/** The sender the listings are given. */
export const FROM = "sender@example.com";
/** The recipient the listings are given. */
export const TO = "brandon@example.com";
/** A second recipient. */
export const TO2 = "alice@example.com";
/** The book's three arguments. */
export const ARGS = [SERVER, FROM, TO];

/** QUIT and its answer. */
export const QUIT = ["C: quit", "S: 221 2.0.0 Bye"];
/** What a listing prints after sending to one recipient. */
export const SENT = "Message sent to 1 recipient";
/** What a listing prints before the reason it did not send. */
export const MAYBE_NOT_SENT = "Your message may not have been sent!";

/** The listing's message, as the book builds it (LF line endings). */
export function message(prog: string, to: string[] = [TO], from = FROM): string {
  return `To: ${to.join(", ")}
From: ${from}
Subject: Test Message from ${prog}

Hello,

This is a test message sent to you from the ${prog} program
in Foundations of Python Network Programming.
`;
}

/** The client's DATA payload lines for the listing's message, final "." included. */
export function payload(prog: string, to: string[] = [TO]): string[] {
  return [...message(prog, to).slice(0, -1).split("\n"), "."].map((line) => `C: ${line}`);
}

/** MAIL, RCPT for each recipient (all accepted), DATA and the message, accepted. */
export function send(prog: string, options: { to?: string[]; size?: boolean } = {}): string[] {
  const to = options.to ?? [TO];
  const size = options.size ? ` size=${message(prog, to).length + 8}` : "";
  return [
    `C: mail FROM:<${FROM}>${size}`,
    "S: 250 2.1.0 Ok",
    ...to.flatMap((address) => [`C: rcpt TO:<${address}>`, "S: 250 2.1.5 Ok"]),
    "C: data",
    "S: 354 End data with <CR><LF>.<CR><LF>",
    ...payload(prog, to),
    "S: 250 2.0.0 Ok: queued as 98034261",
  ];
}

/** What one run of a listing did. */
export interface Run {
  status?: number;
  /** What `main` threw (simple.ts catches nothing). */
  error?: unknown;
  stdout: string[];
  stderr: string[];
  transcript: string[];
  prompts: string[];
  /** Prints and wire events in the order they happened. */
  events: string[];
  server: MockServer;
}

/** How to run a listing, beyond the defaults. */
export interface RunOptions {
  /** Replaces the mock's dial, e.g. with `refusedDial`. */
  dial?: typeof refusedDial;
  /** What the user types at login.ts's prompts. */
  answers?: (string | null | Interrupted)[];
  /** Every step's timeout, in milliseconds. */
  timeout?: number;
}

/** Runs a listing with `args` against a mock server playing `script`. */
export async function run(
  main: Main,
  args: string[],
  script: (string | Step)[],
  options: RunOptions = {},
): Promise<Run> {
  const events: string[] = [];
  const server = new MockServer(script, { events });
  const answers = [...(options.answers ?? ["brandon", "abc123"])];
  const result: Run = { stdout: [], stderr: [], transcript: [], prompts: [], events, server };
  const io: ScriptIO = {
    print: (line) => {
      result.stdout.push(line);
      events.push(`print ${line}`);
    },
    printError: (line) => result.stderr.push(line),
    input: (prompt) => {
      result.prompts.push(`input ${prompt}`);
      return answer(answers.shift());
    },
    getpass: (prompt) => {
      result.prompts.push(`getpass ${prompt}`);
      return answer(answers.shift());
    },
    smtp: {
      dial: options.dial ?? server.dial,
      dialTls: server.dialTls,
      startTls: server.startTls,
      debugOutput: (line) => result.transcript.push(line),
      ...(options.timeout ? { timeout: options.timeout } : {}),
    },
  };
  try {
    result.status = await main(args, io);
  } catch (error) {
    result.error = error;
  }
  return result;
}

/** What a mock prompt gives: the typed line, end of input (null), or Ctrl-C. */
export function answer(typed: string | null | Interrupted | undefined): Promise<string | null> {
  return typed instanceof Interrupted ? Promise.reject(typed) : Promise.resolve(typed ?? null);
}

/** Each listing, with what it says before sending when the server offers nothing. */
export interface Listing {
  prog: string;
  main: Main;
  usageWord: "usage" | "Syntax";
  /** Whether failures are caught and printed (all but simple). */
  catches: boolean;
  /** The steps after the greeting up to MAIL, for a server with no extensions. */
  before: string[];
  /** The lines printed before sending, for that server. */
  printedBefore: string[];
}

/** The five listings, in the book's order. */
export const LISTINGS: Listing[] = [
  {
    prog: "simple.ts",
    main: simpleMain,
    usageWord: "usage",
    catches: false,
    before: ehlo(),
    printedBefore: [],
  },
  {
    prog: "ehlo.ts",
    main: ehloMain,
    usageWord: "usage",
    catches: true,
    before: ehlo(),
    printedBefore: [],
  },
  {
    prog: "debug.ts",
    main: debugMain,
    usageWord: "usage",
    catches: true,
    before: ehlo(),
    printedBefore: [],
  },
  {
    prog: "login.ts",
    main: loginMain,
    usageWord: "Syntax",
    catches: true,
    before: [
      ...ehlo("AUTH PLAIN LOGIN"),
      "C: AUTH PLAIN AGJyYW5kb24AYWJjMTIz",
      "S: 235 2.7.0 Authentication successful",
    ],
    printedBefore: [],
  },
  {
    prog: "tls.ts",
    main: tlsMain,
    usageWord: "Syntax",
    catches: true,
    before: ehlo(),
    printedBefore: ["Server does not support TLS; using normal connection."],
  },
];

/** The whole successful conversation of each listing, and what it prints. */
export function success(
  listing: Listing,
  to: string[],
): { script: (string | Step)[]; printed: string[] } {
  const s = to.length === 1 ? "" : "s";
  const sent = `Message sent to ${to.length} recipient${s}`;
  switch (listing.prog) {
    case "ehlo.ts":
      return {
        script: [
          GREETING,
          ...ehlo("PIPELINING", "SIZE 10240000"),
          ...send("ehlo.ts", { to, size: true }),
          ...QUIT,
        ],
        printed: ["Maximum message size is 10240000", sent],
      };
    case "tls.ts":
      return {
        script: [
          GREETING,
          ...ehlo("STARTTLS"),
          "C: STARTTLS",
          "S: 220 2.0.0 Ready to start TLS",
          TLS,
          ...ehlo("SIZE 10240000"),
          ...send("tls.ts", { to, size: true }),
          ...QUIT,
        ],
        printed: ["Negotiating TLS....", "Using TLS connection.", sent],
      };
    default:
      return {
        script: [GREETING, ...listing.before, ...send(listing.prog, { to }), ...QUIT],
        printed: [...listing.printedBefore, sent],
      };
  }
}
