#!/usr/bin/env -S deno run -N
/**
 * debug.ts: sends the test message with the transcript turned on, so every
 * command and reply shows on stderr in smtplib's format. The book's `debug.py`.
 *
 * ```sh
 * deno run -N debug.ts mail.example.com sender@example.com brandon@example.com
 * ```
 *
 * @module
 */

import { parseCommandLine, type ScriptIO } from "./lib/cli.ts";
import { mailOptionsFor, messageFor } from "./lib/message_file.ts";
import { explain } from "./lib/hints.ts";
import { openConnection, quitAfterSending } from "./lib/session.ts";
import { isSendError, type SMTP } from "./lib/smtp.ts";

const PROG = "debug.ts";

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
  const command = parseCommandLine(PROG, "usage", args, io);
  if (typeof command === "number") return command;
  const { fromaddr, toaddrs } = command;
  const message = await messageFor(command, "usage", messageTemplate(toaddrs, fromaddr), io);
  if (typeof message === "number") return message;

  let connection: SMTP | undefined;
  try {
    // With --starttls, the upgrade is left to sendmail, so the transcript shows it.
    connection = await openConnection(command, io, false);
    connection.setDebugLevel(1);
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
