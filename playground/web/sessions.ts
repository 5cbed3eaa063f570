/**
 * The sessions pages: every session the playground served, those that
 * delivered nothing too, filterable by outcome; and one session with its
 * whole conversation. A reader who ran a listing into one of its error
 * branches finds the server's side of that failure here.
 *
 * @module
 */

import type { Outcome, SessionDetail, SessionSummary } from "../model.ts";
import { markup, type SafeHtml } from "./html.ts";
import {
  layout,
  messagePath,
  pagerHtml,
  plural,
  sessionPath,
  timeHtml,
  withQuery,
} from "./layout.ts";
import { transcriptHtml } from "./transcript.ts";

/** Every outcome, in the order the filter lists them, with what each means. */
export const OUTCOMES: Readonly<Record<Outcome, string>> = {
  delivered: "at least one message was accepted",
  refused: "a sender, recipient or message was refused",
  "auth-failed": "a login failed",
  aborted: "the client left or was cut off, having delivered nothing",
  timeout: "the server gave up on a silent client",
  "tls-failed": "a TLS handshake failed",
  open: "still going on",
};

/** Whether `value` is an outcome's name. */
export function isOutcome(value: string): value is Outcome {
  return Object.hasOwn(OUTCOMES, value);
}

/** How many sessions one sessions page shows. */
export const SESSIONS_PAGE_SIZE = 100;

/** An outcome as a coloured word, with its meaning as a tooltip. */
export function outcomeHtml(outcome: Outcome): SafeHtml {
  return markup`<span class="outcome ${outcome}" title="${OUTCOMES[outcome]}">${outcome}</span>`;
}

/** What the sessions list shows. */
export interface SessionsView {
  /** Every session kept, newest first (the page filters and pages them). */
  sessions: SessionSummary[];
  /** The outcome to show only, or undefined for all. */
  outcome?: Outcome;
  /** The page number, from 1. */
  pageNumber: number;
}

/** The sessions list's address for an outcome (or all) and a page number. */
export function sessionsPath(outcome: Outcome | undefined, pageNumber = 1): string {
  return withQuery("/sessions", { outcome, page: String(pageNumber) });
}

function filter(view: SessionsView): SafeHtml {
  const counts = new Map<Outcome | undefined, number>([[undefined, view.sessions.length]]);
  for (const s of view.sessions) counts.set(s.outcome, (counts.get(s.outcome) ?? 0) + 1);
  const link = (outcome: Outcome | undefined) => {
    const current = outcome === view.outcome ? markup` aria-current="page"` : "";
    return markup`<li><a href="${sessionsPath(outcome)}"${current}>${outcome ?? "all"} \
<span class="n">${counts.get(outcome) ?? 0}</span></a></li>`;
  };
  const outcomes = Object.keys(OUTCOMES) as Outcome[];
  return markup`
    <nav aria-label="Filter by outcome" class="tabs">
      <ul>
    ${link(undefined)}
    ${outcomes.map(link)}
      </ul>
    </nav>
  `;
}

function row(session: SessionSummary): SafeHtml {
  return markup`
    <tr>
      <td class="id"><a href="${sessionPath(session.id)}">#${session.id}</a></td>
      <td class="time">${timeHtml(session.started)}</td>
      <td class="client">${session.client}</td>
      <td class="listener">${session.listener}</td>
      <td class="tls">${session.tls ? "TLS" : "plain"}</td>
      <td class="user">${session.user ?? ""}</td>
      <td>${outcomeHtml(session.outcome)}</td>
      <td class="n">${session.messages.length}</td>
      <td class="failures">${session.failures.join(", ")}</td>
    </tr>
  `;
}

/** The whole sessions list page. */
export function sessionsPage(view: SessionsView): SafeHtml {
  const shown = view.outcome === undefined
    ? view.sessions
    : view.sessions.filter((s) => s.outcome === view.outcome);
  const pages = Math.max(1, Math.ceil(shown.length / SESSIONS_PAGE_SIZE));
  const start = (view.pageNumber - 1) * SESSIONS_PAGE_SIZE;
  const page = shown.slice(start, start + SESSIONS_PAGE_SIZE);
  const what = view.outcome === undefined
    ? plural(shown.length, "session")
    : markup`${plural(shown.length, "session")} ${outcomeHtml(view.outcome)}: ${
      OUTCOMES[view.outcome]
    }`;
  const table = page.length === 0
    ? markup`<p class="empty">No sessions${
      view.outcome ? markup` with the outcome ${view.outcome}` : ""
    } yet.</p>`
    : markup`
      <table class="sessions">
        <caption class="visually-hidden">Sessions, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Session</th>
            <th scope="col">Started</th>
            <th scope="col">Client</th>
            <th scope="col">Listener</th>
            <th scope="col">TLS</th>
            <th scope="col">User</th>
            <th scope="col">Outcome</th>
            <th scope="col" class="n">Messages</th>
            <th scope="col">Failures</th>
          </tr>
        </thead>
        <tbody>
      ${page.map(row)}
        </tbody>
      </table>
      ${pagerHtml(view.pageNumber, pages, (page) => sessionsPath(view.outcome, page))}
    `;
  return layout(
    { title: "Sessions", section: "sessions", live: "sessions" },
    markup`<h1>Sessions</h1>
<div id="live">
${filter(view)}
<p class="count">${what}</p>
${table}
</div>`,
  );
}

/** The page of one session: what it was, what it delivered, and its whole conversation. */
export function sessionPage(session: SessionDetail): SafeHtml {
  const messages = session.messages.length === 0
    ? markup`<dd>none</dd>`
    : session.messages.map((id) => markup`<dd><a href="${messagePath(id)}">${id}</a></dd>`);
  return layout(
    { title: `Session ${session.id}`, section: "sessions", live: `session:${session.id}` },
    markup`
      <h1>Session ${session.id}</h1>
      <div id="live">
        <dl class="fields">
      <dt>Outcome</dt><dd>${outcomeHtml(session.outcome)} ${OUTCOMES[session.outcome]}</dd>
      <dt>Client</dt><dd>${session.client}</dd>
      <dt>Listener</dt><dd>${session.listener}${session.tls ? ", TLS" : ""}</dd>
      <dt>Started</dt><dd>${timeHtml(session.started)}</dd>
      <dt>Ended</dt><dd>${session.ended ? timeHtml(session.ended) : "still open"}</dd>
      ${
      session.user
        ? markup`
          <dt>User</dt>
          <dd>${session.user}</dd>
        `
        : ""
    }
      ${
      session.failures.length
        ? markup`
          <dt>Failures</dt>
          <dd>${session.failures.join(", ")}</dd>
        `
        : ""
    }
      <dt>Messages</dt>${messages}
        </dl>
        <section aria-labelledby="conversation-title" class="conversation">
      <h2 id="conversation-title">The conversation</h2>
      ${transcriptHtml(session)}
        </section>
      </div>
    `,
  );
}
