/**
 * Hints on stderr: what a failure suggests about the command line, such as
 * `--tls` for a server that speaks TLS from the first byte, `--starttls`
 * for AUTH offered only after STARTTLS, or Deno's `--cert` for a
 * certificate from an unknown CA. They belong to the listings' command
 * line, which knows the flags, not to the SMTP client.
 *
 * A suggested command keeps every argument and option the script was given.
 * Deno's own options (`--cert FILE`, before the script name) never reach the
 * script, so a suggestion cannot repeat them. Where the CA is knowable (a
 * loopback server on one of the playground's ports: the playground's own CA
 * beside this folder) the command names it, and pasting it works; elsewhere
 * the hint says in a line of its own to give Deno's options again.
 *
 * @module
 */

import { type CommandLine, denoCommand, type ScriptIO } from "./cli.ts";
import { hostPort } from "./conn.ts";
import { IMPLICIT_TLS_PORT, parseServer, type SMTP } from "./smtp.ts";
import { OAUTH2_PLAINTEXT } from "./oauth.ts";

/** The playground's ports (`playground/server.ts`): book mode, implicit TLS, submission. */
export const PLAYGROUND_PORTS: readonly number[] = [2525, 2465, 2527];

/** How long without a greeting before the notice on stderr, in milliseconds. */
export const GREETING_NOTICE_MS = 5000;

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
  waitedForGreeting = false,
): void {
  if (typeof error !== "object" || error === null || explained.has(error)) return;
  explained.add(error);
  const hint = hintFor(error, command, connection, waitedForGreeting);
  for (const line of hint) (io.printError ?? console.error)(`${command.prog}: ${line}`);
}

/**
 * The hint for a failure, as lines (none when there is nothing to add):
 * `--tls` for a server that speaks TLS from the first byte (and the other
 * way round), `--starttls` for AUTH offered only after STARTTLS, Deno's `--cert` for a certificate
 * from an unknown CA, and the CA file that Deno could not read.
 * `waitedForGreeting`: the greeting notice was given, so a server that then
 * closes without a greeting gets the `--tls` hint too.
 */
export function hintFor(
  error: unknown,
  command: CommandLine,
  connection?: SMTP,
  waitedForGreeting = false,
): string[] {
  const message = error instanceof Error ? error.message : String(error);
  const { prog, server, fromaddr, toaddrs, options } = command;
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
    const ca = playgroundCa(server);
    return [
      "the server's certificate is signed by a CA that Deno does not trust.",
      ca
        ? "This is a playground port: give the playground's CA to Deno before the script name:"
        : "If you have that CA's certificate (PEM), give it to Deno before the script name:",
      `  ${
        denoCommand(prog, ["--cert", ca ?? "FILE"], [
          ...flagsOf(command),
          server,
          fromaddr,
          ...toaddrs,
        ])
      }`,
      ...(ca ? [] : ["or set DENO_CERT=FILE."]),
    ];
  }
  if (!options.tls && connection === undefined && !message.startsWith("Could not connect")) {
    const port = portOf(server);
    const implicit = `TLS from the first byte (implicit TLS, as on port ${IMPLICIT_TLS_PORT})`;
    const why = /looks like TLS/i.test(message)
      ? `the server answered with TLS: it speaks ${implicit}. Try --tls:`
      : message.includes("waiting for the server's greeting")
      ? `the server sent no greeting: if it speaks ${implicit}, try --tls:`
      : waitedForGreeting && message.startsWith("Connection unexpectedly closed")
      ? `the server closed the connection without a greeting: if it speaks ${implicit}, try --tls:`
      : port === IMPLICIT_TLS_PORT
      ? `port ${IMPLICIT_TLS_PORT} is for TLS from the first byte (implicit TLS): try --tls:`
      : undefined;
    if (why) return [why, ...suggestion(command, "--tls")];
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
      ...suggestion(command, "--starttls"),
    ];
  }
  if (message.startsWith(OAUTH2_PLAINTEXT) && connection !== undefined) {
    const flag = connection.hasExtn("starttls") ? "--starttls" : "--tls";
    return [
      flag === "--starttls"
        ? "an OAuth 2.0 token goes only over TLS, and the server offers STARTTLS. Try --starttls:"
        : "an OAuth 2.0 token goes only over TLS, and the server offers no STARTTLS: if it " +
          "speaks TLS from the first byte (port 465), try --tls:",
      ...suggestion(command, flag),
    ];
  }
  return [];
}

/**
 * What to say before connecting, when the command line already suggests a
 * mistake: port 465 without `--tls` waits for a plain greeting that a server
 * speaking TLS from the first byte never sends (five minutes, RFC 5321's
 * wait, unless `--timeout` is given), so say at once what to try.
 */
export function hintBeforeConnecting(command: CommandLine): string[] {
  const { server, options } = command;
  if (options.tls || portOf(server) !== IMPLICIT_TLS_PORT) return [];
  return [
    `port ${IMPLICIT_TLS_PORT} usually speaks TLS from the first byte (implicit TLS), and without ` +
    "--tls this waits for a plain greeting; if none comes, try --tls:",
    ...suggestion(command, "--tls"),
  ];
}

/**
 * The notice for a server that has sent no greeting after
 * {@link GREETING_NOTICE_MS}: the listing keeps waiting (its `--timeout`,
 * else RFC 5321's five minutes), and says what the silence may mean.
 */
export function greetingNotice(command: CommandLine): string {
  const { host, port } = parseServer(
    command.server,
    command.options.tls ? IMPLICIT_TLS_PORT : undefined,
  );
  const waited = `no greeting yet from ${hostPort(host, port)} after ${
    GREETING_NOTICE_MS / 1000
  } s`;
  return command.options.tls
    ? `${waited}; still waiting`
    : `${waited}; if this port speaks TLS from the first byte (like ${IMPLICIT_TLS_PORT}), try --tls`;
}

/**
 * A command to paste, as hint lines: the script with `flag` added to every
 * argument and option it was given. Deno's options cannot be seen from
 * here: for a playground port the playground's CA is named with `--cert`;
 * otherwise a second line asks to give Deno's options again.
 */
function suggestion(command: CommandLine, flag: string): string[] {
  const { prog, server, fromaddr, toaddrs } = command;
  const ca = playgroundCa(server);
  const args = [flag, ...flagsOf(command), server, fromaddr, ...toaddrs];
  return [
    `  ${denoCommand(prog, ca ? ["--cert", ca] : [], args)}`,
    ...(ca ? [] : [
      `  (add any Deno options you gave before ${prog}, such as --cert FILE: ${prog} cannot see them)`,
    ]),
  ];
}

/**
 * The playground's CA file, when `server` is a loopback address on one of
 * the playground's ports: `.playground/ca.pem` in the folder above this
 * one, where `deno task playground` keeps it (the script may not look: `-N`
 * grants no read access). Undefined elsewhere, or when this module was not
 * loaded from a file.
 */
export function playgroundCa(server: string): string | undefined {
  let host: string, port: number;
  try {
    ({ host, port } = parseServer(server));
  } catch {
    return undefined;
  }
  const loopback = host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
  const url = new URL("../.playground/ca.pem", import.meta.url);
  if (!loopback || !PLAYGROUND_PORTS.includes(port) || url.protocol !== "file:") return undefined;
  const path = decodeURIComponent(url.pathname);
  return /^\/[A-Za-z]:\//.test(path) ? path.slice(1) : path; // C:/... on Windows
}

/** The port `server` names (25 when none), or 0 for an address the helper will refuse itself. */
function portOf(server: string): number {
  try {
    return parseServer(server).port;
  } catch {
    return 0;
  }
}

/** The listing's flags, to repeat them in a suggested command. */
function flagsOf({ options, oauth2 }: CommandLine): string[] {
  return [
    ...(oauth2 ? ["--oauth2"] : []),
    ...(options.tls ? ["--tls"] : []),
    ...(options.requireTls ? ["--starttls"] : []),
    ...(options.timeout !== undefined ? ["--timeout", String(options.timeout / 1000)] : []),
    ...(options.pipelining ? ["--pipelining"] : []),
    ...(options.chunking ? ["--chunking"] : []),
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
