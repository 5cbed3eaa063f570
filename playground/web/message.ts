/**
 * The message page: the message (decoded headers, text part, the HTML part
 * in a sandboxed frame, attachments, raw source) and, beside it, the SMTP
 * conversation that delivered it.
 *
 * The HTML part is never put into this page. The frame loads it from
 * {@link htmlPartPath}, which the routes serve under a CSP that blocks all
 * script and every remote load, and the frame's `sandbox` grants nothing:
 * no script, no forms, no pop-ups, no navigation of this page.
 *
 * @module
 */

import type { MessageDetail, SessionDetail } from "../model.ts";
import { markup, type SafeHtml } from "./html.ts";
import {
  attachmentPath,
  formatSize,
  layout,
  messagePath,
  plural,
  postButton,
  rawPath,
  sessionPath,
  timeHtml,
} from "./layout.ts";
import { outcomeHtml } from "./sessions.ts";
import { transcriptHtml } from "./transcript.ts";

/** The path the sandboxed frame loads a message's HTML part from. */
export function htmlPartPath(id: string): string {
  return `${messagePath(id)}/html`;
}

/** The raw source as the page shows it: its text (perhaps only the start) and its full size. */
export interface RawSource {
  /** The source decoded as UTF-8 (bad bytes as U+FFFD), perhaps cut. */
  text: string;
  /** The source's whole size in bytes. */
  size: number;
  /** Whether `text` is only the start of it. */
  cut: boolean;
}

/** What the message page shows. */
export interface MessageView {
  /** The message. */
  message: MessageDetail;
  /** The session that delivered it, or null when it is not known (any more). */
  session: SessionDetail | null;
  /** The raw source, or null when it could not be read. */
  raw: RawSource | null;
}

function fields(message: MessageDetail): SafeHtml {
  return markup`
    <dl class="fields">
      <dt>From</dt>
      <dd>${message.from}</dd>
      <dt>To</dt>
      <dd>${message.to.join(", ")}</dd>
      <dt>Date</dt>
      <dd>${timeHtml(message.date)}</dd>
      <dt>Mailbox</dt>
      <dd>${message.user}</dd>
      <dt>Size</dt>
      <dd>${formatSize(message.size)}</dd>
    </dl>
  `;
}

function attachments(message: MessageDetail): SafeHtml {
  if (message.attachments.length === 0) return markup``;
  return markup`
    <section aria-labelledby="attachments-title">
      <h2 id="attachments-title">Attachments</h2>
      <ul class="attachments">
    ${
    message.attachments.map((a, i) =>
      markup`<li><a href="${attachmentPath(message.id, i)}">${
        a.filename || `attachment ${i + 1}`
      }</a> \
<span class="meta">${a.contentType}, ${formatSize(a.size)}</span></li>`
    )
  }
      </ul>
    </section>
  `;
}

function headers(message: MessageDetail): SafeHtml {
  return markup`
    <details class="headers">
      <summary>All headers (${message.headers.length})</summary>
      <table>
        <caption class="visually-hidden">Headers, decoded, in order</caption>
        <tbody>
    ${
    message.headers.map(([name, value]) =>
      markup`
        <tr>
          <th scope="row">${name}</th>
          <td>${value}</td>
        </tr>
      `
    )
  }
        </tbody>
      </table>
    </details>
  `;
}

function rawSource(message: MessageDetail, raw: RawSource | null): SafeHtml {
  if (raw === null) return markup``;
  const more = raw.cut
    ? markup`<p class="note">The first part only: <a href="${
      rawPath(message.id)
    }">the whole source</a> \
is ${formatSize(raw.size)}.</p>`
    : "";
  return markup`<details class="raw" id="raw">
<summary>Raw source (${plural(raw.size, "byte")})</summary>
<p><a href="${rawPath(message.id)}">Open the raw source on its own</a></p>
<pre>${raw.text}</pre>
${more}
</details>`;
}

function conversation(session: SessionDetail | null): SafeHtml {
  if (session === null) {
    return markup`<h2 id="conversation-title">The conversation</h2>
<p class="empty">The session that delivered this message is not known: it may be older than the \
sessions the playground keeps.</p>`;
  }
  return markup`<h2 id="conversation-title">The conversation that delivered it</h2>
<p class="session-line"><a href="${sessionPath(session.id)}">Session ${session.id}</a> \
from ${session.client}, ${outcomeHtml(session.outcome)}${
    session.messages.length > 1 ? `, ${plural(session.messages.length, "message")}` : ""
  }</p>
${transcriptHtml(session)}`;
}

/** The whole message page. */
export function messagePage(view: MessageView): SafeHtml {
  const { message, session, raw } = view;
  const subject = message.subject || "(no subject)";
  const text = message.text
    ? markup`<pre class="body">${message.text}</pre>`
    : markup`<p class="empty">No text part.</p>`;
  const htmlPart = message.html === null ? "" : markup`
    <section aria-labelledby="html-title">
      <h2 id="html-title">HTML part</h2>
      <p class="note">Shown in a sandbox: no script runs, no form sends, nothing remote loads.</p>
      <iframe class="html-part" sandbox src="${htmlPartPath(message.id)}" \
        title="The HTML part of the message, sandboxed" referrerpolicy="no-referrer"></iframe>
    </section>
  `;
  return layout(
    { title: subject, section: "inbox", live: session ? `session:${session.id}` : undefined },
    markup`
      <div class="split">
        <article class="message" aria-labelledby="subject">
      <h1 id="subject">${subject}</h1>
      ${fields(message)}
      <div class="actions">
      ${
      postButton(
        `${messagePath(message.id)}/delete`,
        "Delete this message",
        "Delete this message?",
      )
    }
      <a href="${rawPath(message.id)}">Raw source</a>
      </div>
      <section aria-labelledby="text-title">
      <h2 id="text-title">Text</h2>
      ${text}
      </section>
      ${htmlPart}
      ${attachments(message)}
      ${headers(message)}
      ${rawSource(message, raw)}
        </article>
        <aside class="conversation" aria-labelledby="conversation-title">
          <div id="live">
      ${conversation(session)}
          </div>
        </aside>
      </div>
    `,
  );
}

/**
 * The CSP of the HTML part: nothing runs or loads but inline styles and
 * `data:` images and fonts; no form may send, no `<base>` may move its
 * links; and the `sandbox` directive applies even when the part is opened
 * on its own, outside the frame.
 */
export const HTML_PART_CSP = [
  "default-src 'none'",
  "style-src 'unsafe-inline'",
  "img-src data:",
  "font-src data:",
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'self'",
  "sandbox",
].join("; ");
