#!/usr/bin/env -S deno run -N
/**
 * login.ts: asks for a user name and password and logs in with SMTP AUTH
 * before sending. The book's `login.py`.
 *
 * ```sh
 * deno run -N login.ts mail.example.com sender@example.com brandon@example.com
 * ```
 *
 * Like the book's listing it never says STARTTLS, so the password crosses
 * the network as the server's AUTH mechanism leaves it: use it on a test
 * server. For a provider, add `--starttls` (port 587) or `--tls` (port 465):
 *
 * ```sh
 * deno run -N login.ts --starttls smtp.example.com:587 sender@example.com brandon@example.com
 * ```
 *
 * With `--oauth2` it takes an OAuth 2.0 access token instead of a password
 * (from `SMTP_OAUTH2_TOKEN` when Deno may read it, else a prompt), for the
 * providers that turn password AUTH off; only with `--starttls` or `--tls`.
 *
 * @module
 */

import { parseCommandLine, type ScriptIO } from "./lib/cli.ts";
import { mailOptionsFor, messageFor } from "./lib/message_file.ts";
import { explain } from "./lib/hints.ts";
import { EXIT_INTERRUPTED, getpass, input, Interrupted, oauth2Token } from "./lib/prompt.ts";
import { openConnection, quitAfterSending } from "./lib/session.ts";
import { isSendError, type SMTP, SMTPException } from "./lib/smtp.ts";

const PROG = "login.ts";

function messageTemplate(toaddrs: string[], fromaddr: string): string {
  return `To: ${toaddrs.join(", ")}
From: ${fromaddr}
Subject: Test Message from ${PROG}

Hello,

This is a test message sent to you from the ${PROG} program
in Foundations of Python Network Programming.
`;
}

/** Runs the listing with `args`; resolves to the exit status. */
export async function main(args: string[], io: ScriptIO = {}): Promise<number> {
  const print = io.print ?? console.log;
  const command = parseCommandLine(PROG, "Syntax", args, io);
  if (typeof command === "number") return command;
  const { fromaddr, toaddrs } = command;
  const message = await messageFor(command, "Syntax", messageTemplate(toaddrs, fromaddr), io);
  if (typeof message === "number") return message;

  // With --oauth2 the secret is an OAuth 2.0 access token, not a password.
  const ask = io.getpass ?? getpass;
  let username: string | null, password: string | null;
  try {
    username = await (io.input ?? input)("Enter username: ");
    password = username === null
      ? null
      : command.oauth2
      ? await oauth2Token(ask)
      : await ask("Enter password: ");
  } catch (error) {
    if (error instanceof Interrupted) return EXIT_INTERRUPTED; // Ctrl-C
    throw error;
  }
  if (username === null || password === null) {
    const secret = command.oauth2 ? "token" : "password";
    (io.printError ?? console.error)(`${PROG}: end of input before a user name and ${secret}`);
    return 1;
  }

  let connection: SMTP | undefined;
  try {
    connection = await openConnection(command, io);
    try {
      await (command.oauth2
        ? connection.loginOAuth2(username, password)
        : connection.login(username, password));
    } catch (error) {
      if (!(error instanceof SMTPException)) throw error;
      connection.close();
      print(`Authentication failed: ${error.message}`);
      explain(error, command, io, connection);
      return 1;
    }
    await connection.sendmail(
      fromaddr,
      toaddrs,
      message.body,
      await mailOptionsFor(connection, message),
    );
  } catch (error) {
    connection?.close();
    if (!isSendError(error)) throw error;
    print("Your message may not have been sent!");
    print(error.message);
    explain(error, command, io, connection);
    return 1;
  }
  const s = toaddrs.length === 1 ? "" : "s";
  print(`Message sent to ${toaddrs.length} recipient${s}`);
  await quitAfterSending(command, connection, io);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
