/**
 * The listings' command line, which the book leaves to Python itself:
 * reading `server fromaddr toaddr [toaddr...]` and the options, telling
 * Deno's own options placed after the script name, and each script's help.
 *
 * Each listing's `main()` takes the arguments and a {@link ScriptIO}, so tests
 * can capture what it prints and hand it a mock connection. The rest of
 * what the listings share is in `session.ts` (connecting and the end),
 * `hints.ts` (hints on stderr) and `prompt.ts` (the prompts of `login.ts`).
 *
 * The start path stays cheap: no `node:` module, a hand-written parser.
 *
 * @module
 */

import {
  IMPLICIT_TLS_PORT,
  MAX_TIMEOUT,
  parseServer,
  SMTP_PORT,
  type SMTPOptions,
} from "./smtp.ts";

/** What a listing talks to: the terminal and the network. */
export interface ScriptIO {
  /** Prints one line on stdout (Python's `print`). */
  print?: (line: string) => void;
  /** Prints one line on stderr. */
  printError?: (line: string) => void;
  /**
   * Asks for a line, like Python's `input()`; null at end of input. Throws
   * `Interrupted` (from `prompt.ts`) on Ctrl-C.
   */
  input?: (prompt: string) => Promise<string | null>;
  /**
   * Asks for a password, like Python's `getpass()`; null at end of input.
   * Throws `Interrupted` (from `prompt.ts`) on Ctrl-C.
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
   * (`tls`), `--starttls` (`requireTls`), `--pipelining` (`pipelining`),
   * `--chunking` (`chunking`).
   */
  options: SMTPOptions;
  /** `--oauth2` (login.ts only): an OAuth 2.0 access token instead of a password. */
  oauth2?: boolean;
  /** `--message FILE`: the file to send instead of the book's template; `-` is stdin. */
  messageFile?: string;
}

/** The pointer to the help, on stderr after the book's usage line (which stays as the book's). */
export const HELP_POINTER = "(-h for help)";

/** The longest `--timeout`, 2147483: the helper's longest timer, in whole seconds. */
export const MAX_TIMEOUT_SECONDS = Math.floor(MAX_TIMEOUT / 1000);

// ---- the command line ----

/**
 * Reads `PROG server fromaddr toaddr [toaddr...]` and the options
 * `--timeout SECONDS`, `--tls`, `--starttls`, `--pipelining`, `--chunking` and `-h`,
 * anywhere among the arguments (`--` ends the options). Returns the exit
 * status instead when there is nothing to send: 0 after help, 2 after a
 * usage error (the usage line goes to stdout, as in the book; `word` is the
 * book's `usage` or `Syntax`; the reason, and a pointer to `-h`, go to
 * stderr). A server address with no valid port (`host:notaport`, `:0`,
 * `:99999`) or no host is a usage error too: nothing is dialled.
 */
export function parseCommandLine(
  prog: string,
  word: "usage" | "Syntax",
  args: string[],
  io: ScriptIO = {},
): CommandLine | number {
  const print = io.print ?? console.log;
  const usage = usageLine(prog, word);
  const usageError = (...why: string[]): number => printUsageError(prog, word, io, why);

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
  let oauth2 = false;
  let messageFile: string | undefined;
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
    if (name !== "--timeout" && name !== "--message" && value !== undefined) {
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
      case "--oauth2":
        if (prog !== "login.ts") return usageError(`unknown option '${arg}'`);
        oauth2 = true;
        break;
      case "--chunking":
        options.chunking = true;
        break;
      case "--message":
        messageFile = value ?? args[++i];
        if (messageFile === undefined || messageFile === "") {
          return usageError("--message takes a file to send (or - for stdin)");
        }
        break;
      default:
        return usageError(`unknown option '${arg}'`);
    }
  }
  if (options.tls && options.requireTls) {
    return usageError(
      "--tls and --starttls do not go together: --tls is TLS from the first byte " +
        "(port 465), --starttls upgrades a plain connection (port 587 or 25)",
    );
  }
  if (positionals.length < 3) return usageError();
  const [server, fromaddr, ...toaddrs] = positionals;
  try {
    parseServer(server, options.tls ? IMPLICIT_TLS_PORT : SMTP_PORT);
  } catch (error) {
    return usageError(
      `${(error as Error).message}: a server is host, host:port or [v6addr]:port, port 1 to 65535`,
    );
  }
  const parsed: CommandLine = {
    prog,
    server,
    fromaddr,
    toaddrs,
    options: { ...options, ...io.smtp },
  };
  if (oauth2) parsed.oauth2 = true;
  if (messageFile !== undefined) parsed.messageFile = messageFile;
  return parsed;
}

/** The book's usage line: `usage: PROG server fromaddr toaddr [toaddr...]`. */
function usageLine(prog: string, word: "usage" | "Syntax"): string {
  return `${word}: ${prog} server fromaddr toaddr [toaddr...]`;
}

/**
 * A usage error: each reason on stderr after `PROG: `, the book's usage line
 * on stdout, the pointer to `-h` on stderr. Returns the exit status, 2.
 */
export function printUsageError(
  prog: string,
  word: "usage" | "Syntax",
  io: ScriptIO,
  why: string[],
): number {
  for (const line of why) (io.printError ?? console.error)(`${prog}: ${line}`);
  (io.print ?? console.log)(usageLine(prog, word));
  (io.printError ?? console.error)(HELP_POINTER);
  return 2;
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
    if (!arg.startsWith("-")) {
      // Not an option: spares the big DENO_FLAG its compiling (a listing's start-up).
      rest.push(arg);
      continue;
    }
    const name = arg.replace(/=.*$/s, "");
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
export function denoCommand(prog: string, options: string[], args: string[]): string {
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
      ? "  1    not sent, login refused, or end of input before the password (or token)"
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
    "  --timeout SECONDS  give up on a silent server after this many seconds, each",
    `                     step; at most ${MAX_TIMEOUT_SECONDS} (default: RFC 5321's, up to 10`,
    "                     minutes a step). The library's timeout option is in ms.",
    "  --tls              TLS from the first byte (implicit TLS, port 465)",
    prog === "tls.ts"
      ? "  --starttls         STARTTLS required: refuse to fall back to plain text"
      : "  --starttls         EHLO, STARTTLS (required), EHLO, then this script's steps",
    "  --pipelining       MAIL, RCPT and DATA in one write when the server offers",
    "                     PIPELINING (RFC 2920)",
    "  --chunking         the message as BDAT chunks when the server offers CHUNKING",
    "                     (RFC 3030), else DATA; with --pipelining, not waiting",
    "                     for each chunk's reply",
    "  --message FILE     send FILE (- for stdin) as it is instead of the test",
    "                     message, streamed; Deno needs -R=FILE (--allow-read)",
    ...(prog === "login.ts" ? OAUTH2_OPTION : []),
    "  -h, --help         show this help",
    "",
    "Deno's own options go before the script name (-N: network only; --cert FILE:",
    "trust that CA too), the script's anywhere after it:",
    `  deno run -N ${prog} 127.0.0.1:2525 sender@example.com brandon@example.com`,
    `  deno run -N ${prog} --starttls smtp.example.com:587 sender@example.com brandon@example.com`,
    "",
    ...(prog === "login.ts" ? OAUTH2_HELP : []),
    "Exit status:",
    ...exitStatuses(prog),
  ];
}

/** login.ts's `--oauth2` line among the options. */
const OAUTH2_OPTION = [
  "  --oauth2           an OAuth 2.0 access token instead of a password (XOAUTH2 or",
  "                     OAUTHBEARER), from SMTP_OAUTH2_TOKEN or 'Enter OAuth 2.0",
  "                     access token: '; only with --starttls or --tls",
];

/** How to get a token for `--oauth2`, without writing an OAuth client. */
const OAUTH2_HELP = [
  "A token for --oauth2 (Gmail, Microsoft 365) takes no OAuth code of your own:",
  "the provider's tool or a device-code flow gives one (Google's oauth2l with a",
  "client ID from the Cloud console; one of Microsoft's MSAL device-code samples",
  "with an app registration), for the scope https://mail.google.com/ (Google) or",
  "https://outlook.office.com/SMTP.Send with offline_access (Microsoft). The user",
  "name is the account's address. Tokens last about an hour.",
  "To skip the prompt, set SMTP_OAUTH2_TOKEN and let Deno read it:",
  "  SMTP_OAUTH2_TOKEN=... deno run -N --allow-env=SMTP_OAUTH2_TOKEN login.ts --oauth2 \\",
  "    --starttls smtp.gmail.com:587 you@gmail.com friend@example.org",
  "",
];
