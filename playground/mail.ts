/**
 * Reads the playground's mailboxes the way the book reads `/var/mail/brandon`
 * with the Unix `mail` command: a header summary, one line a message, or one
 * message in full. Messages are parsed with the `mailparser` library.
 *
 * ```sh
 * deno task mail              # brandon's mailbox, one line a message
 * deno task mail brandon 3    # message 3
 * deno task mail --data /tmp/mail brandon
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Buffer } from "node:buffer";
import { simpleParser } from "mailparser";
import { mailboxPath, type MboxMessage, readMailbox } from "./mbox.ts";

/** What a summary line shows of one message. */
export interface MessageSummary {
  /** The sender's name from `From:`, else its address, else the envelope sender. */
  sender: string;
  /** `Wed Oct 22 20:34`, from the mbox separator line. */
  date: string;
  /** The message's size in lines, as stored. */
  lines: number;
  /** The message's size in bytes, as stored. */
  bytes: number;
  /** The decoded `Subject:`. */
  subject: string;
}

/** Parses one stored message into what its summary line shows. */
export async function summarize(message: MboxMessage): Promise<MessageSummary> {
  const parsed = await simpleParser(Buffer.from(message.raw), { skipHtmlToText: true });
  const from = parsed.from?.value[0];
  return {
    sender: from?.name || from?.address || message.sender,
    date: message.date.slice(0, 16),
    lines: message.lines,
    bytes: message.bytes,
    subject: parsed.subject ?? "",
  };
}

/**
 * One line of `mail`'s header summary, in its column layout:
 * ` N   4 sender@example.com Wed Oct 22 20:34  14/477   Test Message from simple.`
 * (the playground keeps no read/unread state, so every message shows `N`).
 */
export function summaryLine(number: number, summary: MessageSummary, current = false): string {
  return (current ? ">" : " ") + "N" + String(number).padStart(4) + " " +
    summary.sender.slice(0, 18).padEnd(18) + " " + summary.date.padEnd(16) + " " +
    String(summary.lines).padStart(3) + "/" + String(summary.bytes).padEnd(5) + " " +
    summary.subject.slice(0, 25);
}

/** The header summary of a whole mailbox, first line `"path": N messages N new`. */
export async function mailboxSummary(
  dataDir: string,
  user: string,
): Promise<string[]> {
  const messages = await readMailbox(dataDir, user);
  const path = mailboxPath(dataDir, user);
  if (messages.length === 0) return [`No mail for ${user} (${path})`];
  const n = messages.length;
  const lines = [`"${path}": ${n} message${n === 1 ? "" : "s"} ${n} new`];
  for (const [i, message] of messages.entries()) {
    lines.push(summaryLine(i + 1, await summarize(message), i === 0));
  }
  return lines;
}

/**
 * Message `number` (from 1) in full, as `mail` prints it: its number, the
 * separator line, the headers as stored, then the decoded text body.
 */
export async function showMessage(
  dataDir: string,
  user: string,
  number: number,
): Promise<string[] | null> {
  const messages = await readMailbox(dataDir, user);
  const message = messages[number - 1];
  if (!message) return null;
  const parsed = await simpleParser(Buffer.from(message.raw), { skipHtmlToText: true });
  const headerEnd = message.text.search(/\n\n|$/);
  const body = (parsed.text ?? "").replace(/\n$/, "");
  return [
    `Message ${number}:`,
    message.separator,
    ...message.text.slice(0, headerEnd).split("\n"),
    "",
    ...body.split("\n"),
  ];
}

const USAGE = "usage: deno task mail [--data DIR] [user [N]]";

/** The command line: `[--data DIR] [user [N]]`; resolves to the exit status. */
export async function main(
  args: string[],
  print: (line: string) => void = console.log,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        data: { type: "string", default: ".playground" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    print(`mail: ${(error as Error).message}`);
    print(USAGE);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length > 2) {
    print(USAGE);
    print("Lists a playground mailbox (default: brandon), or shows message N of it.");
    return values.help ? 0 : 2;
  }
  const user = (positionals[0] ?? "brandon").toLowerCase();
  try {
    mailboxPath(values.data, user);
  } catch {
    print(`mail: no such user: ${user}`);
    return 1;
  }
  try {
    return await show(values.data, user, positionals[1], print);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
    print(
      `mail: no read access to ${values.data}; run instead: ` +
        `deno run --allow-read playground/mail.ts ${args.join(" ")}`,
    );
    return 1;
  }
}

/** Prints `user`'s mailbox, or its message `number`; resolves to the exit status. */
async function show(
  dataDir: string,
  user: string,
  number: string | undefined,
  print: (line: string) => void,
): Promise<number> {
  if (number === undefined) {
    // `mail 3` means message 3 of brandon's, unless there is a user "3".
    if (/^\d+$/.test(user) && (await readMailbox(dataDir, user)).length === 0) {
      const data = dataDir === ".playground" ? "" : ` --data ${dataDir}`;
      print(
        `mail: "${user}" is a message number; the user comes first: ` +
          `deno task mail${data} brandon ${user}`,
      );
      return 2;
    }
    for (const line of await mailboxSummary(dataDir, user)) print(line);
    return 0;
  }
  const n = Number(number);
  const lines = Number.isInteger(n) && n > 0 ? await showMessage(dataDir, user, n) : null;
  if (!lines) {
    print(`mail: ${number}: Invalid message number`);
    return 1;
  }
  for (const line of lines) print(line);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
