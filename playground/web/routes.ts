/**
 * The web inbox's routes: the pages, the sandboxed HTML part, the raw
 * source as text, the two forms that delete, and our one script and style
 * sheet. Each handler reads the {@link Mailroom} it is given and returns a
 * `Response`; the Host check in front of all routes is the web server's.
 *
 * Every page goes out under {@link PAGE_CSP} (`default-src 'self'`, no
 * inline script), and the forms are refused unless their `Origin` is this
 * server's own.
 *
 * @module
 */

import type { Mailroom } from "../model.ts";
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

/** One route: a method, a path pattern, and what answers it. */
export interface PageRoute {
  /** `GET` or `POST`. */
  method: "GET" | "POST";
  /** The path, as a `URLPattern` (`/messages/:id`). */
  pattern: URLPattern;
  /** Answers a request whose path matched, with the pattern's groups. */
  handler: (
    request: Request,
    groups: Record<string, string | undefined>,
    mailroom: Mailroom,
  ) => Promise<Response> | Response;
}

// Only the browser's caches are told anything: revalidate every page, so the
// back button shows mail as it is (and the back-forward cache may still keep it).
const COMMON_HEADERS = {
  "x-content-type-options": "nosniff",
  // "no-referrer" would make a browser send `Origin: null` with the forms.
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

/**
 * Whether a form's request came from one of our own pages: its `Origin` is
 * this server's (the Host it was sent to), so no other site can make a
 * visitor's browser delete mail.
 */
export function sameOrigin(request: Request): boolean {
  const origin = request.headers.get("origin");
  const host = request.headers.get("host");
  return origin !== null && host !== null && origin === `http://${host}`;
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

function forbidden(): Response {
  return errorPage(
    403,
    "Forbidden",
    "This form may be sent only from the inbox's own pages (the request's Origin was not this server).",
  );
}

async function deleteMessage(request: Request, id: string, mailroom: Mailroom): Promise<Response> {
  if (!sameOrigin(request)) return forbidden();
  if (!await mailroom.deleteMessage(id)) return notFound("message");
  const user = userOf(id);
  return redirect(
    inboxPath(user !== undefined && mailroom.users().includes(user) ? user : undefined),
  );
}

async function clearMailbox(request: Request, user: string, mailroom: Mailroom): Promise<Response> {
  if (!sameOrigin(request)) return forbidden();
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

function route(
  method: PageRoute["method"],
  pathname: string,
  handler: PageRoute["handler"],
): PageRoute {
  return { method, pattern: new URLPattern({ pathname }), handler };
}

/** A path group as it was before percent-encoding; "" for one that does not decode. */
function decoded(group: string | undefined): string {
  try {
    return decodeURIComponent(group ?? "");
  } catch {
    return "";
  }
}

const id = (groups: Record<string, string | undefined>) => decoded(groups.id);

/** Every page route, in the order they are tried. */
export const PAGE_ROUTES: readonly PageRoute[] = [
  route("GET", "/", (request, _, mailroom) => inbox(request, mailroom)),
  route("GET", "/messages/:id", (_, groups, mailroom) => message(id(groups), mailroom)),
  route("GET", "/messages/:id/html", (_, groups, mailroom) => htmlPart(id(groups), mailroom)),
  route("GET", "/messages/:id/raw", (_, groups, mailroom) => raw(id(groups), mailroom)),
  route(
    "POST",
    "/messages/:id/delete",
    (request, groups, mailroom) => deleteMessage(request, id(groups), mailroom),
  ),
  route(
    "POST",
    "/mailboxes/:user/clear",
    (request, groups, mailroom) => clearMailbox(request, decoded(groups.user), mailroom),
  ),
  route("GET", "/sessions", (request, _, mailroom) => sessions(request, mailroom)),
  route("GET", "/sessions/:id", (_, groups, mailroom) => session(id(groups), mailroom)),
  route("GET", "/static/:name", (_, groups) => staticFile(groups.name ?? "")),
];

/**
 * Answers `request` from {@link PAGE_ROUTES}: the first route whose method
 * and path match; a 405 when only the path matches; null when no path does
 * (the request is someone else's, such as the API's).
 */
export async function servePage(request: Request, mailroom: Mailroom): Promise<Response | null> {
  let pathMatched = false;
  for (const { method, pattern, handler } of PAGE_ROUTES) {
    const match = pattern.exec(request.url);
    if (match === null) continue;
    if (method !== request.method) {
      pathMatched = true;
      continue;
    }
    return await handler(request, match.pathname.groups, mailroom);
  }
  if (!pathMatched) return null;
  return errorPage(405, "Method not allowed", `This address does not take ${request.method}.`);
}
