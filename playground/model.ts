/**
 * What the playground knows of its mail and its sessions, in the shapes the
 * JSON API (`/api/...`) returns them and the web pages render them. One
 * description for both: the routes serialise these objects, the pages
 * escape and show them.
 *
 * Ids:
 * - a session's id is the text of a positive integer, counted up from 1 in the
 *   data folder and never reused (`"17"`);
 * - a message's id is the queue id of its delivery (the `id` in its
 *   `Received:` header, ten upper-case hex digits), a dot, and the mailbox
 *   it sits in: `"3F2A9C01BE.brandon"`. One delivery to two users is two
 *   messages with the same queue id.
 *
 * @module
 */

/** Which listener a session came in on. */
export type ListenerName = "book" | "tls" | "submission";

/**
 * How a session ended, in one word, judged in this order when it ends:
 * - `open`: the session is still going on;
 * - `delivered`: at least one message was accepted;
 * - `tls-failed`: a TLS handshake failed;
 * - `timeout`: the server gave up on a silent client;
 * - `auth-failed`: an AUTH failed (and nothing was delivered);
 * - `refused`: a sender, recipient or message was refused (or failed on purpose);
 * - `aborted`: anything else that delivered nothing: the client left
 *   (mid-DATA, or at once), was cut off (421, garbage), or said QUIT having
 *   sent nothing.
 */
export type Outcome =
  | "delivered"
  | "refused"
  | "auth-failed"
  | "aborted"
  | "timeout"
  | "tls-failed"
  | "open";

/** One line of a transcript: a command (`C`) or a reply line (`S`). */
export interface TranscriptLine {
  /** Milliseconds since the client connected. */
  t: number;
  /** `C` from the client, `S` from the server. */
  dir: "C" | "S";
  /** Whether the line travelled inside TLS. */
  tls: boolean;
  /** The line without its CRLF; AUTH secrets are `********`; cut at 1,000 characters. */
  line: string;
  /** The line's full length in characters, present only when `line` was cut. */
  length?: number;
  /** The user name a masked AUTH line carried, decoded; present only on such a line. */
  user?: string;
}

/** The STARTTLS handshake finished (lines after it have `tls: true`). */
export interface TranscriptTls {
  /** Milliseconds since the client connected. */
  t: number;
  /** The kind of event. */
  event: "tls";
}

/** The message body, recorded as one entry in place of its lines. */
export interface TranscriptMessage {
  /** Milliseconds since the client connected. */
  t: number;
  /** The kind of event. */
  event: "message";
  /** The id of the stored message (the first recipient's copy), or null if none was stored. */
  id: string | null;
  /** The body's size in bytes, as received (after dot-unstuffing). */
  size: number;
}

/** One entry of a session's transcript. */
export type TranscriptEntry = TranscriptLine | TranscriptTls | TranscriptMessage;

/** A session as `GET /api/sessions` lists it. */
export interface SessionSummary {
  /** The session's id. */
  id: string;
  /** The client's address and port: `127.0.0.1:50412` or `[::1]:50412`. */
  client: string;
  /** Which listener the client came in on. */
  listener: ListenerName;
  /** When the client connected, as an ISO 8601 date. */
  started: string;
  /** When the session ended, as an ISO 8601 date; null while it is open. */
  ended: string | null;
  /** Whether the session was (or became) TLS. */
  tls: boolean;
  /** The user name after a successful AUTH, else null. */
  user: string | null;
  /** The ids of the messages this session delivered, in order. */
  messages: string[];
  /** How the session ended. */
  outcome: Outcome;
  /** The failures injected into this session (`rcpt:550`), empty when none. */
  failures: string[];
  /** How many lines past the session's cap were counted and not kept; absent when none. */
  skipped?: number;
}

/** A session with its transcript, as `GET /api/sessions/ID` gives it. */
export interface SessionDetail extends SessionSummary {
  /** Every line and event, in order. */
  transcript: TranscriptEntry[];
}

/** A message as `GET /api/messages` lists it. */
export interface MessageSummary {
  /** The message's id (`3F2A9C01BE.brandon`). */
  id: string;
  /** The mailbox it is in. */
  user: string;
  /** The decoded `From:` header as written (`Brandon <brandon@example.com>`), else the envelope sender. */
  from: string;
  /** The decoded `To:` addresses as written, one entry each. */
  to: string[];
  /** The decoded `Subject:`, or "". */
  subject: string;
  /** When it was delivered, as an ISO 8601 date. */
  date: string;
  /** Its size in bytes, as the client sent it. */
  size: number;
  /** The id of the session that delivered it, or null when that is not known. */
  session: string | null;
  /** Whether nobody has opened it yet (through `GET /api/messages/ID` or its page). */
  unread: boolean;
}

/** One attachment of a message. */
export interface AttachmentSummary {
  /** Its file name, or "" when it has none. */
  filename: string;
  /** Its MIME type (`application/pdf`). */
  contentType: string;
  /** Its size in bytes, decoded. */
  size: number;
}

/** A message in full, as `GET /api/messages/ID` gives it. */
export interface MessageDetail extends MessageSummary {
  /** Every header, in order, with its value decoded (RFC 2047). */
  headers: [string, string][];
  /** The text part, or the HTML part turned into text, or "". */
  text: string;
  /** The HTML part as sent, or null. Hostile: show it only sandboxed. */
  html: string | null;
  /** The attachments, numbered from 0 in this order (`/attachments/N`). */
  attachments: AttachmentSummary[];
}

/** A page of messages, newest first. */
export interface MessagePage {
  /** How many messages match, over all pages. */
  total: number;
  /** This page's messages. */
  messages: MessageSummary[];
}

/** Something the playground tells its watchers (`GET /api/events`). */
export type PlaygroundEvent =
  | { type: "message"; message: MessageSummary }
  | { type: "session"; session: SessionSummary };

/**
 * The playground's mail and sessions, as the web routes and pages read and
 * change them. Every method takes ids as the client gave them and answers
 * null (or false) for an unknown or malformed one; none ever touches a file
 * outside the data folder.
 */
export interface Mailroom {
  /** The users who may get mail, in name order. */
  users(): string[];
  /** A page of messages, newest first, of one user or all. */
  listMessages(query: { user?: string; offset?: number; limit?: number }): Promise<MessagePage>;
  /** One message in full, marking it read; null if there is no such message. */
  getMessage(id: string): Promise<MessageDetail | null>;
  /** The message exactly as the client sent it (after dot-unstuffing); null if unknown. */
  rawMessage(id: string): Promise<Uint8Array | null>;
  /** Attachment `index` of a message, with its type and name; null if unknown. */
  attachment(
    id: string,
    index: number,
  ): Promise<{ filename: string; contentType: string; content: Uint8Array } | null>;
  /** Removes one message; false if there was none. */
  deleteMessage(id: string): Promise<boolean>;
  /** Empties one user's mailbox; resolves to how many messages went. */
  clearMailbox(user: string): Promise<number>;
  /** The newest sessions first, at most `limit`, skipping `offset`. */
  listSessions(query: { offset?: number; limit?: number }): SessionSummary[];
  /** One session with its transcript, or null. */
  getSession(id: string): SessionDetail | null;
  /** Calls `listener` on every new message and every new or changed session; returns the unsubscribe. */
  subscribe(listener: (event: PlaygroundEvent) => void): () => void;
}
