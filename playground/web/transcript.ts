/**
 * A session's conversation as HTML, the way a reader puts it beside the
 * book: each line marked `C:` or `S:` (and coloured), its time since the
 * client connected, a TLS mark from STARTTLS on, each command annotated with
 * the call that says it, each reply with what its code means, and the
 * message body folded into one line that links to its raw source.
 *
 * @module
 */

import type { SessionDetail, TranscriptEntry, TranscriptLine } from "../model.ts";
import {
  AUTH_ANSWER_CALL,
  commandCall,
  commandVerb,
  continuesReply,
  explainCode,
  GREETING_CALL,
  replyCode,
} from "./explain.ts";
import { markup, type SafeHtml } from "./html.ts";
import { plural, rawPath } from "./layout.ts";

/** Milliseconds since connect as seconds with three decimals: `0.012`. */
export function formatOffset(ms: number): string {
  return (ms / 1000).toFixed(3);
}

/** What the transcript says beside each line, worked out in one pass over the entries. */
interface Annotated {
  entry: TranscriptEntry;
  /** The call that said a client line, or the greeting's call. */
  call: string | null;
  /** What a reply's code means, on the first line of each reply. */
  meaning: string | null;
}

function isLine(entry: TranscriptEntry): entry is TranscriptLine {
  return "dir" in entry;
}

/** Pairs each entry with its annotation: the reader's view of the conversation's state. */
export function annotate(entries: TranscriptEntry[]): Annotated[] {
  let greeted = false; // a client line has been seen: later replies answer commands
  let inReply = false; // the previous server line said `-`: this one continues it
  let inAuth = false; // after AUTH, while the server answers 334
  let answering: string | undefined; // the verb (or "message") the next reply answers
  const out: Annotated[] = [];
  for (const entry of entries) {
    if (!isLine(entry)) {
      if (entry.event === "message") answering = "message";
      out.push({ entry, call: null, meaning: null });
      continue;
    }
    if (entry.dir === "C") {
      greeted = true;
      inReply = false;
      const call = inAuth ? AUTH_ANSWER_CALL : commandCall(entry.line);
      if (!inAuth) answering = commandVerb(entry.line);
      if (answering === "AUTH") inAuth = true;
      out.push({ entry, call, meaning: null });
      continue;
    }
    const code = replyCode(entry.line);
    const first = !inReply;
    inReply = continuesReply(entry.line);
    if (first && code !== "334") inAuth = false;
    out.push({
      entry,
      call: first && !greeted ? GREETING_CALL : null,
      meaning: first && code ? explainCode(code, answering) : null,
    });
  }
  return out;
}

function lineHtml(entry: TranscriptLine, call: string | null, meaning: string | null): SafeHtml {
  const side = entry.dir === "C" ? "client" : "server";
  const cut = entry.length === undefined
    ? ""
    : markup`<span class="cut"> … (cut: ${plural(entry.length, "character")} in all)</span>`;
  const notes = [
    meaning ? markup`<span class="meaning">${meaning}</span>` : "",
    call ? markup`<span class="call">${call}</span>` : "",
  ];
  return markup`<li class="${side}${entry.tls ? " tls" : ""}">\
<span class="t">${formatOffset(entry.t)}</span>\
<span class="dir" title="${side}">${entry.dir}:</span>\
${entry.tls ? markup`<span class="lock" title="inside TLS">TLS</span>` : ""}\
<code>${entry.line}</code>${cut}\
${call || meaning ? markup`<span class="notes">${notes}</span>` : ""}</li>`;
}

function entryHtml({ entry, call, meaning }: Annotated): SafeHtml {
  if (isLine(entry)) return lineHtml(entry, call, meaning);
  if (entry.event === "tls") {
    return markup`<li class="event tls-start"><span class="t">${formatOffset(entry.t)}</span>\
<span class="what">TLS handshake done: every line below travels encrypted</span></li>`;
  }
  const size = `message, ${plural(entry.size, "byte")}`;
  const body = entry.id === null
    ? markup`${size} (not stored)`
    : markup`<a href="${rawPath(entry.id)}">${size}</a>`;
  return markup`<li class="event body"><span class="t">${formatOffset(entry.t)}</span>\
<span class="what">${body} <span class="call">sendmail()</span></span></li>`;
}

/** The transcript of `session` as an ordered list, with a one-line key to its marks. */
export function transcriptHtml(session: SessionDetail): SafeHtml {
  return markup`<p class="key"><span class="client">C: the client</span> · \
<span class="server">S: the playground</span> · times in seconds since connect</p>
<ol class="transcript">
${annotate(session.transcript).map(entryHtml)}
</ol>`;
}
