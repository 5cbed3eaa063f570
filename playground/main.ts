/**
 * `deno task playground`: runs the playground mail server until Ctrl-C and
 * says how to try each listing against it.
 *
 * ```sh
 * deno task playground                      # 127.0.0.1:2525, mail in .playground/
 * deno task playground --port 2600 --host ::1 --user alice:secret
 * deno task playground --provider          # also 2465 (implicit TLS) and 2527 (submission)
 * deno task playground --tls-port 3465     # provider mode too, its TLS port moved
 * deno task playground --web-port 0        # the JSON API on any free port (--no-web: none)
 * deno task playground --token alice:ya29.alice  # the OAuth 2.0 practice token
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { FailureTable } from "./failures.ts";
import {
  DEFAULT_PORT,
  DEFAULT_SUBMISSION_PORT,
  DEFAULT_TLS_PORT,
  DEFAULT_USERS,
  MAX_MESSAGE_SIZE,
  type Playground,
  startPlayground,
} from "./server.ts";
import { DEFAULT_TOKENS, parseTokens } from "./oauth.ts";

const USAGE = "usage: deno task playground [--port N] [--host 127.0.0.1|::1] [--data DIR] " +
  "[--user name:password]... [--token user:token]... " +
  "[--provider [--tls-port N] [--submission-port N]] " +
  "[--fail STEP:ACTION[:PERCENT]]... [--fail-seed N] [--no-starttls] [--size N] " +
  "[--auth-methods LIST|none] [--web-port N | --no-web] [--keep-sessions N]";

/** The web port (JSON API) by default, as MailHog's and Mailpit's 8025. */
export const DEFAULT_WEB_PORT = 8025;

/** The data folder the tasks may use without more permissions. */
export const DEFAULT_DATA = ".playground";

const HELP = [
  USAGE,
  "",
  "A mail server on loopback that plays the book's mail.example.com.",
  `  --port N              the port to listen on (default ${DEFAULT_PORT}; 0 for any free one)`,
  "  --host ADDRESS        127.0.0.1 (default) or ::1",
  "  --data DIR            mailboxes and certificates (default .playground; another",
  "                        folder needs write access the task does not grant: the",
  "                        playground then prints the command that has it)",
  "  --user NAME:PASSWORD  one more user who gets mail and may log in (repeatable;",
  "                        brandon:abc123 is always there)",
  "  --token USER:TOKEN    the OAuth 2.0 practice token for XOAUTH2 and OAUTHBEARER,",
  "                        offered under TLS only (repeatable; default",
  `                        ${
    Object.entries(DEFAULT_TOKENS)[0].join(":")
  }, replaced by those given)`,
  "  --provider            also listen as a mail provider does: implicit TLS (like 465)",
  "                        and submission (like 587: STARTTLS, then AUTH); on both,",
  "                        sending needs AUTH",
  `  --tls-port N          provider mode's implicit-TLS port (default ${DEFAULT_TLS_PORT});`,
  "                        implies --provider",
  `  --submission-port N   provider mode's submission port (default ${DEFAULT_SUBMISSION_PORT});`,
  "                        implies --provider",
  `  --web-port N          the web port: the JSON API under /api/ (default ${DEFAULT_WEB_PORT};`,
  "                        0 for any free one), on the same host",
  "  --no-web              no web port",
  "  --keep-sessions N     how many sessions to keep recorded in DIR/sessions/ (default",
  "                        1000; the oldest go whole; 0 records none)",
  "  --fail STEP:ACTION[:PERCENT]  fail on purpose at one step (repeatable): STEP is",
  "                        connect, ehlo, helo, starttls, ehlo2 (EHLO after STARTTLS), auth,",
  "                        mail, rcpt, rcpt=ADDRESS, data, message (after the final dot) or",
  "                        quit; ACTION a 4xx/5xx code (421 closes), drop, stall or slow=MS;",
  "                        PERCENT how often (default 100)",
  "  --fail-seed N         the seed of the percentages, for repeatable runs",
  "  --no-starttls         do not offer STARTTLS (the book's listener)",
  `  --size N              the SIZE offered and enforced (default ${MAX_MESSAGE_SIZE}, at most that)`,
  "  --auth-methods LIST   the AUTH mechanisms offered, from PLAIN, LOGIN, CRAM-MD5,",
  "                        DIGEST-MD5 (offered, never accepted), XOAUTH2, OAUTHBEARER (under",
  "                        TLS only); comma-separated, or none for no AUTH",
  "  --quiet               do not log each delivery",
  "  -h, --help            show this help",
];

/** The server address as the listings take it: `127.0.0.1:2525` or `[::1]:2525`. */
export function serverArgument(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

/** The commands that run each listing against a playground, as a reader types them. */
export function listingCommands(server: string, caPath: string, user = "brandon"): string[] {
  const addresses = `sender@example.com ${user}@example.com`;
  return [
    `deno run -N simple.ts ${server} ${addresses}`,
    `deno run -N ehlo.ts ${server} ${addresses}`,
    `deno run -N debug.ts ${server} ${addresses}`,
    `deno run -N login.ts ${server} ${addresses}`,
    `deno run -N --cert ${caPath} tls.ts ${server} ${addresses}`,
  ];
}

/** The commands that send through provider mode's two listeners with login.ts. */
export function providerCommands(
  hostname: string,
  ports: { tlsPort: number; submissionPort: number },
  caPath: string,
  user = "brandon",
): string[] {
  const addresses = `sender@example.com ${user}@example.com`;
  const login = `deno run -N --cert ${caPath} login.ts`;
  return [
    `${login} --starttls ${serverArgument(hostname, ports.submissionPort)} ${addresses}`,
    `${login} --tls ${serverArgument(hostname, ports.tlsPort)} ${addresses}`,
  ];
}

/**
 * The commands that send with an OAuth 2.0 token (`login.ts --oauth2`): on
 * the book's port after STARTTLS, and on provider mode's implicit-TLS port.
 */
export function oauth2Commands(
  hostname: string,
  ports: { port: number; tlsPort?: number },
  caPath: string,
  user = "brandon",
): string[] {
  const addresses = `sender@example.com ${user}@example.com`;
  const login = `deno run -N --cert ${caPath} login.ts --oauth2`;
  return [
    `${login} --starttls ${serverArgument(hostname, ports.port)} ${addresses}`,
    ...(ports.tlsPort === undefined
      ? []
      : [`${login} --tls ${serverArgument(hostname, ports.tlsPort)} ${addresses}`]),
  ];
}

/** The command that lists a user's mailbox in `dataDir`. */
export function mailCommand(dataDir: string, user: string): string {
  const data = resolve(dataDir) === resolve(DEFAULT_DATA) ? "" : ` --data ${shellWord(dataDir)}`;
  return `deno task mail${data} ${user}`;
}

/** A word as a POSIX shell reads it: quoted when it holds anything but plain characters. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** What the server prints when it is up: what it offers and what to try. */
export function banner(
  playground: Playground,
  users: Record<string, string>,
  tokens: Record<string, string> = DEFAULT_TOKENS,
): string[] {
  const server = serverArgument(playground.hostname, playground.port);
  const [user, password] = Object.entries(users)[0];
  const [tokenUser, token] = Object.entries(tokens)[0];
  const oauth2 = [
    `OAuth 2.0 (XOAUTH2, OAUTHBEARER; under TLS only): user ${tokenUser}, token ${token}`,
    ...oauth2Commands(playground.hostname, playground, playground.caPath, tokenUser)
      .map((command) => `  ${command}`),
    `  (or SMTP_OAUTH2_TOKEN=${token} and --allow-env=SMTP_OAUTH2_TOKEN before login.ts)`,
  ];
  const provider = playground.tlsPort !== undefined && playground.submissionPort !== undefined
    ? [
      "Provider mode, as a mail provider's ports 465 and 587 (sending needs AUTH, under TLS):",
      `  implicit TLS on ${serverArgument(playground.hostname, playground.tlsPort)}, ` +
      `submission (STARTTLS, then AUTH) on ${
        serverArgument(playground.hostname, playground.submissionPort)
      }`,
      ...providerCommands(
        playground.hostname,
        {
          tlsPort: playground.tlsPort,
          submissionPort: playground.submissionPort,
        },
        playground.caPath,
        user,
      ).map((command) => `  ${command}`),
    ]
    : [];
  return [
    `Playground mail server "mail.example.com" listening on ${server}`,
    "  speaks the book's Postfix: PIPELINING, SIZE 10240000, VRFY, ETRN, STARTTLS,",
    "  AUTH PLAIN LOGIN CRAM-MD5 (before STARTTLS too, for login.ts), ENHANCEDSTATUSCODES,",
    "  8BITMIME, DSN",
    `  users: ${Object.entries(users).map(([u, p]) => `${u}/${p}`).join(", ")}` +
    ` at example.com and mail.example.com; mail goes to ${playground.dataDir}/<user>`,
    `  TLS: trust the CA ${playground.caPath}` +
    (playground.certificatesCreated ? " (made just now)" : "") + ` with --cert`,
    "Try each listing, in another terminal" +
    ` (login.ts asks for a user name and password: ${user}, ${password}):`,
    ...listingCommands(server, playground.caPath, user).map((command) => `  ${command}`),
    ...provider,
    ...oauth2,
    ...(playground.webUrl
      ? [`Mail and sessions on the web: ${playground.webUrl} (JSON: ${playground.webUrl}api/)`]
      : []),
    ...failureLines(playground),
    `Read the mail with: ${mailCommand(playground.dataDir, user)}   (Ctrl-C stops the server)`,
  ];
}

/** The banner's lines on the failures injected, if any. */
function failureLines(playground: Playground): string[] {
  const rules = playground.failures?.describe() ?? [];
  if (rules.length === 0) return [];
  return [`Failing on purpose (--fail-seed ${playground.failures?.seed}): ${rules.join(", ")}`];
}

/** The mechanisms `--auth-methods` may name. */
const AUTH_METHODS = ["PLAIN", "LOGIN", "CRAM-MD5", "DIGEST-MD5", "XOAUTH2", "OAUTHBEARER"];

/** Reads `--auth-methods LIST|none` (undefined: the default); throws a usage error. */
function authMethodList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  if (value.toLowerCase() === "none") return [];
  const methods = value.split(",").map((method) => method.trim().toUpperCase());
  const unknown = methods.find((method) => !AUTH_METHODS.includes(method));
  if (unknown !== undefined) {
    throw new Error(
      `--auth-methods takes none or a list from ${AUTH_METHODS.join(",")}, not ${
        JSON.stringify(unknown)
      }`,
    );
  }
  return methods;
}

/** Reads a whole number option from 0 to `max`; throws a usage error otherwise. */
function wholeNumber(option: string, value: string, max: number): number {
  const number = Number(value);
  if (!/^\d+$/.test(value) || number > max) throw new Error(`${option} takes 0 to ${max}`);
  return number;
}

/** Reads `--user name:password` values; throws on a malformed one. */
export function parseUsers(values: string[]): Record<string, string> {
  const users = { ...DEFAULT_USERS };
  for (const value of values) {
    const match = /^([a-z0-9][a-z0-9._-]*):(.+)$/i.exec(value);
    if (!match) throw new Error(`--user takes name:password (a plain user name), not ${value}`);
    users[match[1].toLowerCase()] = match[2];
  }
  return users;
}

/** Reads a port number option; throws a usage error for anything but 0 to 65535. */
function portNumber(option: string, value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new Error(`${option} takes 0 to 65535`);
  return port;
}

/** "read" or "write" when this process may not use `dir` that way, else null. */
export function missingPermission(dir: string): "read" | "write" | null {
  for (const name of ["read", "write"] as const) {
    if (Deno.permissions.querySync({ name, path: dir }).state !== "granted") return name;
  }
  return null;
}

/** Runs the server until SIGINT or SIGTERM; resolves to the exit status. */
export async function main(args: string[]): Promise<number> {
  let options;
  try {
    const { values } = parseArgs({
      args,
      options: {
        port: { type: "string", default: String(DEFAULT_PORT) },
        host: { type: "string", default: "127.0.0.1" },
        data: { type: "string", default: DEFAULT_DATA },
        user: { type: "string", multiple: true, default: [] },
        token: { type: "string", multiple: true, default: [] },
        provider: { type: "boolean" },
        "tls-port": { type: "string" },
        "submission-port": { type: "string" },
        "web-port": { type: "string", default: String(DEFAULT_WEB_PORT) },
        "no-web": { type: "boolean" },
        "keep-sessions": { type: "string", default: "1000" },
        fail: { type: "string", multiple: true, default: [] },
        "fail-seed": { type: "string" },
        "no-starttls": { type: "boolean" },
        size: { type: "string" },
        "auth-methods": { type: "string" },
        quiet: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      HELP.forEach((line) => console.log(line));
      return 0;
    }
    const port = portNumber("--port", values.port);
    // Either port names a provider-mode listener, so it turns provider mode on.
    const tlsPort = values["tls-port"];
    const submissionPort = values["submission-port"];
    const provider = values.provider || tlsPort !== undefined || submissionPort !== undefined
      ? {
        tlsPort: portNumber("--tls-port", tlsPort ?? String(DEFAULT_TLS_PORT)),
        submissionPort: portNumber(
          "--submission-port",
          submissionPort ?? String(DEFAULT_SUBMISSION_PORT),
        ),
      }
      : undefined;
    if (!["127.0.0.1", "::1", "localhost"].includes(values.host)) {
      throw new Error("--host takes 127.0.0.1 or ::1: the playground stays on loopback");
    }
    const hostname = values.host === "localhost" ? "127.0.0.1" : values.host;
    const users = parseUsers(values.user);
    const tokens = parseTokens(values.token);
    const starttls = !values["no-starttls"];
    const size = values.size === undefined
      ? undefined
      : wholeNumber("--size", values.size, MAX_MESSAGE_SIZE);
    const seed = values["fail-seed"] === undefined
      ? undefined
      : wholeNumber("--fail-seed", values["fail-seed"], 0xffffffff);
    const authMethods = authMethodList(values["auth-methods"]);
    const failures = FailureTable.parse(values.fail, {
      seed,
      starttls,
      auth: authMethods?.length !== 0,
    });
    const log = values.quiet
      ? undefined
      : (line: string) => console.log(`${new Date().toISOString().slice(11, 19)} ${line}`);
    const web = values["no-web"]
      ? undefined
      : { port: portNumber("--web-port", values["web-port"]) };
    const keep = values["keep-sessions"];
    if (!/^\d{1,7}$/.test(keep)) throw new Error("--keep-sessions takes a whole number");
    options = {
      web,
      keepSessions: Number(keep),
      port,
      hostname,
      dataDir: values.data,
      users,
      tokens,
      log,
      provider,
      failures,
      starttls,
      size,
      authMethods,
    };
  } catch (error) {
    console.error(`playground: ${(error as Error).message}`);
    console.error(USAGE);
    return 2;
  }

  const missing = missingPermission(options.dataDir);
  if (missing) {
    console.error(
      `playground: the task may use only ${DEFAULT_DATA}/ (no ${missing} access to ` +
        `${options.dataDir}); run instead: deno run ${shellWord("--allow-net=127.0.0.1,[::1]")} ` +
        `--allow-read=.,${shellWord(options.dataDir)} --allow-write=${
          shellWord(options.dataDir)
        } ` +
        `playground/main.ts ${args.map(shellWord).join(" ")}`,
    );
    return 2;
  }

  let playground: Playground;
  try {
    playground = await startPlayground(options);
  } catch (error) {
    console.error(`playground: could not start: ${(error as Error).message}`);
    if (
      (error as { code?: string }).code === "EADDRINUSE" || error instanceof Deno.errors.AddrInUse
    ) {
      const ports = (options.provider ? "--port, --tls-port, --submission-port" : "--port") +
        (options.web ? " or --web-port (or --no-web)" : "");
      console.error(`(is a playground already running? try another ${ports})`);
    }
    return 1;
  }
  banner(playground, options.users, options.tokens).forEach((line) => console.log(line));
  const changes = [
    ...options.starttls ? [] : ["no STARTTLS"],
    ...options.size === undefined ? [] : [`SIZE ${options.size}`],
    ...options.authMethods === undefined
      ? []
      : [options.authMethods.length ? `AUTH ${options.authMethods.join(" ")}` : "no AUTH"],
  ];
  if (changes.length) {
    console.log(`Unlike the book's server, this one offers: ${changes.join(", ")}`);
  }

  await new Promise<void>((resolve) => {
    const stop = () => {
      Deno.removeSignalListener("SIGINT", stop);
      if (Deno.build.os !== "windows") Deno.removeSignalListener("SIGTERM", stop);
      resolve();
    };
    Deno.addSignalListener("SIGINT", stop);
    if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", stop);
  });
  console.log("Stopping; mail already accepted is on disk.");
  await playground.close();
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
