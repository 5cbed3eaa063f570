/**
 * What every page of the web inbox shares: the document around the content
 * (title, style sheet, our one script, the navigation), and the small
 * formats for times, sizes and counts.
 *
 * @module
 */

import { markup, type SafeHtml, trusted } from "./html.ts";

/** Which part of the site a page belongs to, so the navigation can mark it. */
export type Section = "inbox" | "sessions" | "failures";

/** What {@link layout} needs besides the content. */
export interface LayoutOptions {
  /** The page's title, shown before " · playground inbox". */
  title: string;
  /** The navigation entry to mark as current. */
  section: Section;
  /**
   * What the page's script keeps live: `messages` (the inbox), `sessions`
   * (the sessions list) or `session:ID` (one session's page); none when absent.
   */
  live?: string;
}

/** A whole HTML document: `content` inside the site's header and `<main>`. */
export function layout(options: LayoutOptions, content: SafeHtml): SafeHtml {
  const current = (section: Section) =>
    section === options.section ? trusted(' aria-current="page"') : "";
  return markup`
    <!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="color-scheme" content="light dark">
        <title>${options.title} · playground inbox</title>
        <link rel="stylesheet" href="/static/style.css">
        <script src="/static/app.js" defer></script>
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header class="site">
          <nav aria-label="Site">
            <a class="brand" href="/">mail.example.com</a>
            <a href="/"${current("inbox")}>Inbox</a>
            <a href="/sessions"${current("sessions")}>Sessions</a>
            <a href="/failures"${current("failures")}>Failures</a>
          </nav>
          <p class="status" id="live-status" role="status" aria-live="polite"></p>
        </header>
        <main id="main" data-live="${options.live ?? ""}">
    ${content}
        </main>
      </body>
    </html>
  `;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

/** An ISO date as the machine's local time, `2026-12-02 18:24:33`, in a `<time>` element. */
export function timeHtml(iso: string): SafeHtml {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return markup`<time>${iso}</time>`;
  const text = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return markup`<time datetime="${d.toISOString()}">${text}</time>`;
}

/** A size in bytes as a reader takes it in at a glance: `812 B`, `4.2 kB`, `9.8 MB`. */
export function formatSize(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1000_000) return `${(bytes / 1000).toFixed(1)} kB`;
  return `${(bytes / 1000_000).toFixed(1)} MB`;
}

/** A count with its noun, the noun plural unless the count is one: `1 message`, `3 messages`. */
export function plural(count: number, noun: string): string {
  return `${count.toLocaleString("en-US")} ${noun}${count === 1 ? "" : "s"}`;
}

/** Links to the newer and older pages around page `n` of `pages`; nothing when there is one page. */
export function pagerHtml(n: number, pages: number, pathOf: (page: number) => string): SafeHtml {
  if (pages <= 1) return markup``;
  const newer = n > 1
    ? markup`<a href="${pathOf(n - 1)}" rel="prev">← Newer</a>`
    : markup`<span aria-disabled="true">← Newer</span>`;
  const older = n < pages
    ? markup`<a href="${pathOf(n + 1)}" rel="next">Older →</a>`
    : markup`<span aria-disabled="true">Older →</span>`;
  return markup`
    <nav aria-label="Pages"
      class="pager">${newer}<span>page ${n} of ${pages}</span>${older}</nav>
  `;
}

/**
 * `path` with a query of the parameters that are set (`undefined` and, for
 * `page`, 1 are left out): `/sessions?outcome=refused&page=2`.
 */
export function withQuery(path: string, params: Record<string, string | undefined>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && !(name === "page" && value === "1")) query.set(name, value);
  }
  const search = query.toString();
  return search ? `${path}?${search}` : path;
}

/** The path of a message's page. */
export function messagePath(id: string): string {
  return `/messages/${encodeURIComponent(id)}`;
}

/** The path of a session's page. */
export function sessionPath(id: string): string {
  return `/sessions/${encodeURIComponent(id)}`;
}

/** The path of a message's raw source, shown as text. */
export function rawPath(id: string): string {
  return `${messagePath(id)}/raw`;
}

/** The path of a message's attachment number `index`, as a download. */
export function attachmentPath(id: string, index: number): string {
  return `/api/messages/${encodeURIComponent(id)}/attachments/${index}`;
}

/**
 * A form that POSTs to `action` with one button: how the pages change
 * anything, no script needed. With script, the page asks `confirm` first.
 */
export function postButton(action: string, label: string, confirm: string): SafeHtml {
  return markup`
    <form method="post" action="${action}" class="inline" data-confirm="${confirm}">
      <button type="submit" class="danger">${label}</button>
    </form>
  `;
}
