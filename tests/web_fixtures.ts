/**
 * What the web inbox's unit tests render: a message and the session of
 * `debug.ts` that delivered it (as the playground records them), a hostile
 * message, and an in-memory {@link Mailroom} over them for the routes.
 *
 * @module
 */

import type {
  Mailroom,
  MessageDetail,
  MessagePage,
  PlaygroundEvent,
  SessionDetail,
  SessionSummary,
} from "../playground/model.ts";

/** The session of a `debug.ts` send, with STARTTLS and AUTH as a `--starttls` login records it. */
export function debugSession(id = "7", messageId = "3F2A9C01BE.brandon"): SessionDetail {
  const line = (t: number, dir: "C" | "S", line: string, tls = false) => ({ t, dir, tls, line });
  return {
    id,
    client: "127.0.0.1:50412",
    listener: "book",
    started: "2026-12-02T18:00:00.000Z",
    ended: "2026-12-02T18:00:00.120Z",
    tls: true,
    user: "brandon",
    messages: [messageId],
    outcome: "delivered",
    failures: [],
    transcript: [
      line(1, "S", "220 mail.example.com ESMTP (Chapter 13 playground)"),
      line(3, "C", "EHLO [127.0.0.1]"),
      line(4, "S", "250-mail.example.com"),
      line(4, "S", "250-PIPELINING"),
      line(4, "S", "250 DSN"),
      line(5, "C", "STARTTLS"),
      line(6, "S", "220 2.0.0 Ready to start TLS"),
      { t: 20, event: "tls" },
      line(21, "C", "EHLO [127.0.0.1]", true),
      line(22, "S", "250-mail.example.com", true),
      line(22, "S", "250 AUTH PLAIN LOGIN CRAM-MD5", true),
      line(23, "C", "AUTH LOGIN YnJhbmRvbg==", true),
      line(24, "S", "334 UGFzc3dvcmQ6", true),
      line(25, "C", "********", true),
      line(40, "S", "235 2.7.0 Authentication successful", true),
      line(41, "C", "MAIL FROM:<sender@example.com> SIZE=200", true),
      line(42, "S", "250 2.1.0 Ok", true),
      line(43, "C", "RCPT TO:<brandon@example.com>", true),
      line(44, "S", "250 2.1.5 Ok", true),
      line(45, "C", "DATA", true),
      line(46, "S", "354 End data with <CR><LF>.<CR><LF>", true),
      { t: 50, event: "message", id: messageId, size: 200 },
      line(51, "S", "250 2.0.0 Ok: queued as 3F2A9C01BE", true),
      line(52, "C", "QUIT", true),
      line(53, "S", "221 2.0.0 Bye", true),
    ],
  };
}

/** A plain message as the playground gives it. */
export function plainMessage(
  id = "3F2A9C01BE.brandon",
  session: string | null = "7",
): MessageDetail {
  return {
    id,
    user: id.slice(id.indexOf(".") + 1),
    from: "sender@example.com",
    to: ["brandon@example.com"],
    subject: "Test Message from debug.ts",
    date: "2026-12-02T18:00:00.050Z",
    size: 200,
    session,
    unread: true,
    headers: [
      ["To", "brandon@example.com"],
      ["From", "sender@example.com"],
      ["Subject", "Test Message from debug.ts"],
    ],
    text: "Hello,\n\nThis is a test message sent to you from the debug.ts program\n",
    html: null,
    attachments: [],
  };
}

/** What a hostile message tries in each field; none of it may reach a page as markup. */
export const HOSTILE = {
  subject: `<script>window.pwned = 1</script><img src=x onerror="window.pwned=2">`,
  from: `"<b onmouseover=alert(1)>Mallory</b>" <mallory@example.com>`,
  filename: `"><script>window.pwned=3</script>.pdf`,
  header: `javascript:window.pwned=4`,
  html: `<p>Hi</p><script>parent.pwned = 5</script>` +
    `<img src="http://tracker.invalid/pixel.gif"><form action="http://evil.invalid/"></form>`,
  ehlo: `EHLO <svg onload=alert(1)>`,
};

/** A message with {@link HOSTILE} in every field. */
export function hostileMessage(id = "AAAAAAAAAA.brandon"): MessageDetail {
  return {
    ...plainMessage(id, null),
    from: HOSTILE.from,
    to: [`<img src=x onerror=alert(1)>@example.com`],
    subject: HOSTILE.subject,
    headers: [["X-Link", HOSTILE.header], ["Subject", HOSTILE.subject]],
    text: `</pre><script>window.pwned=6</script>`,
    html: HOSTILE.html,
    attachments: [{ filename: HOSTILE.filename, contentType: "text/html<script>", size: 10 }],
  };
}

/** A Mailroom over messages and sessions in memory, as the routes' tests need one. */
export class MemoryMailroom implements Mailroom {
  messages: MessageDetail[];
  sessions: SessionDetail[];
  readonly userNames: string[];
  readonly #listeners = new Set<(event: PlaygroundEvent) => void>();

  constructor(messages: MessageDetail[], sessions: SessionDetail[], users = ["alice", "brandon"]) {
    this.messages = messages;
    this.sessions = sessions;
    this.userNames = users;
  }

  users(): string[] {
    return this.userNames;
  }

  listMessages(query: { user?: string; offset?: number; limit?: number }): Promise<MessagePage> {
    const all = this.messages.filter((m) => query.user === undefined || m.user === query.user);
    const offset = query.offset ?? 0;
    const messages = all.slice(offset, offset + (query.limit ?? all.length))
      .map(({ headers: _h, text: _t, html: _x, attachments: _a, ...summary }) => summary);
    return Promise.resolve({ total: all.length, messages });
  }

  getMessage(id: string): Promise<MessageDetail | null> {
    const message = this.messages.find((m) => m.id === id) ?? null;
    if (message) message.unread = false;
    return Promise.resolve(message && { ...message });
  }

  rawMessage(id: string): Promise<Uint8Array | null> {
    const message = this.messages.find((m) => m.id === id);
    if (!message) return Promise.resolve(null);
    const head = message.headers.map(([name, value]) => `${name}: ${value}\r\n`).join("");
    return Promise.resolve(new TextEncoder().encode(`${head}\r\n${message.text}`));
  }

  attachment(): Promise<null> {
    return Promise.resolve(null);
  }

  deleteMessage(id: string): Promise<boolean> {
    const before = this.messages.length;
    this.messages = this.messages.filter((m) => m.id !== id);
    return Promise.resolve(this.messages.length < before);
  }

  clearMailbox(user: string): Promise<number> {
    const before = this.messages.length;
    this.messages = this.messages.filter((m) => m.user !== user);
    return Promise.resolve(before - this.messages.length);
  }

  listSessions(query: { offset?: number; limit?: number }): SessionSummary[] {
    const offset = query.offset ?? 0;
    return this.sessions.slice(offset, offset + (query.limit ?? this.sessions.length))
      .map(({ transcript: _t, ...summary }) => summary);
  }

  getSession(id: string): SessionDetail | null {
    return this.sessions.find((s) => s.id === id) ?? null;
  }

  subscribe(listener: (event: PlaygroundEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
