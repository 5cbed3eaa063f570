#!/usr/bin/env -S deno run -N
/**
 * tls.ts: upgrades to TLS with STARTTLS when the server offers it, checking
 * the certificate, then sends. The book's `tls.py`.
 *
 * ```sh
 * deno run -N tls.ts mail.example.com sender@example.com brandon@example.com
 * deno run -N --cert ca.pem tls.ts localhost:2525 sender@example.com brandon@example.com
 * ```
 *
 * The certificate is checked against Deno's trusted roots plus any CA given
 * with `--cert` or `DENO_CERT`, for both its chain and the host name. With
 * `--starttls` it refuses to fall back to plain text; with `--tls` the
 * connection is TLS from the first byte.
 *
 * @module
 */

import { parseCommandLine, type ScriptIO } from "./lib/cli.ts";
import { mailOptionsFor, messageFor, type Outgoing } from "./lib/message_file.ts";
import { explain } from "./lib/hints.ts";
import { openConnection, quitAfterSending } from "./lib/session.ts";
import { isSendError, type SMTP, SMTPNotSupportedError } from "./lib/smtp.ts";

const PROG = "tls.ts";

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
  const { fromaddr, toaddrs, options } = command;
  const message = await messageFor(command, "Syntax", messageTemplate(toaddrs, fromaddr), io);
  if (typeof message === "number") return message;

  let connection: SMTP | undefined;
  try {
    connection = await openConnection(command, io, false); // its own STARTTLS, below
    const exitStatus = await sendMessageSecurely(
      connection,
      fromaddr,
      toaddrs,
      message,
      print,
      options.requireTls ?? false,
    );
    if (exitStatus !== 0) {
      connection.close();
      return exitStatus;
    }
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

/**
 * EHLO (or HELO), STARTTLS when offered, EHLO again, then send. With
 * `requireTls` (--starttls) there is no plain-text fallback.
 */
async function sendMessageSecurely(
  connection: SMTP,
  fromaddr: string,
  toaddrs: string[],
  message: Outgoing,
  print: (line: string) => void,
  requireTls: boolean,
): Promise<number> {
  let [code] = await connection.ehlo();
  const usesEsmtp = 200 <= code && code <= 299;
  if (!usesEsmtp) {
    [code] = await connection.helo();
    if (!(200 <= code && code <= 299)) {
      print(`Remote server refused HELO; code: ${code}`);
      return 1;
    }
  }

  if (connection.isTls) {
    // --tls: TLS from the first byte, nothing to negotiate.
    print("Using TLS connection.");
  } else if (usesEsmtp && connection.hasExtn("starttls")) {
    print("Negotiating TLS....");
    await connection.starttls();
    [code] = await connection.ehlo();
    if (!(200 <= code && code <= 299)) {
      print("Couldn't EHLO after STARTTLS");
      return 5;
    }
    print("Using TLS connection.");
  } else if (requireTls) {
    // --starttls: TLS or nothing.
    throw new SMTPNotSupportedError(
      "STARTTLS extension not supported by server; --starttls refuses to send in plain text.",
    );
  } else {
    print("Server does not support TLS; using normal connection.");
  }
  await connection.sendmail(
    fromaddr,
    toaddrs,
    message.body,
    await mailOptionsFor(connection, message),
  );
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
