/**
 * The listings' `--message FILE` (or `-` for stdin): the file is sent as it
 * is instead of the book's template, streamed, never read whole, its size
 * declared (`SIZE=n`, when the server offers SIZE) from the file's size when
 * that is known.
 *
 * Everything is checked before anything is dialled: a missing file, one Deno
 * may not read (no `--allow-read`), one the system will not open, a
 * directory, or an empty file is a usage error that names the path (exit
 * status 2). Without `--message` the listing's template goes as before.
 *
 * @example
 * ```ts
 * const message = await messageFor(command, "usage", template, io);
 * if (typeof message === "number") return message; // the usage error's status
 * const connection = await openConnection(command, io);
 * await connection.sendmail(from, to, message.body, await mailOptionsFor(connection, message));
 * ```
 * @module
 */

import { type CommandLine, printUsageError, type ScriptIO } from "./cli.ts";
import type { Message, SMTP } from "./smtp.ts";

/** The message a listing sends: its template, or the `--message` file as a stream. */
export interface Outgoing {
  /** What goes to `sendmail`. */
  body: Message;
  /** The byte size to declare: the file's, when known; null for the template or a pipe. */
  size: number | null;
}

/**
 * The listing's message: `template`, or with `--message` the file (or
 * stdin) opened as a stream. The exit status 2 after a usage error.
 */
export async function messageFor(
  command: CommandLine,
  word: "usage" | "Syntax",
  template: string,
  io: ScriptIO = {},
): Promise<Outgoing | number> {
  const path = command.messageFile;
  if (path === undefined) return { body: template, size: null };
  const refuse = (why: string) => printUsageError(command.prog, word, io, [why]);
  if (path === "-" && command.prog === "login.ts") {
    return refuse("--message -: login.ts reads the user name and password from stdin; give a file");
  }
  if (path === "-") {
    const body = await nonEmpty(Deno.stdin.readable);
    if (body === null) return refuse("--message -: stdin is empty: there is no message to send");
    return { body, size: null };
  }
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    return refuse(whyNot(path, error, command.prog));
  }
  if (info.isDirectory) return refuse(`--message ${quote(path)} is a directory, not a file`);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (error) {
    return refuse(whyNot(path, error, command.prog));
  }
  if (info.isFile) {
    if (info.size === 0) {
      file.close();
      return refuse(`--message ${quote(path)} is empty: there is no message to send`);
    }
    return { body: file.readable, size: info.size };
  }
  // A FIFO or a device: no size to trust; it is empty if its first read is.
  const body = await nonEmpty(file.readable);
  if (body === null) {
    return refuse(`--message ${quote(path)} is empty: there is no message to send`);
  }
  return { body, size: null };
}

/**
 * The MAIL options for `message`: `SIZE=n` for a file of known size when
 * the server offers SIZE (after EHLO, said now if it was not yet), else none.
 */
export async function mailOptionsFor(connection: SMTP, message: Outgoing): Promise<string[]> {
  if (message.size === null) return [];
  await connection.ehloOrHeloIfNeeded();
  return connection.hasExtn("size") ? [`SIZE=${message.size}`] : [];
}

/** The message's size in bytes when it is known before sending (for ehlo.ts's check). */
export function knownSize(message: Outgoing): number | null {
  if (typeof message.body === "string") return new TextEncoder().encode(message.body).length;
  return message.size;
}

/** `stream` with its first chunk read ahead, or null (cancelled) when it has none. */
async function nonEmpty(
  stream: ReadableStream<Uint8Array>,
): Promise<ReadableStream<Uint8Array> | null> {
  const reader = stream.getReader();
  let first = await reader.read();
  while (!first.done && first.value.length === 0) first = await reader.read();
  if (first.done) {
    reader.releaseLock();
    return null;
  }
  let pending: Uint8Array | null = first.value;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (pending !== null) {
        controller.enqueue(pending);
        pending = null;
        return;
      }
      const next = await reader.read();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/** Why `path` cannot be sent, for the usage error. */
function whyNot(path: string, error: unknown, prog: string): string {
  if (error instanceof Deno.errors.NotFound) return `--message ${quote(path)}: no such file`;
  if (error instanceof Deno.errors.NotCapable) {
    return `--message ${quote(path)}: Deno may not read it; give it read permission before ` +
      `the script name: deno run -N --allow-read=${path} ${prog} ... (or -R=${path})`;
  }
  const message = error instanceof Error ? error.message : String(error);
  return `--message ${quote(path)} cannot be read: ${message}`;
}

function quote(path: string): string {
  return `'${path}'`;
}
