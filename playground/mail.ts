/**
 * Reads the playground's mailboxes the way the book reads `/var/mail/brandon`
 * with the Unix `mail` command: a header summary, one line a message, or one
 * message in full (its headers decoded, its text, or its HTML turned into
 * text, and a list of its attachments). It also shows the exact source of a
 * message, removes mail, and prints the server's side of each session (the
 * record playground/recorder.ts keeps). Messages are parsed with the
 * `mailparser` library, loaded only when a message is shown. Errors go to
 * stderr.
 *
 * ```sh
 * deno task mail                 # brandon's mailbox, one line a message
 * deno task mail brandon 3       # message 3
 * deno task mail --raw 3         # message 3 exactly as the client sent it
 * deno task mail --delete 3      # removes it; --clear empties the mailbox
 * deno task mail --sessions      # the latest sessions, one line each
 * deno task mail --session 17    # one session's transcript, as the server saw it
 * deno task mail --data /tmp/mail brandon
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { mailboxPath, type MboxMessage, readMailbox } from "./mbox.ts";
import { FileMailroom, parse, textOf, wordDecoder } from "./mailroom.ts";
import { readSessions } from "./recorder.ts";
import { sessionLine, transcriptLines } from "./sessions_text.ts";

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
  const parsed = await parse(message.raw, { skipHtmlToText: true });
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

/** The characters a terminal may act on (escape sequences), tab and newline aside. */
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

/** Text from a message or a client made safe for a terminal: control characters shown as `\xNN`. */
export function printable(text: string): string {
  return text.replace(
    CONTROL,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

/** The headers that describe the stored form, not what is shown (the body is shown decoded). */
const STORAGE_HEADERS = new Set(["content-transfer-encoding"]);

/**
 * Message `number` (from 1) in full, as `mail` prints it: its number, the
 * separator line, the headers decoded (RFC 2047), then its text (or its HTML
 * turned into text) and a list of its attachments with their type and size.
 */
export async function showMessage(
  dataDir: string,
  user: string,
  number: number,
): Promise<string[] | null> {
  const messages = await readMailbox(dataDir, user);
  const message = messages[number - 1];
  if (!message) return null;
  const parsed = await parse(message.raw);
  const decode = await wordDecoder();
  const headers = parsed.headerLines
    .filter(({ key }) => !STORAGE_HEADERS.has(key))
    .map(({ line }) => {
      const colon = line.indexOf(":");
      const value = line.slice(colon + 1).replace(/\r?\n[ \t]+/g, " ").trim();
      return `${line.slice(0, colon)}: ${decode(value)}`;
    });
  const body = (await textOf(parsed)).replace(/\n$/, "");
  const attachments = parsed.attachments.map((attachment, i) =>
    `  ${i + 1}. ${attachment.filename || "(no name)"} (${attachment.contentType}, ` +
    `${attachment.size} bytes)`
  );
  return [
    `Message ${number}:`,
    message.separator,
    ...headers,
    "",
    ...body.split("\n"),
    ...(attachments.length
      ? [
        "",
        `${attachments.length} attachment${attachments.length === 1 ? "" : "s"}:`,
        ...attachments,
      ]
      : []),
  ].map((line) => printable(line));
}

const USAGE =
  "usage: deno task mail [--data DIR] [user [N]] | [user] --raw N | [user] --delete N " +
  "| [user] --clear | --sessions [N] | --session ID";

const HELP = [
  USAGE,
  "Lists a playground mailbox (default: brandon), or shows message N of it.",
  "  --raw N       message N exactly as the client sent it",
  "  --delete N    removes message N; --clear removes every message of the user",
  "  --sessions    the latest sessions (20, or N given as the user), one line each",
  "  --session ID  one session as the server saw it: C: and S: lines, their times, TLS",
  "  --data DIR    the playground's data folder (default .playground)",
];

/** Where the command writes: its lines, its errors, and raw bytes (`--raw`). */
export interface MailOutput {
  /** One line of output (stdout). */
  print: (line: string) => void;
  /** One line of an error (stderr). */
  error: (line: string) => void;
  /** Bytes as they are (stdout). */
  write: (bytes: Uint8Array) => void;
}

/** The command line (see {@link USAGE}); resolves to the exit status. */
export async function main(
  args: string[],
  print: (line: string) => void = console.log,
  error: (line: string) => void = console.error,
  write: (bytes: Uint8Array) => void = (bytes) => {
    for (let at = 0; at < bytes.length;) at += Deno.stdout.writeSync(bytes.subarray(at));
  },
): Promise<number> {
  const out: MailOutput = { print, error, write };
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        data: { type: "string", default: ".playground" },
        raw: { type: "string" },
        delete: { type: "string" },
        clear: { type: "boolean" },
        sessions: { type: "boolean" },
        session: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (problem) {
    error(`mail: ${(problem as Error).message}`);
    error(USAGE);
    return 2;
  }
  const { values, positionals } = parsed;
  const actions = [values.raw, values.delete, values.clear, values.sessions, values.session]
    .filter((value) => value !== undefined).length;
  const maxPositionals = actions === 0 ? 2 : 1;
  if (values.help) {
    HELP.forEach((line) => print(line));
    return 0;
  }
  if (positionals.length > maxPositionals || actions > 1) {
    error(USAGE);
    return 2;
  }
  try {
    if (values.session !== undefined) return showSession(values.data, values.session, out);
    if (values.sessions) return listSessions(values.data, positionals[0], out);
    const user = (positionals[0] ?? "brandon").toLowerCase();
    try {
      mailboxPath(values.data, user);
    } catch {
      error(`mail: no such user: ${printable(user)}`);
      return 1;
    }
    if (values.raw !== undefined) return await showRaw(values.data, user, values.raw, out);
    if (values.delete !== undefined) return await remove(values.data, user, values.delete, out);
    if (values.clear) return await clear(values.data, user, out);
    return await show(values.data, user, positionals[1], out);
  } catch (problem) {
    if (!(problem instanceof Deno.errors.NotCapable)) throw problem;
    const write = values.delete !== undefined || values.clear
      ? ` --allow-write=${values.data}`
      : "";
    error(
      `mail: no ${write ? "write" : "read"} access to ${values.data}; run instead: ` +
        `deno run --allow-read${write} playground/mail.ts ${args.join(" ")}`,
    );
    return 1;
  }
}

/** The message a number names in `user`'s mailbox, or an error printed and null. */
async function numbered(
  dataDir: string,
  user: string,
  number: string,
  out: MailOutput,
): Promise<{ message: MboxMessage; id: string; mailroom: FileMailroom } | null> {
  const n = /^\d{1,9}$/.test(number) ? Number(number) : 0;
  const messages = await readMailbox(dataDir, user);
  if (n < 1 || n > messages.length) {
    out.error(`mail: ${printable(number)}: Invalid message number`);
    return null;
  }
  const mailroom = new FileMailroom(dataDir, [user]);
  const ids = await mailroom.mailboxIds(user);
  return { message: messages[n - 1], id: ids[n - 1], mailroom };
}

async function showRaw(dataDir: string, user: string, number: string, out: MailOutput) {
  const found = await numbered(dataDir, user, number, out);
  if (!found) return 1;
  out.write((await found.mailroom.rawMessage(found.id)) ?? found.message.raw);
  return 0;
}

async function remove(dataDir: string, user: string, number: string, out: MailOutput) {
  const found = await numbered(dataDir, user, number, out);
  if (!found) return 1;
  if (!(await found.mailroom.deleteMessage(found.id))) {
    out.error(`mail: ${number}: the message went meanwhile`);
    return 1;
  }
  out.print(`Deleted message ${number} (${found.id}) from ${mailboxPath(dataDir, user)}`);
  return 0;
}

async function clear(dataDir: string, user: string, out: MailOutput) {
  const count = await new FileMailroom(dataDir, [user]).clearMailbox(user);
  out.print(`Deleted ${count} message${count === 1 ? "" : "s"} from ${mailboxPath(dataDir, user)}`);
  return 0;
}

function listSessions(dataDir: string, count: string | undefined, out: MailOutput): number {
  const limit = count === undefined ? 20 : /^\d{1,6}$/.test(count) ? Number(count) : NaN;
  if (!(limit > 0)) {
    out.error(`mail: --sessions takes a number of sessions, not ${printable(count ?? "")}`);
    return 2;
  }
  const sessions = readSessions(dataDir, limit);
  if (sessions.length === 0) {
    out.error(`No sessions recorded in ${dataDir}/sessions`);
    return 1;
  }
  for (const session of sessions) out.print(printable(sessionLine(session)));
  return 0;
}

function showSession(dataDir: string, id: string, out: MailOutput): number {
  const session = readSessions(dataDir, 1, id)[0];
  if (!session) {
    out.error(`mail: no such session: ${printable(id)}`);
    return 1;
  }
  for (const line of transcriptLines(session)) out.print(printable(line));
  return 0;
}

/** Prints `user`'s mailbox, or its message `number`; resolves to the exit status. */
async function show(
  dataDir: string,
  user: string,
  number: string | undefined,
  out: MailOutput,
): Promise<number> {
  if (number === undefined) {
    // `mail 3` means message 3 of brandon's, unless there is a user "3".
    if (/^\d+$/.test(user) && (await readMailbox(dataDir, user)).length === 0) {
      const data = dataDir === ".playground" ? "" : ` --data ${dataDir}`;
      out.error(
        `mail: "${user}" is a message number; the user comes first: ` +
          `deno task mail${data} brandon ${user}`,
      );
      return 2;
    }
    const lines = await mailboxSummary(dataDir, user);
    if (lines.length === 1 && lines[0].startsWith("No mail for ")) {
      out.error(lines[0]); // as mail does: a line on stderr, exit 1
      return 1;
    }
    for (const line of lines) out.print(printable(line));
    return 0;
  }
  const n = /^\d{1,9}$/.test(number) ? Number(number) : 0;
  const lines = n > 0 ? await showMessage(dataDir, user, n) : null;
  if (!lines) {
    out.error(`mail: ${printable(number)}: Invalid message number`);
    return 1;
  }
  for (const line of lines) out.print(line);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
