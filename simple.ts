#!/usr/bin/env -S deno run -N
/**
 * simple.ts: sends a test message with the least code possible.
 * The book's `simple.py`, from Foundations of Python Network Programming.
 *
 * ```sh
 * deno run -N simple.ts mail.example.com sender@example.com brandon@example.com
 * ```
 *
 * Like the book's listing it catches nothing: any failure ends the program
 * with Deno's own report of the uncaught error. Once the server has accepted
 * the message, though, a QUIT that goes unanswered is only a notice.
 *
 * @module
 */

import { parseCommandLine, type ScriptIO } from "./lib/cli.ts";
import { mailOptionsFor, messageFor } from "./lib/message_file.ts";
import { openConnection, quitAfterSending } from "./lib/session.ts";

const PROG = "simple.ts";

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

  const connection = await openConnection(command, io);
  await connection.sendmail(
    fromaddr,
    toaddrs,
    message.body,
    await mailOptionsFor(connection, message),
  );
  await quitAfterSending(command, connection, io);

  const s = toaddrs.length === 1 ? "" : "s";
  print(`Message sent to ${toaddrs.length} recipient${s}`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
