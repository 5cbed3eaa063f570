/**
 * Recorded sessions as `deno task mail --sessions` and `--session ID` print
 * them in a terminal. A transcript reads beside `debug.ts`'s stderr: one line
 * each, its time since the client connected (seconds), `TLS` when it travelled
 * inside TLS, and `C:` for the client's command or `S:` for the server's
 * reply, where debug.ts prints `send:` and `reply:`.
 *
 * ```text
 *  0.104     C: ehlo [127.0.0.1]
 *  0.104     S: 250-mail.example.com
 *  0.175 TLS    (TLS handshake done: what follows is encrypted)
 *  0.207 TLS    (message: 205 bytes, stored as 3766D3F23A.brandon)
 * ```
 *
 * @module
 */

import type { SessionDetail, SessionSummary, TranscriptEntry } from "./model.ts";

/** A date as `2026-12-02 18:47:52` (UTC). */
function when(iso: string): string {
  return iso.replace("T", " ").slice(0, 19);
}

/** One line of `--sessions`: id, start, client, listener, TLS, user, outcome, messages. */
export function sessionLine(session: SessionSummary): string {
  const n = session.messages.length;
  return [
    session.id.padStart(5),
    when(session.started),
    session.client.padEnd(21),
    session.listener.padEnd(10),
    session.tls ? "TLS" : "   ",
    (session.user ?? "-").padEnd(10),
    session.outcome.padEnd(11),
    n === 0 ? "" : `${n} message${n === 1 ? "" : "s"}`,
  ].join(" ").trimEnd();
}

/** One transcript entry as a terminal line. */
export function entryLine(entry: TranscriptEntry, insideTls = false): string {
  const time = (entry.t / 1000).toFixed(3).padStart(6);
  if ("event" in entry) {
    if (entry.event === "tls") {
      return `${time} TLS    (TLS handshake done: what follows is encrypted)`;
    }
    const stored = entry.id === null ? "stored nowhere" : `stored as ${entry.id}`;
    return `${time} ${insideTls ? "TLS" : "   "}    (message: ${entry.size} bytes, ${stored})`;
  }
  const cut = entry.length === undefined ? "" : ` [cut: ${entry.length} characters]`;
  const user = entry.user === undefined ? "" : `   (user ${entry.user})`;
  return `${time} ${entry.tls ? "TLS" : "   "} ${entry.dir}: ${entry.line}${cut}${user}`;
}

/** A whole session: a heading, then its transcript, one entry a line. */
export function transcriptLines(session: SessionDetail): string[] {
  const messages = session.messages.length ? `, delivered ${session.messages.join(" ")}` : "";
  const failures = session.failures.length
    ? `, failures injected: ${session.failures.join(" ")}`
    : "";
  let inside = session.listener === "tls";
  const skipped = session.skipped ? [`(${session.skipped} more lines were not kept)`] : [];
  return [
    `Session ${session.id}: ${session.client} on the ${session.listener} listener, ` +
    `${when(session.started)} to ${session.ended ? when(session.ended) : "(still open)"} UTC`,
    `  outcome ${session.outcome}${session.user ? `, logged in as ${session.user}` : ""}` +
    `${messages}${failures}`,
    ...session.transcript.map((entry) => {
      if ("tls" in entry) inside = entry.tls;
      else if (entry.event === "tls") inside = true;
      return entryLine(entry, inside);
    }),
    ...skipped,
  ];
}
