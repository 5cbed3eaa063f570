/**
 * The record of every session the playground serves: the server's half of
 * the conversation, as `debug.ts` shows the client's.
 *
 * Each session is one file, `sessions/ID.jsonl` in the data folder, one JSON
 * object a line, appended (with a plain `write`, no buffering) as each line
 * passes, so a server killed with SIGKILL leaves every session complete up
 * to its last line:
 *
 * - first `{ "session", "client", "listener", "started", "tls" }`;
 * - then the transcript's entries (playground/model.ts's `TranscriptEntry`):
 *   `{ "t", "dir", "tls", "line" }`, `{ "t", "event": "tls" }`,
 *   `{ "t", "event": "message", "id", "size" }`;
 * - `{ "failure": "rcpt:550" }` for each failure injected on purpose;
 * - last, when it ends, `{ "end": date, "why": "timeout" | "tls-failed" | null, "skipped": n }`.
 *
 * What a line may hold is decided here, once, for every listener:
 * - AUTH secrets are masked by lib/mask.ts's rule (the same as debug.ts's
 *   transcript): the AUTH line's initial response and every answer to a 334
 *   show as `********`. The user name the masked text carried is kept
 *   decoded beside it (`user`), for PLAIN, LOGIN, CRAM-MD5, XOAUTH2 and
 *   OAUTHBEARER; no password or token reaches the disk.
 * - A line longer than {@link MAX_LINE} characters is kept cut, with its
 *   full `length`.
 * - A session records at most {@link MAX_ENTRIES} entries and
 *   {@link MAX_BYTES} bytes; past that, lines are counted (`skipped`), not
 *   kept, so a client sending 100 MB of garbage grows the record by 1 MB at most.
 *
 * The newest `keep` sessions are kept (1000 by default, `--keep-sessions`);
 * an older one is removed whole. Session ids count up from 1 and are never
 * reused. A restart reads the sessions back; one that a crash left without
 * its last line ends at its last entry.
 *
 * @module
 */

import { join } from "node:path";
import { MASK, maskAuthLine } from "../lib/mask.ts";
import type {
  ListenerName,
  Outcome,
  SessionDetail,
  SessionSummary,
  TranscriptEntry,
  TranscriptLine,
} from "./model.ts";

/** A line longer than this many characters is kept cut. */
export const MAX_LINE = 1000;
/** The most entries one session records. */
export const MAX_ENTRIES = 10_000;
/** The most bytes one session's file grows to (about). */
export const MAX_BYTES = 1024 * 1024;
/** How many sessions are kept by default. */
export const DEFAULT_KEEP = 1000;

/** Why a session ended, when the transcript alone cannot say. */
export type EndReason = "timeout" | "tls-failed" | null;

/** The summary of a session, worked out from its entries as they come (live or read back). */
export class SessionState {
  tls: boolean;
  user: string | null = null;
  messages: string[] = [];
  failures: string[] = [];
  #authFailed = false;
  #refused = false;
  /** The verb of each command still waiting for its reply, oldest first. */
  #waiting: string[] = [];
  /** The last final reply was a 334: the next line answers a challenge. */
  answering = false;
  /** The AUTH exchange going on: its mechanism, and how many answers were given. */
  #auth: { mechanism: string; answers: number; user: string | null } | null = null;

  /** A state for a session that starts with TLS (`tls`) or not. */
  constructor(tls: boolean) {
    this.tls = tls;
  }

  /** Takes one entry into account. */
  feed(entry: TranscriptEntry): void {
    if ("event" in entry) {
      if (entry.event === "tls") {
        this.tls = true;
        this.user = null; // RFC 3207: nothing from before the handshake counts
        this.#waiting = [];
      } else {
        if (entry.id !== null) this.messages.push(entry.id);
        this.#waiting.unshift("MESSAGE");
      }
      return;
    }
    if (entry.dir === "C") {
      const words = entry.line.trim().split(/\s+/);
      const verb = this.answering ? "AUTH" : words[0].toUpperCase();
      if (this.#waiting.length < 1000) this.#waiting.push(verb);
      if (this.answering && this.#auth) {
        this.#auth.answers++;
      } else if (!this.answering) {
        this.#auth = verb === "AUTH"
          ? {
            mechanism: words[1]?.toUpperCase() ?? "",
            answers: words.length > 2 ? 1 : 0,
            user: null,
          }
          : null;
      }
      if (this.#auth && entry.user) this.#auth.user = entry.user!;
      return;
    }
    if (/^\d{3}-/.test(entry.line)) return; // a reply goes on
    const code = Number(entry.line.slice(0, 3));
    const verb = this.#waiting.shift();
    this.answering = code === 334;
    if (code === 334) return;
    if (verb === "AUTH") {
      if (code === 235) this.user = this.#auth?.user ?? null;
      else if (code >= 400) this.#authFailed = true;
      this.#auth = null;
    } else if (
      code >= 400 && ["MAIL", "RCPT", "DATA", "BDAT", "MESSAGE"].includes(verb ?? "")
    ) {
      this.#refused = true;
    }
  }

  /** The outcome, given whether the session is still open and why it ended. */
  outcome(open: boolean, why: EndReason): Outcome {
    if (open) return "open";
    if (this.messages.length > 0) return "delivered";
    if (why === "tls-failed") return "tls-failed";
    if (why === "timeout") return "timeout";
    if (this.#authFailed) return "auth-failed";
    if (this.#refused) return "refused";
    return "aborted";
  }

  /** Whether an AUTH exchange is going on, and its mechanism and answers so far. */
  get auth(): { mechanism: string; answers: number } | null {
    return this.#auth;
  }
}

/** The user name in an AUTH response (base64), for the mechanism and answer number; else null. */
export function authUser(mechanism: string, answer: number, base64: string): string | null {
  let text: string;
  try {
    text = new TextDecoder().decode(Uint8Array.from(atob(base64.trim()), (c) => c.charCodeAt(0)));
  } catch {
    return null;
  }
  let user: string | undefined;
  switch (mechanism) {
    case "PLAIN":
      user = text.split("\0")[1];
      break;
    case "LOGIN":
      user = answer === 0 ? text : undefined; // the second answer is the password
      break;
    case "CRAM-MD5":
      user = text.slice(0, Math.max(text.lastIndexOf(" "), 0)) || undefined;
      break;
    case "XOAUTH2":
      user = text.startsWith("user=") ? text.slice(5).split("\x01")[0] : undefined;
      break;
    case "OAUTHBEARER":
      user = /^[^,]*,a=([^,]*),/.exec(text)?.[1]?.replaceAll("=2C", ",").replaceAll("=3D", "=");
      break;
  }
  if (!user) return null;
  // deno-lint-ignore no-control-regex
  return user.replace(/[\x00-\x1f\x7f]/g, "?").slice(0, 256);
}

/** Where a session came from, as its record starts. */
export interface SessionStart {
  /** The client's address (`127.0.0.1`, `::1`). */
  address: string;
  /** The client's port. */
  port: number;
  /** The listener it came in on. */
  listener: ListenerName;
  /** Whether it starts inside TLS (the implicit-TLS listener). */
  tls: boolean;
}

/** One session being recorded: every line and event goes through its methods. */
export class SessionRecord {
  readonly id: string;
  readonly #recorder: Recorder;
  readonly #file: Deno.FsFile | null;
  readonly #started: number;
  readonly #summary: Omit<SessionSummary, "outcome" | "tls" | "user" | "messages" | "failures">;
  readonly state: SessionState;
  readonly entries: TranscriptEntry[] = [];
  #bytes = 0;
  #skipped = 0;
  #ended: string | null = null;
  #why: EndReason = null;

  /** Starts the record of session `id` (the {@link Recorder} calls this). */
  constructor(recorder: Recorder, id: string, start: SessionStart, file: Deno.FsFile | null) {
    this.id = id;
    this.#recorder = recorder;
    this.#file = file;
    this.#started = performance.now();
    const client = start.address.includes(":")
      ? `[${start.address}]:${start.port}`
      : `${start.address}:${start.port}`;
    this.#summary = {
      id,
      client,
      listener: start.listener,
      started: new Date().toISOString(),
      ended: null,
    };
    this.state = new SessionState(start.tls);
    this.#write({ session: id, ...this.#summary, ended: undefined, tls: start.tls });
  }

  /** A command line from the client, as received (without CRLF). */
  client(line: string, tls: boolean, answersChallenge = false): void {
    const answering = answersChallenge || this.state.answering;
    const shown = maskAuthLine(line, answering);
    const entry: TranscriptLine = { t: this.#now(), dir: "C", tls, ...cut(shown) };
    if (shown !== line) {
      const words = line.trim().split(/\s+/);
      const mechanism = answering ? this.state.auth?.mechanism : words[1]?.toUpperCase();
      const answer = answering ? this.state.auth?.answers ?? 0 : 0;
      const user = authUser(mechanism ?? "", answer, answering ? line : words[2] ?? "");
      if (user) entry.user = user;
    }
    this.state.answering = answering;
    this.#add(entry);
  }

  /** What the server wrote: one or more reply lines, CRLF-separated. */
  server(payload: string, tls: boolean): void {
    // A reply of many lines (EHLO's) goes to the file in one write.
    this.#batch = [];
    try {
      for (const line of payload.split("\r\n")) {
        if (line !== "") this.#add({ t: this.#now(), dir: "S", tls, ...cut(line) });
      }
    } finally {
      const batch = this.#batch.join("");
      this.#batch = null;
      if (batch) this.#writeText(batch);
    }
  }

  /** The STARTTLS handshake finished. */
  tls(): void {
    this.#add({ t: this.#now(), event: "tls" });
    this.#recorder.changed(this);
  }

  /** The message body ended: `size` bytes after dot-unstuffing, stored as `id` (or not). */
  message(id: string | null, size: number): void {
    this.#add({ t: this.#now(), event: "message", id, size });
    if (id !== null) this.#recorder.linked(id, this.id);
    this.#recorder.changed(this);
  }

  /** A failure injected on purpose (`rcpt:550`), for the session's `failures`. */
  failure(note: string): void {
    this.state.failures.push(note.slice(0, 100));
    this.#write({ failure: note.slice(0, 100) });
    this.#recorder.changed(this);
  }

  /** The session ended (idempotent); `why` when the transcript alone cannot tell. */
  end(why: EndReason = null): void {
    if (this.#ended !== null) return;
    this.#ended = new Date().toISOString();
    this.#why = why;
    this.#write({ end: this.#ended, why, skipped: this.#skipped });
    try {
      this.#file?.close();
    } catch { /* closed already */ }
    this.#recorder.ended(this);
  }

  /** Whether it has ended. */
  get open(): boolean {
    return this.#ended === null;
  }

  /** The session as `GET /api/sessions` lists it. */
  summary(): SessionSummary {
    return summaryOf(this.#summary, this.state, this.#ended, this.#why, this.#skipped);
  }

  /** The session with its transcript. */
  detail(): SessionDetail {
    return { ...this.summary(), transcript: [...this.entries] };
  }

  #now(): number {
    return Math.round(performance.now() - this.#started);
  }

  #add(entry: TranscriptEntry): void {
    const userBefore = this.state.user;
    this.state.feed(entry);
    if (this.entries.length >= MAX_ENTRIES || this.#bytes >= MAX_BYTES) {
      this.#skipped++;
    } else {
      this.entries.push(entry);
      this.#write(entry);
    }
    if (this.state.user !== userBefore) this.#recorder.changed(this);
  }

  /** Lines gathered to be written at once, while a reply is being recorded. */
  #batch: string[] | null = null;

  #write(record: unknown): void {
    if (!this.#file) return;
    const text = JSON.stringify(record) + "\n";
    if (this.#batch) this.#batch.push(text);
    else this.#writeText(text);
  }

  #writeText(text: string): void {
    if (!this.#file) return;
    const bytes = new TextEncoder().encode(text);
    this.#bytes += bytes.length;
    try {
      let written = 0;
      while (written < bytes.length) written += this.#file.writeSync(bytes.subarray(written));
    } catch {
      // A full disk stops the record, never the mail.
    }
  }
}

/** A line, cut to {@link MAX_LINE} characters with its full length noted. */
function cut(line: string): { line: string; length?: number } {
  return line.length > MAX_LINE ? { line: line.slice(0, MAX_LINE), length: line.length } : { line };
}

function summaryOf(
  base: Omit<SessionSummary, "outcome" | "tls" | "user" | "messages" | "failures">,
  state: SessionState,
  ended: string | null,
  why: EndReason,
  skipped: number,
): SessionSummary {
  return {
    ...base,
    ended,
    tls: state.tls,
    user: state.user,
    messages: [...state.messages],
    outcome: state.outcome(ended === null, why),
    failures: [...state.failures],
    ...(skipped > 0 ? { skipped } : {}),
  };
}

/** A session read back from its file. */
interface StoredSession {
  summary: SessionSummary;
  path: string;
}

/** Every session of one data folder: the live ones and those read back. */
export class Recorder {
  readonly #dir: string;
  readonly #keep: number;
  #next = 1;
  /** Ended sessions read back or finished, by id, oldest first. */
  readonly #stored = new Map<string, StoredSession>();
  readonly #live = new Map<string, SessionRecord>();
  readonly #byQueueId = new Map<string, string>();
  readonly #listeners = new Set<(session: SessionSummary) => void>();

  private constructor(dataDir: string, keep: number) {
    this.#dir = join(dataDir, "sessions");
    this.#keep = keep;
  }

  /** The recorder of `dataDir`, with the sessions already there read back; keeps `keep`. */
  static async open(dataDir: string, keep = DEFAULT_KEEP): Promise<Recorder> {
    const recorder = new Recorder(dataDir, keep);
    await Deno.mkdir(recorder.#dir, { recursive: true, mode: 0o700 });
    const ids: number[] = [];
    for await (const entry of Deno.readDir(recorder.#dir)) {
      const match = /^([1-9]\d{0,15})\.jsonl$/.exec(entry.name);
      if (entry.isFile && match) ids.push(Number(match[1]));
    }
    ids.sort((a, b) => a - b);
    recorder.#next = (ids.at(-1) ?? 0) + 1;
    for (const id of ids) {
      const path = join(recorder.#dir, `${id}.jsonl`);
      const stored = readSession(await Deno.readTextFile(path).catch(() => ""));
      if (!stored) continue;
      recorder.#stored.set(String(id), { summary: stored.summary, path });
      for (const message of stored.summary.messages) {
        recorder.#byQueueId.set(message.slice(0, 10), String(id));
      }
    }
    recorder.#prune();
    return recorder;
  }

  /** Starts recording a new session. */
  start(start: SessionStart): SessionRecord {
    const id = String(this.#next++);
    let file: Deno.FsFile | null = null;
    try {
      file = Deno.openSync(join(this.#dir, `${id}.jsonl`), {
        append: true,
        createNew: true,
        mode: 0o600,
      });
    } catch { /* recorded in memory only */ }
    const record = new SessionRecord(this, id, start, file);
    this.#live.set(id, record);
    this.#prune();
    this.changed(record);
    return record;
  }

  /** The newest sessions first. */
  listSessions(query: { offset?: number; limit?: number } = {}): SessionSummary[] {
    const all = [...this.#stored.values()].map((stored) => stored.summary)
      .concat([...this.#live.values()].map((record) => record.summary()))
      .sort((a, b) => Number(b.id) - Number(a.id));
    const offset = query.offset ?? 0;
    return all.slice(offset, offset + (query.limit ?? all.length));
  }

  /** One session with its transcript, or null. */
  getSession(id: string): SessionDetail | null {
    if (!/^[1-9]\d{0,15}$/.test(id)) return null;
    const live = this.#live.get(id);
    if (live) return live.detail();
    const stored = this.#stored.get(id);
    if (!stored) return null;
    try {
      return readSession(Deno.readTextFileSync(stored.path))?.detail ?? null;
    } catch {
      return null; // removed meanwhile
    }
  }

  /** The id of the session that delivered queue id `queueId`, or null. */
  sessionOf(queueId: string): string | null {
    return this.#byQueueId.get(queueId) ?? null;
  }

  /** Calls `listener` with each new or changed session; returns the unsubscribe. */
  subscribe(listener: (session: SessionSummary) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** A record tells of a change (a new session, TLS, a login, a message). */
  changed(record: SessionRecord): void {
    if (this.#listeners.size === 0) return;
    const summary = record.summary();
    for (const listener of this.#listeners) {
      try {
        listener(summary);
      } catch { /* one watcher's failure is not the others' */ }
    }
  }

  /** A record stored message `id`. */
  linked(id: string, session: string): void {
    this.#byQueueId.set(id.slice(0, 10), session);
  }

  /** A record ended: it is kept as stored, its transcript on disk. */
  ended(record: SessionRecord): void {
    this.#live.delete(record.id);
    this.#stored.set(record.id, {
      summary: record.summary(),
      path: join(this.#dir, `${record.id}.jsonl`),
    });
    this.changed(record);
  }

  /** Removes the oldest sessions, whole, past the newest `keep`. */
  #prune(): void {
    let excess = this.#stored.size + this.#live.size - this.#keep;
    for (const [id, stored] of this.#stored) {
      if (excess <= 0) break;
      this.#stored.delete(id);
      for (const message of stored.summary.messages) {
        if (this.#byQueueId.get(message.slice(0, 10)) === id) {
          this.#byQueueId.delete(message.slice(0, 10));
        }
      }
      try {
        Deno.removeSync(stored.path);
      } catch { /* gone already */ }
      excess--;
    }
  }
}

/** A session file read back: its summary and detail; null if it has no header. */
export function readSession(
  text: string,
  maybeOpen = false,
): { summary: SessionSummary; detail: SessionDetail } | null {
  const lines = text.split("\n");
  let header: Record<string, unknown> | null = null;
  const transcript: TranscriptEntry[] = [];
  let ended: string | null = null;
  let why: EndReason = null;
  let skipped = 0;
  let state: SessionState | null = null;
  for (const line of lines) {
    if (line === "") continue;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line);
    } catch {
      continue; // a line torn by a crash (a full disk): the rest still counts
    }
    if (header === null) {
      if (typeof record.session !== "string") return null;
      header = record;
      state = new SessionState(record.tls === true);
      continue;
    }
    if ("end" in record) {
      ended = String(record.end);
      why = record.why === "timeout" || record.why === "tls-failed" ? record.why : null;
      skipped = Number(record.skipped) || 0;
    } else if ("failure" in record) {
      state!.failures.push(String(record.failure));
    } else if ("t" in record) {
      const entry = record as unknown as TranscriptEntry;
      transcript.push(entry);
      state!.feed(entry);
    }
  }
  if (header === null || state === null) return null;
  const started = String(header.started);
  if (ended === null && !maybeOpen) {
    // Cut off by a crash: it ended, at the latest, with its last entry.
    const last = transcript.at(-1)?.t ?? 0;
    ended = new Date(new Date(started).getTime() + last).toISOString();
  }
  const summary = summaryOf(
    {
      id: String(header.session),
      client: String(header.client),
      listener: header.listener as ListenerName,
      started,
      ended: null,
    },
    state,
    ended,
    why,
    skipped,
  );
  return { summary, detail: { ...summary, transcript } };
}

/**
 * The newest `limit` sessions of `dataDir` read back without changing
 * anything (for `deno task mail`), newest first; or only session `id`. A
 * session with no last line is shown as open (the server may be running).
 */
export function readSessions(dataDir: string, limit: number, id?: string): SessionDetail[] {
  const dir = join(dataDir, "sessions");
  let ids: number[];
  if (id !== undefined) {
    ids = /^[1-9]\d{0,15}$/.test(id) ? [Number(id)] : [];
  } else {
    ids = [];
    try {
      for (const entry of Deno.readDirSync(dir)) {
        const match = /^([1-9]\d{0,15})\.jsonl$/.exec(entry.name);
        if (entry.isFile && match) ids.push(Number(match[1]));
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    ids.sort((a, b) => b - a);
  }
  const sessions: SessionDetail[] = [];
  for (const n of ids.slice(0, limit)) {
    let text: string;
    try {
      text = Deno.readTextFileSync(join(dir, `${n}.jsonl`));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    const session = readSession(text, true);
    if (session) sessions.push(session.detail);
  }
  return sessions;
}

export { MASK };
