/**
 * The playground's mail as the web API and `deno task mail` see it: the
 * {@link Mailroom} of playground/model.ts over the mbox files of the data
 * folder.
 *
 * Beside the mailboxes it keeps:
 * - `raw/QUEUEID.eml`: each message exactly as the client sent it (after
 *   dot-unstuffing, before the trace headers and the mbox's `>From ` quoting),
 *   written by the server before the message is delivered;
 * - `read.json`: the ids of the messages somebody has opened.
 *
 * Messages are parsed with `mailparser`, loaded on first use, and their
 * summaries are cached (a stored message never changes). Sessions come from
 * a {@link SessionSource} (the recorder), when there is one.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { join } from "node:path";
import type {
  AttachmentSummary,
  Mailroom,
  MessageDetail,
  MessagePage,
  MessageSummary,
  PlaygroundEvent,
  SessionDetail,
  SessionSummary,
} from "./model.ts";
import { type MboxMessage, readMailbox, rewriteMailbox } from "./mbox.ts";

/** A message id: the queue id, a dot, the mailbox (`3F2A9C01BE.brandon`). */
export const MESSAGE_ID = /^([0-9A-F]{10})\.([a-z0-9][a-z0-9._-]*)$/;

/** Where the sessions come from: the recorder, or nothing. */
export interface SessionSource {
  /** The newest sessions first. */
  listSessions(query: { offset?: number; limit?: number }): SessionSummary[];
  /** One session with its transcript, or null. */
  getSession(id: string): SessionDetail | null;
  /** The id of the session that delivered queue id `queueId`, or null. */
  sessionOf(queueId: string): string | null;
  /** Calls `listener` on every new or changed session; returns the unsubscribe. */
  subscribe(listener: (session: SessionSummary) => void): () => void;
}

/** The queue id in a message's first `Received:` header (this server's), or null. */
export function queueIdOf(text: string): string | null {
  const headerEnd = text.search(/\r?\n\r?\n/);
  const headers = headerEnd < 0 ? text : text.slice(0, headerEnd);
  const received = /^Received:(?:[^\n]*\n[ \t])*[^\n]*/im.exec(headers)?.[0] ?? "";
  return /\bid ([0-9A-F]{10})\b/.exec(received)?.[1] ?? null;
}

/** The path of a message's raw copy in `dataDir`. */
export function rawPath(dataDir: string, queueId: string): string {
  if (!/^[0-9A-F]{10}$/.test(queueId)) throw new Error(`not a queue id: ${queueId}`);
  return join(dataDir, "raw", `${queueId}.eml`);
}

/** Keeps the message as the client sent it, for `GET /api/messages/ID/raw`. */
export async function saveRaw(dataDir: string, queueId: string, message: Uint8Array) {
  await Deno.mkdir(join(dataDir, "raw"), { recursive: true, mode: 0o700 });
  try {
    await Deno.writeFile(rawPath(dataDir, queueId), message, { mode: 0o600 });
  } catch (error) {
    await removeRaw(dataDir, queueId); // a full disk: no part of a copy stays
    throw error;
  }
}

/** Removes a raw copy that no mailbox refers to (a delivery that failed). */
export async function removeRaw(dataDir: string, queueId: string): Promise<void> {
  await Deno.remove(rawPath(dataDir, queueId)).catch(() => {});
}

/** An `asctime()` date in UTC (`Wed Oct 22 20:34:05 2014`) as a Date; the epoch if unreadable. */
export function parseAsctime(text: string): Date {
  const months = "JanFebMarAprMayJunJulAugSepOctNovDec";
  const match = /^\w{3} (\w{3}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4})$/.exec(text.trim());
  if (!match) return new Date(0);
  const [, month, day, h, m, s, year] = match;
  return new Date(
    Date.UTC(Number(year), months.indexOf(month) / 3, Number(day), Number(h), Number(m), Number(s)),
  );
}

type Parsed = import("mailparser").ParsedMail;

/** One stored message, located. */
interface Located {
  id: string;
  queueId: string;
  user: string;
  /** Its place in the mailbox, from 0. */
  index: number;
  message: MboxMessage;
  date: Date;
}

/** A {@link Mailroom} over the mailboxes of one data folder. */
export class FileMailroom implements Mailroom {
  readonly #dataDir: string;
  readonly #users: string[];
  #sessions: SessionSource | null = null;
  #read: Set<string> | null = null;
  #readWrite: Promise<void> = Promise.resolve();
  readonly #summaries = new Map<string, Omit<MessageSummary, "session" | "unread">>();
  readonly #listeners = new Set<(event: PlaygroundEvent) => void>();
  #unsubscribeSessions: (() => void) | null = null;

  /** The mail of `users` in `dataDir`. */
  constructor(dataDir: string, users: string[]) {
    this.#dataDir = dataDir;
    this.#users = [...users].sort();
  }

  /** Takes the sessions (and their events) from `source`. */
  setSessions(source: SessionSource): void {
    this.#unsubscribeSessions?.();
    this.#sessions = source;
    this.#unsubscribeSessions = source.subscribe((session) =>
      this.#emit({ type: "session", session })
    );
  }

  /** The users who may get mail, in name order. */
  users(): string[] {
    return [...this.#users];
  }

  /** The ids of `user`'s messages in mailbox order (message 1 first), as `mail` numbers them. */
  async mailboxIds(user: string): Promise<string[]> {
    return (await this.#locateUser(user)).map((located) => located.id);
  }

  /** A page of messages, newest first, of one user or all. */
  async listMessages(
    query: { user?: string; offset?: number; limit?: number },
  ): Promise<MessagePage> {
    const all = await this.#locateAll(query.user);
    const offset = query.offset ?? 0;
    const page = all.slice(offset, offset + (query.limit ?? all.length));
    return {
      total: all.length,
      messages: await Promise.all(page.map((located) => this.#summary(located))),
    };
  }

  /** One message in full, marking it read; null if there is no such message. */
  async getMessage(id: string): Promise<MessageDetail | null> {
    const located = await this.#locate(id);
    if (!located) return null;
    const parsed = await parse(located.message.raw);
    const summary = await this.#summary(located, parsed);
    await this.#markRead(id);
    const decode = await wordDecoder();
    return {
      ...summary,
      unread: false,
      headers: parsed.headerLines.map(({ line }) => {
        const colon = line.indexOf(":");
        const name = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/\r?\n(?=[ \t])/g, "").trim();
        return [name, decode(value)] as [string, string];
      }),
      text: (await textOf(parsed)).replace(/\n$/, ""),
      html: typeof parsed.html === "string" ? parsed.html : null,
      attachments: parsed.attachments.map((attachment): AttachmentSummary => ({
        filename: attachment.filename ?? "",
        contentType: attachment.contentType,
        size: attachment.size,
      })),
    };
  }

  /** The message exactly as the client sent it (after dot-unstuffing); null if unknown. */
  async rawMessage(id: string): Promise<Uint8Array | null> {
    const located = await this.#locate(id);
    if (!located) return null;
    return await this.#raw(located);
  }

  /** Attachment `index` of a message, with its type and name; null if unknown. */
  async attachment(
    id: string,
    index: number,
  ): Promise<{ filename: string; contentType: string; content: Uint8Array } | null> {
    if (!Number.isSafeInteger(index) || index < 0) return null;
    const located = await this.#locate(id);
    if (!located) return null;
    const attachment = (await parse(located.message.raw)).attachments[index];
    if (!attachment) return null;
    return {
      filename: attachment.filename ?? "",
      contentType: attachment.contentType,
      content: new Uint8Array(attachment.content),
    };
  }

  /** Removes one message; false if there was none. */
  async deleteMessage(id: string): Promise<boolean> {
    const match = MESSAGE_ID.exec(id);
    if (!match || !this.#users.includes(match[2])) return false;
    const all = await this.#locateUser(match[2]);
    const target = all.find((located) => located.id === id);
    if (!target) return false;
    const dropped = await rewriteMailbox(
      this.#dataDir,
      match[2],
      async (message) => (await messageId(match[2], message)) !== id,
    );
    await this.#forget([target.queueId], [id]);
    return dropped.length > 0;
  }

  /** Empties one user's mailbox; resolves to how many messages went. */
  async clearMailbox(user: string): Promise<number> {
    if (!this.#users.includes(user)) return 0;
    const all = await this.#locateUser(user);
    const dropped = await rewriteMailbox(this.#dataDir, user, () => false);
    await this.#forget(all.map((located) => located.queueId), all.map((located) => located.id));
    return dropped.length;
  }

  /** The newest sessions first, at most `limit`, skipping `offset`. */
  listSessions(query: { offset?: number; limit?: number }): SessionSummary[] {
    return this.#sessions?.listSessions(query) ?? [];
  }

  /** One session with its transcript, or null. */
  getSession(id: string): SessionDetail | null {
    return this.#sessions?.getSession(id) ?? null;
  }

  /** Calls `listener` on every new message and every new or changed session. */
  subscribe(listener: (event: PlaygroundEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Tells the watchers of the messages queue id `queueId` just put in the
   * mailboxes of `users` (the server calls this after each delivery).
   */
  async delivered(queueId: string, users: string[]): Promise<void> {
    if (this.#listeners.size === 0) return;
    for (const user of new Set(users)) {
      const located = await this.#locate(`${queueId}.${user}`);
      if (located) this.#emit({ type: "message", message: await this.#summary(located) });
    }
  }

  #emit(event: PlaygroundEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch { /* one watcher's failure is not the others' */ }
    }
  }

  /** Every message of `user` (or everyone), newest first. */
  async #locateAll(user?: string): Promise<Located[]> {
    const users = user === undefined ? this.#users : [user];
    const all = (await Promise.all(users.map((u) => this.#locateUser(u)))).flat();
    return all.sort((a, b) =>
      b.date.getTime() - a.date.getTime() || b.index - a.index || (a.user < b.user ? -1 : 1)
    );
  }

  async #locateUser(user: string): Promise<Located[]> {
    if (!this.#users.includes(user)) return [];
    const messages = await readMailbox(this.#dataDir, user);
    const located: Located[] = [];
    for (const [index, message] of messages.entries()) {
      const id = await messageId(user, message);
      const queueId = id.slice(0, 10);
      located.push({
        id,
        queueId,
        user,
        index,
        message,
        date: parseAsctime(message.date),
      });
    }
    return located;
  }

  async #locate(id: string): Promise<Located | null> {
    const match = MESSAGE_ID.exec(id);
    if (!match || !this.#users.includes(match[2])) return null;
    return (await this.#locateUser(match[2])).find((located) => located.id === id) ?? null;
  }

  async #raw(located: Located): Promise<Uint8Array> {
    try {
      return await Deno.readFile(rawPath(this.#dataDir, located.queueId));
    } catch {
      return withoutTrace(located.message.raw); // stored before raw copies were kept
    }
  }

  async #summary(located: Located, parsed?: Parsed): Promise<MessageSummary> {
    let summary = this.#summaries.get(located.id);
    if (!summary) {
      parsed ??= await parse(located.message.raw);
      const decode = await wordDecoder();
      const fromLine = parsed.headerLines.find(({ key }) => key === "from")?.line;
      const to = [parsed.to ?? []].flat().flatMap((header) => header.value);
      summary = {
        id: located.id,
        user: located.user,
        from: fromLine
          ? decode(fromLine.slice(fromLine.indexOf(":") + 1).replace(/\r?\n/g, "").trim())
          : located.message.sender,
        to: to.map((address) =>
          address.name ? `${address.name} <${address.address ?? ""}>` : address.address ?? ""
        ),
        subject: parsed.subject ?? "",
        date: located.date.toISOString(),
        size: (await this.#raw(located)).length,
      };
      this.#summaries.set(located.id, summary);
    }
    const read = await this.#readSet();
    return {
      ...summary,
      session: this.#sessions?.sessionOf(located.queueId) ?? null,
      unread: !read.has(located.id),
    };
  }

  async #readSet(): Promise<Set<string>> {
    if (!this.#read) {
      try {
        const ids = JSON.parse(await Deno.readTextFile(join(this.#dataDir, "read.json")));
        this.#read = new Set(Array.isArray(ids) ? ids.filter((id) => typeof id === "string") : []);
      } catch {
        this.#read = new Set();
      }
    }
    return this.#read;
  }

  async #markRead(id: string): Promise<void> {
    const read = await this.#readSet();
    if (read.has(id)) return;
    read.add(id);
    await this.#saveRead();
  }

  /** Writes `read.json` through a temporary file, one write at a time. */
  #saveRead(): Promise<void> {
    const write = this.#readWrite.catch(() => {}).then(async () => {
      const path = join(this.#dataDir, "read.json");
      const temporary = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
      await Deno.writeTextFile(temporary, JSON.stringify([...(this.#read ?? [])]), { mode: 0o600 });
      await Deno.rename(temporary, path);
    });
    this.#readWrite = write;
    return write;
  }

  /** Forgets removed messages: their read marks, summaries, and raw copies no mailbox holds. */
  async #forget(queueIds: string[], ids: string[]): Promise<void> {
    const read = await this.#readSet();
    let changed = false;
    for (const id of ids) {
      this.#summaries.delete(id);
      changed = read.delete(id) || changed;
    }
    if (changed) await this.#saveRead();
    const remaining = new Set((await this.#locateAll()).map((located) => located.queueId));
    for (const queueId of new Set(queueIds)) {
      if (!remaining.has(queueId)) await removeRaw(this.#dataDir, queueId);
    }
  }
}

/** The id of `message` in `user`'s mailbox: its queue id (or one made from its bytes) and user. */
async function messageId(user: string, message: MboxMessage): Promise<string> {
  return `${queueIdOf(message.text) ?? await contentId(message.raw)}.${user}`;
}

/** The message without the `Return-Path:` and `Received:` lines this server put on top. */
function withoutTrace(raw: Uint8Array): Uint8Array {
  const text = new TextDecoder("latin1").decode(raw);
  const trace = /^Return-Path:[^\n]*\nReceived:[^\n]*\n(?:[ \t][^\n]*\n)*/.exec(text);
  return trace ? raw.subarray(trace[0].length) : raw;
}

/** A stable id for a message with no queue id of ours (put in the mailbox by other means). */
async function contentId(raw: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", raw as BufferSource));
  return [...digest.subarray(0, 5)].map((b) => b.toString(16).padStart(2, "0")).join("")
    .toUpperCase();
}

/** Parses a message with mailparser (loaded on first use), HTML turned to text when alone. */
export async function parse(
  raw: Uint8Array,
  options: { skipHtmlToText?: boolean } = {},
): Promise<Parsed> {
  const { simpleParser } = await import("mailparser");
  return await simpleParser(Buffer.from(raw), { keepCidLinks: true, ...options });
}

/**
 * A message's text: its text part, else its HTML turned into text. mailparser
 * does the turning only for an HTML part that is the message's body (or an
 * alternative); for one elsewhere (HTML beside an attachment) the HTML is
 * parsed again as a message of its own, so that the same conversion, with its
 * limits on size and nesting, does it.
 */
export async function textOf(parsed: Parsed): Promise<string> {
  if (parsed.text || typeof parsed.html !== "string") return parsed.text ?? "";
  const html = new TextEncoder().encode(parsed.html);
  const header = new TextEncoder().encode("Content-Type: text/html; charset=utf-8\r\n\r\n");
  const alone = new Uint8Array(header.length + html.length);
  alone.set(header);
  alone.set(html, header.length);
  return (await parse(alone)).text ?? "";
}

/** RFC 2047's decoding of encoded words (`=?utf-8?q?...?=`), loaded on first use. */
export async function wordDecoder(): Promise<(text: string) => string> {
  const libmime = (await import("libmime")).default as { decodeWords(text: string): string };
  return (text) => {
    try {
      return libmime.decodeWords(text);
    } catch {
      return text;
    }
  };
}
