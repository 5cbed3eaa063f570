/**
 * Mailboxes in the classic Unix mbox format (the "mboxrd" variant), one file
 * per user, as `/var/mail/brandon` is on the book's `mail.example.com`.
 *
 * Each message starts with a `From sender date` separator line; a body line
 * that starts with `From ` (after any number of `>`) gets one more `>` so it
 * cannot be mistaken for a separator, and reading takes one off again; each
 * message ends with an empty line.
 *
 * Concurrent deliveries must never interleave. Two guards do that: within the
 * server, deliveries to one mailbox wait their turn in a queue (so they do not
 * tie up threads waiting for a lock), and every write holds an exclusive lock
 * on the file (`flock`, through `Deno.FsFile.lock`) in case another process
 * uses the same folder. Readers take a shared lock. Each delivery is flushed
 * to disk with fsync before `deliver` resolves, so a message the server has
 * accepted survives the server being killed. A delivery to several mailboxes
 * is all or nothing: on any write or fsync error every file it touched is cut
 * back to its length before, so no mbox ever holds a torn entry and a retry
 * duplicates nothing.
 *
 * @module
 */

import { join } from "node:path";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The user name a mailbox file may have: no paths, no surprises. */
const MAILBOX_NAME = /^[a-z0-9][a-z0-9._-]*$/;

/** The mbox file of `user` in `dataDir`; throws for a name that is not a plain user name. */
export function mailboxPath(dataDir: string, user: string): string {
  if (!MAILBOX_NAME.test(user)) throw new Error(`not a mailbox name: ${JSON.stringify(user)}`);
  return join(dataDir, user);
}

/**
 * The date in a `From ` line, as C's `asctime()` writes it in UTC:
 * `Wed Oct 22 20:34:05 2014`.
 */
export function asctime(date: Date): string {
  const [weekday, month] = [
    ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][date.getUTCDay()],
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][
      date.getUTCMonth()
    ],
  ];
  const day = String(date.getUTCDate()).padStart(2, " ");
  const time = date.toISOString().slice(11, 19);
  return `${weekday} ${month} ${day} ${time} ${date.getUTCFullYear()}`;
}

/**
 * Turns a message (CRLF or LF line endings; text, or bytes in any charset)
 * into the bytes of its mbox entry: the separator line, the message with LF
 * endings and `From ` lines quoted, and the empty line that ends it. An empty
 * sender is written `MAILER-DAEMON`. Bytes that are not UTF-8 are kept as they are.
 */
export function formatEntry(sender: string, date: Date, message: string | Uint8Array): Uint8Array {
  let text = toBinary(typeof message === "string" ? encoder.encode(message) : message);
  text = text.replace(/\r\n/g, "\n");
  if (!text.endsWith("\n")) text += "\n";
  const quoted = text.replace(/^(>*From )/gm, ">$1");
  const envelopeSender = sender === "" ? "MAILER-DAEMON" : sender.replace(/\s/g, "");
  return fromBinary(
    toBinary(encoder.encode(`From ${envelopeSender} ${asctime(date)}\n`)) + quoted + "\n",
  );
}

/**
 * Bytes as a string of one character per byte (U+0000 to U+00FF), so that
 * regular expressions can work on mail in any charset without changing a byte.
 */
function toBinary(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return binary;
}

/** The inverse of {@link toBinary}. */
function fromBinary(binary: string): Uint8Array {
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** One message read back from a mailbox. */
export interface MboxMessage {
  /** The separator line, without its newline (`From sender date`). */
  separator: string;
  /** The envelope sender from the separator line. */
  sender: string;
  /** The date from the separator line, as written (`Wed Oct 22 20:34:05 2014`). */
  date: string;
  /** The message's bytes, `From ` quoting undone, LF line endings. */
  raw: Uint8Array;
  /** The message decoded as UTF-8 (for display; parse `raw` for other charsets). */
  text: string;
  /** The message's size in the file in lines, separator and final empty line included. */
  lines: number;
  /** The message's size in the file in bytes, likewise. */
  bytes: number;
}

/** Splits the bytes of an mbox file into its messages. */
export function parseMbox(mbox: Uint8Array): MboxMessage[] {
  const all = toBinary(mbox);
  const messages: MboxMessage[] = [];
  // In mboxrd every line starting "From " is a separator: body lines were quoted.
  const starts = [...all.matchAll(/^From .*$/gm)].map((m) => m.index!);
  for (let i = 0; i < starts.length; i++) {
    const entry = all.slice(starts[i], i + 1 < starts.length ? starts[i + 1] : all.length);
    const newline = entry.indexOf("\n");
    const separator = decoder.decode(fromBinary(newline < 0 ? entry : entry.slice(0, newline)));
    let body = newline < 0 ? "" : entry.slice(newline + 1);
    if (body.endsWith("\n\n")) body = body.slice(0, -1); // the empty line that ends an entry
    const [, sender = "", date = ""] = /^From (\S*) ?(.*)$/.exec(separator) ?? [];
    const raw = fromBinary(body.replace(/^>(>*From )/gm, "$1"));
    messages.push({
      separator,
      sender,
      date,
      raw,
      text: decoder.decode(raw),
      lines: entry.replace(/\n$/, "").split("\n").length,
      bytes: entry.length,
    });
  }
  return messages;
}

/** Reads and parses the mailbox of `user`, under a shared lock; empty if there is none. */
export async function readMailbox(dataDir: string, user: string): Promise<MboxMessage[]> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(mailboxPath(dataDir, user), { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  try {
    await file.lock(false);
    const chunks: Uint8Array[] = [];
    for await (const chunk of file.readable) chunks.push(chunk);
    return parseMbox(concat(chunks));
  } finally {
    try {
      file.close();
    } catch { /* the readable stream closed it */ }
  }
}

/** Joins byte chunks into one array. */
export function concat(chunks: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return all;
}

/** The tail of each mailbox's delivery queue, by file path. */
const queues = new Map<string, Promise<unknown>>();

/** One message for one user's mailbox. */
export interface Delivery {
  /** The mailbox's user name. */
  user: string;
  /** The envelope sender, for the `From ` line ("" for none). */
  sender: string;
  /** The message, CRLF or LF line endings. */
  message: string | Uint8Array;
}

/**
 * Appends each delivery to its user's mailbox, all or nothing, and flushes
 * every file to disk before resolving.
 *
 * Deliveries to the same mailbox run one at a time, each under an exclusive
 * file lock (taken in file-name order, so two deliveries never wait for each
 * other). If any write or fsync fails, every mailbox this call wrote to is
 * cut back to its length before the call and flushed, so each file is
 * exactly as it was; then the error is thrown.
 */
export function deliver(dataDir: string, deliveries: Delivery[], date = new Date()): Promise<void> {
  const entries = new Map<string, Uint8Array[]>();
  for (const { user, sender, message } of deliveries) {
    const path = mailboxPath(dataDir, user);
    entries.set(path, [...(entries.get(path) ?? []), formatEntry(sender, date, message)]);
  }
  const paths = [...entries.keys()].sort();
  const previous = Promise.all(
    paths.map((path) => (queues.get(path) ?? Promise.resolve()).catch(() => {})),
  );
  const delivery = previous.then(() =>
    writeAll(paths.map((path) => ({ path, entry: concat(entries.get(path)!) })))
  );
  for (const path of paths) queues.set(path, delivery);
  // Forget a queue once it drains, so the map does not grow for ever.
  delivery.finally(() => {
    for (const path of paths) if (queues.get(path) === delivery) queues.delete(path);
  }).catch(() => {});
  return delivery;
}

/** Appends one message to `user`'s mailbox: {@link deliver} with one delivery. */
export function appendMessage(
  dataDir: string,
  user: string,
  sender: string,
  message: string | Uint8Array,
  date = new Date(),
): Promise<void> {
  return deliver(dataDir, [{ user, sender, message }], date);
}

/** Writes each entry under its file's lock; on any error, cuts every file back. */
async function writeAll(writes: { path: string; entry: Uint8Array }[]): Promise<void> {
  const opened: { file: Deno.FsFile; path: string; length: number; isNew: boolean }[] = [];
  try {
    for (const { path, entry } of writes) {
      const isNew = !(await exists(path));
      const file = await Deno.open(path, { append: true, create: true, mode: 0o600 });
      try {
        await file.lock(true);
        if (await replaced(file, path)) { // another process rewrote it meanwhile: open it again
          file.close();
          writes.push({ path, entry });
          continue;
        }
        opened.push({ file, path, length: (await file.stat()).size, isNew });
      } catch (error) {
        file.close();
        throw error;
      }
      let written = 0;
      while (written < entry.length) written += await file.write(entry.subarray(written));
      await file.sync();
    }
  } catch (error) {
    for (const { file, length } of opened) {
      try {
        await file.truncate(length);
        await file.sync();
      } catch { /* nothing more can be done; the error below is what the caller sees */ }
    }
    throw error;
  } finally {
    for (const { file } of opened) file.close(); // closing releases the lock
  }
  // A new file is only durable once its directory entry is on disk too.
  for (const { path, isNew } of opened) {
    if (isNew) await syncDirectory(path.slice(0, Math.max(path.lastIndexOf("/"), 0)) || ".");
  }
}

/** Whether `path` no longer names the file `file` has open (a rewrite renamed a new one in). */
async function replaced(file: Deno.FsFile, path: string): Promise<boolean> {
  const [open, named] = await Promise.all([file.stat(), Deno.stat(path).catch(() => null)]);
  return named === null || open.ino !== named.ino || open.dev !== named.dev;
}

/**
 * Rewrites `user`'s mailbox keeping only the messages `keep` says yes to;
 * resolves to the messages dropped. It waits its turn behind deliveries to
 * the same mailbox and holds the file's exclusive lock throughout; the new
 * mailbox is written to a temporary file beside it, flushed, and renamed over
 * the old one, so a crash leaves the old mailbox or the new one, never a torn
 * one. A writer in another process that was waiting for the lock notices the
 * rename and opens the new file (see {@link deliver}).
 */
export function rewriteMailbox(
  dataDir: string,
  user: string,
  keep: (message: MboxMessage, index: number) => boolean | Promise<boolean>,
): Promise<MboxMessage[]> {
  const path = mailboxPath(dataDir, user);
  const rewrite = (queues.get(path) ?? Promise.resolve()).catch(() => {}).then(async () => {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true, write: true });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return [];
      throw error;
    }
    try {
      await file.lock(true);
      const chunks: Uint8Array[] = [];
      const buffer = new Uint8Array(65536);
      for (let n; (n = await file.read(buffer)) !== null;) chunks.push(buffer.slice(0, n));
      const all = concat(chunks);
      const messages = parseMbox(all);
      const verdicts = await Promise.all(messages.map(keep));
      const dropped = messages.filter((_, i) => !verdicts[i]);
      if (dropped.length === 0) return [];
      const kept = concat(entries(all).filter((_, i) => verdicts[i]));
      const temporary = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
      try {
        await Deno.writeFile(temporary, kept, { mode: 0o600 });
        const written = await Deno.open(temporary, { read: true });
        try {
          await written.sync();
        } finally {
          written.close();
        }
        await Deno.rename(temporary, path);
      } catch (error) {
        await Deno.remove(temporary).catch(() => {});
        throw error;
      }
      await syncDirectory(path.slice(0, Math.max(path.lastIndexOf("/"), 0)) || ".");
      return dropped;
    } finally {
      file.close();
    }
  });
  queues.set(path, rewrite);
  rewrite.finally(() => {
    if (queues.get(path) === rewrite) queues.delete(path);
  }).catch(() => {});
  return rewrite;
}

/** The bytes of each entry of an mbox file, as stored (separator to the next one). */
function entries(mbox: Uint8Array): Uint8Array[] {
  const all = toBinary(mbox);
  const starts = [...all.matchAll(/^From .*$/gm)].map((m) => m.index!);
  return starts.map((start, i) => mbox.subarray(start, starts[i + 1] ?? mbox.length));
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** fsyncs a directory, where the system allows it (Linux and macOS do). */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await Deno.open(dir, { read: true });
    try {
      await handle.sync();
    } finally {
      handle.close();
    }
  } catch {
    // Windows cannot open a directory as a file; its file sync covers enough.
  }
}
