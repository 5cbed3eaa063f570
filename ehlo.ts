#!/usr/bin/env -S deno run -N
/**
 * ehlo.ts: says EHLO itself, to learn the server's maximum message size
 * before sending. The book's `ehlo.py`.
 *
 * ```sh
 * deno run -N ehlo.ts mail.example.com sender@example.com brandon@example.com
 * ```
 *
 * @module
 */

import { parseCommandLine, type ScriptIO } from "./lib/cli.ts";
import { knownSize, mailOptionsFor, messageFor, type Outgoing } from "./lib/message_file.ts";
import { explain } from "./lib/hints.ts";
import { openConnection, quitAfterSending } from "./lib/session.ts";
import { isSendError, type SMTP } from "./lib/smtp.ts";

const PROG = "ehlo.ts";

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
    connection = await openConnection(command, io);
    const exitStatus = await reportOnMessageSize(connection, fromaddr, toaddrs, message, print);
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

/** EHLO (or HELO), report SIZE, refuse a message over it, then send. */
async function reportOnMessageSize(
  connection: SMTP,
  fromaddr: string,
  toaddrs: string[],
  message: Outgoing,
  print: (line: string) => void,
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

  if (usesEsmtp && connection.hasExtn("size")) {
    const size = connection.esmtpFeatures.get("size")!;
    // RFC 1870: SIZE 0, or SIZE with no number, sets no limit.
    print(`Maximum message size is ${size || "not stated"}`);
    const limit = /^\d+$/.test(size) ? Number(size) : 0;
    const length = knownSize(message); // null: a pipe, whose size is not known
    if (limit > 0 && length !== null && length > limit) {
      print("Message too large; aborting.");
      return 1;
    }
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
