/**
 * The web inbox's routes: the pages, the sandboxed HTML part, the raw
 * source as text, the two forms that delete, and our one script and style
 * sheet, as rows of the web port's one routes table (playground/web.ts).
 * Each handler reads the {@link Mailroom} it is given and returns a
 * `Response`.
 *
 * Every page goes out under {@link PAGE_CSP} (`default-src 'self'`, no
 * inline script). The web port's checks hold for every route here as for
 * the API's: only a loopback `Host`, and no POST from another site's page
 * (so no other site can make a visitor's browser delete mail).
 *
 * @module
 */

import type { Mailroom } from "../model.ts";
import { type Route, route } from "../http.ts";
import { markup, type SafeHtml } from "./html.ts";
import { inboxPage, inboxPath, PAGE_SIZE } from "./inbox.ts";
import { layout } from "./layout.ts";
import { HTML_PART_CSP, messagePage, type RawSource } from "./message.ts";
import { isOutcome, sessionPage, sessionsPage } from "./sessions.ts";

/** The CSP of every page: our own script, style and frames only, nothing inline, nothing remote. */
export const PAGE_CSP = [
  "default-src 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** How much of the raw source the message page shows inline. */
export const RAW_INLINE_BYTES = 256 * 1024;

// On every answer here: no type sniffing; a same-origin referrer ("no-referrer"
// would make a browser send `Origin: null` with the forms, and the port refuse
// them); and "no-cache", so each page is asked for again (the back button shows
// mail as it is) while the back-forward cache may still keep it ("no-store" would not).
const COMMON_HEADERS = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin",
  "cache-control": "no-cache",
};

/** An HTML page's response, under {@link PAGE_CSP}. */
export function pageResponse(body: SafeHtml, status = 200): Response {
  return new Response(body.toString(), {
    status,
    headers: {
      ...COMMON_HEADERS,
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": PAGE_CSP,
    },
  });
}

/** A page that says what went wrong, with its status. */
export function errorPage(status: number, title: string, detail: string): Response {
  return pageResponse(
    layout(
      { title, section: "inbox" },
      markup`<h1>${title}</h1>
<p>${detail}</p>
<p><a href="/">Back to the inbox</a></p>`,
    ),
    status,
  );
}

function redirect(location: string): Response {
  return new Response(null, { status: 303, headers: { ...COMMON_HEADERS, location } });
}

/** A page number from the query (`page=3`), 1 when absent, null when not a positive integer. */
function pageNumber(url: URL): number | null {
  const value = url.searchParams.get("page");
  if (value === null) return 1;
  return /^[1-9]\d{0,8}$/.test(value) ? Number(value) : null;
}

function badPage(): Response {
  return errorPage(400, "Bad request", "The page number must be a whole number from 1.");
}

function notFound(what: string): Response {
  return errorPage(404, "Not found", `There is no such ${what}: it may have been deleted.`);
}

async function inbox(request: Request, mailroom: Mailroom): Promise<Response> {
  const url = new URL(request.url);
  const n = pageNumber(url);
  if (n === null) return badPage();
  const user = url.searchParams.get("user") ?? undefined;
  const users = mailroom.users();
  if (user !== undefined && !users.includes(user)) return notFound("mailbox");
  const page = await mailroom.listMessages({ user, offset: (n - 1) * PAGE_SIZE, limit: PAGE_SIZE });
  return pageResponse(inboxPage({ page, users, user, pageNumber: n }));
}

/** The start of a message's raw source as the page shows it. */
export function rawSource(bytes: Uint8Array, limit = RAW_INLINE_BYTES): RawSource {
  const cut = bytes.length > limit;
  const text = new TextDecoder().decode(cut ? bytes.subarray(0, limit) : bytes);
  return { text, size: bytes.length, cut };
}

async function message(id: string, mailroom: Mailroom): Promise<Response> {
  const detail = await mailroom.getMessage(id);
  if (detail === null) return notFound("message");
  const session = detail.session === null ? null : mailroom.getSession(detail.session);
  const bytes = await mailroom.rawMessage(id);
  return pageResponse(
    messagePage({ message: detail, session, raw: bytes === null ? null : rawSource(bytes) }),
  );
}

/** The headers of what a message holds, served as it is: nothing in it may run or load. */
const HOSTILE_HEADERS = {
  ...COMMON_HEADERS,
  "referrer-policy": "no-referrer",
  "x-dns-prefetch-control": "off",
  "content-security-policy": HTML_PART_CSP,
};

async function htmlPart(id: string, mailroom: Mailroom): Promise<Response> {
  const detail = await mailroom.getMessage(id);
  if (detail === null || detail.html === null) return notFound("HTML part");
  return new Response(detail.html, {
    headers: { ...HOSTILE_HEADERS, "content-type": "text/html; charset=utf-8" },
  });
}

async function raw(id: string, mailroom: Mailroom): Promise<Response> {
  const bytes = await mailroom.rawMessage(id);
  if (bytes === null) return notFound("message");
  // A copy: a Response takes only bytes over a plain ArrayBuffer.
  return new Response(bytes.slice(), {
    headers: { ...HOSTILE_HEADERS, "content-type": "text/plain; charset=utf-8" },
  });
}

/** The user a message id names: what follows the queue id's dot (`3F2A9C01BE.brandon`). */
function userOf(id: string): string | undefined {
  const dot = id.indexOf(".");
  return dot < 0 ? undefined : id.slice(dot + 1);
}

async function deleteMessage(id: string, mailroom: Mailroom): Promise<Response> {
  if (!await mailroom.deleteMessage(id)) return notFound("message");
  const user = userOf(id);
  return redirect(
    inboxPath(user !== undefined && mailroom.users().includes(user) ? user : undefined),
  );
}

async function clearMailbox(user: string, mailroom: Mailroom): Promise<Response> {
  if (!mailroom.users().includes(user)) return notFound("mailbox");
  await mailroom.clearMailbox(user);
  return redirect(inboxPath(user));
}

/** Enough sessions to take all that the playground keeps (the sessions page filters them). */
const ALL_SESSIONS = 1_000_000;

function sessions(request: Request, mailroom: Mailroom): Response {
  const url = new URL(request.url);
  const n = pageNumber(url);
  if (n === null) return badPage();
  const outcome = url.searchParams.get("outcome") ?? undefined;
  if (outcome !== undefined && !isOutcome(outcome)) {
    return errorPage(400, "Bad request", "There is no such outcome.");
  }
  const all = mailroom.listSessions({ offset: 0, limit: ALL_SESSIONS });
  return pageResponse(sessionsPage({ sessions: all, outcome, pageNumber: n }));
}

function session(id: string, mailroom: Mailroom): Response {
  const detail = mailroom.getSession(id);
  return detail === null ? notFound("session") : pageResponse(sessionPage(detail));
}

const STATIC_TYPES: Record<string, string> = {
  "app.js": "text/javascript; charset=utf-8",
  "style.css": "text/css; charset=utf-8",
};
const staticFiles = new Map<string, Promise<Uint8Array<ArrayBuffer>>>();

/** Our script or style sheet, read once from `playground/web/static/`. */
function staticFile(name: string): Promise<Response> | Response {
  const type = STATIC_TYPES[name];
  if (type === undefined) return notFound("file");
  let body = staticFiles.get(name);
  if (body === undefined) {
    body = Deno.readFile(new URL(`./static/${name}`, import.meta.url));
    staticFiles.set(name, body);
  }
  return body.then((bytes) =>
    new Response(bytes, { headers: { ...COMMON_HEADERS, "content-type": type } })
  );
}

/** A path group as it was before percent-encoding; "" for one absent or that does not decode. */
function param(match: URLPatternResult, name: string): string {
  try {
    return decodeURIComponent(match.pathname.groups[name] ?? "");
  } catch {
    return "";
  }
}

/** The web inbox's rows of the web port's one routes table (playground/web.ts). */
export const PAGE_ROUTES: Route[] = [
  route("GET", "/", (request, _, { mailroom }) => inbox(request, mailroom)),
  route("GET", "/messages/:id", (_, match, { mailroom }) => message(param(match, "id"), mailroom)),
  route(
    "GET",
    "/messages/:id/html",
    (_, match, { mailroom }) => htmlPart(param(match, "id"), mailroom),
  ),
  route("GET", "/messages/:id/raw", (_, match, { mailroom }) => raw(param(match, "id"), mailroom)),
  route(
    "POST",
    "/messages/:id/delete",
    (_, match, { mailroom }) => deleteMessage(param(match, "id"), mailroom),
  ),
  route(
    "POST",
    "/mailboxes/:user/clear",
    (_, match, { mailroom }) => clearMailbox(param(match, "user"), mailroom),
  ),
  route("GET", "/sessions", (request, _, { mailroom }) => sessions(request, mailroom)),
  route("GET", "/sessions/:id", (_, match, { mailroom }) => session(param(match, "id"), mailroom)),
  route("GET", "/static/:name", (_, match) => staticFile(match.pathname.groups.name ?? "")),
];
