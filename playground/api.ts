/**
 * The JSON API's routes (`/api/...`), for the routes table of
 * playground/web.ts. Each handler reads its query and path strictly (a
 * parameter it does not know, or a number that is not one, is a 400), asks
 * the {@link Mailroom} and answers in the shapes of playground/model.ts:
 *
 * - `GET /api/users`: the user names, `["brandon"]`;
 * - `GET /api/messages[?user=NAME&offset=N&limit=N]`: a `MessagePage`, newest first;
 * - `DELETE /api/messages?user=NAME`: empties that mailbox, `{ "deleted": n }`;
 * - `GET /api/messages/ID`: a `MessageDetail` (and the message is read);
 * - `GET /api/messages/ID/raw`: the message as the client sent it, `message/rfc822`;
 * - `GET /api/messages/ID/attachments/N`: attachment N's bytes, as a download;
 * - `DELETE /api/messages/ID`: removes it, `{ "deleted": "ID" }`;
 * - `GET /api/sessions[?offset=N&limit=N]`: an array of `SessionSummary`, newest first;
 * - `GET /api/sessions/ID`: a `SessionDetail`;
 * - `GET /api/events`: Server-Sent Events, `event: message` or `event: session`
 *   with a `PlaygroundEvent` as data, and a comment line every 15 s.
 *
 * @module
 */

import { failure, type Handler, json, type Route, route } from "./http.ts";

/** The most a page may hold (`limit`). */
export const MAX_LIMIT = 1000;
/** How often the event stream says it is alive, in ms. */
export const HEARTBEAT_MS = 15_000;

/** A bad query: the handler answers 400 with its message. */
class BadQuery extends Error {}

/** Reads the query of `request`, allowing only `names`; throws {@link BadQuery}. */
function query(request: Request, names: string[]): Map<string, string> {
  const params = new URL(request.url).searchParams;
  const values = new Map<string, string>();
  for (const [name, value] of params) {
    if (!names.includes(name)) throw new BadQuery(`unknown parameter ${JSON.stringify(name)}`);
    if (values.has(name)) throw new BadQuery(`${name} given twice`);
    values.set(name, value);
  }
  return values;
}

/** A non-negative whole number from the query, or undefined; throws {@link BadQuery}. */
function count(values: Map<string, string>, name: string, max: number): number | undefined {
  const value = values.get(name);
  if (value === undefined) return undefined;
  if (!/^\d{1,7}$/.test(value) || Number(value) > max) {
    throw new BadQuery(`${name} takes a whole number from 0 to ${max}`);
  }
  return Number(value);
}

/** Wraps a handler so a {@link BadQuery} is a 400. */
function strict(handler: Handler): Handler {
  return async (request, match, playground) => {
    try {
      return await handler(request, match, playground);
    } catch (error) {
      if (error instanceof BadQuery) return failure(400, error.message);
      throw error;
    }
  };
}

/** The path parameter `name` of `match`, decoded (an undecodable one is ""). */
function param(match: URLPatternResult, name: string): string {
  try {
    return decodeURIComponent(match.pathname.groups[name] ?? "");
  } catch {
    return "";
  }
}

/** A MIME type safe to send as Content-Type (`type/subtype` only), else octet-stream. */
function safeType(type: string): string {
  return /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/i.test(type)
    ? type.toLowerCase()
    : "application/octet-stream";
}

/** Headers for a response carrying a message's own bytes: no script, no sniffing. */
const HOSTILE_BYTES = {
  "content-security-policy": "sandbox; default-src 'none'",
  "x-content-type-options": "nosniff",
} as const;

/** A Content-Disposition for a download of `filename` (RFC 6266, with an ASCII fallback). */
function download(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, "_") || "attachment";
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

const listMessages: Handler = async (request, _match, { mailroom }) => {
  const values = query(request, ["user", "offset", "limit"]);
  const user = values.get("user");
  if (user !== undefined && !mailroom.users().includes(user)) {
    return failure(404, `no such user: ${user}`);
  }
  return json(
    await mailroom.listMessages({
      user,
      offset: count(values, "offset", 10_000_000),
      limit: count(values, "limit", MAX_LIMIT) ?? MAX_LIMIT,
    }),
  );
};

const clearMailbox: Handler = async (request, _match, { mailroom }) => {
  const user = query(request, ["user"]).get("user");
  if (user === undefined) throw new BadQuery("DELETE /api/messages needs ?user=NAME");
  if (!mailroom.users().includes(user)) return failure(404, `no such user: ${user}`);
  return json({ deleted: await mailroom.clearMailbox(user) });
};

const getMessage: Handler = async (request, match, { mailroom }) => {
  query(request, []);
  const message = await mailroom.getMessage(param(match, "id"));
  return message ? json(message) : failure(404, "no such message");
};

const rawMessage: Handler = async (request, match, { mailroom }) => {
  query(request, []);
  const raw = await mailroom.rawMessage(param(match, "id"));
  if (!raw) return failure(404, "no such message");
  return new Response(raw as Uint8Array<ArrayBuffer>, {
    headers: {
      "content-type": "message/rfc822",
      ...HOSTILE_BYTES,
    },
  });
};

const attachment: Handler = async (request, match, { mailroom }) => {
  query(request, []);
  const index = param(match, "n");
  const found = /^\d{1,6}$/.test(index)
    ? await mailroom.attachment(param(match, "id"), Number(index))
    : null;
  if (!found) return failure(404, "no such attachment");
  return new Response(found.content as Uint8Array<ArrayBuffer>, {
    headers: {
      "content-type": safeType(found.contentType),
      "content-disposition": download(found.filename),
      ...HOSTILE_BYTES,
    },
  });
};

const deleteMessage: Handler = async (request, match, { mailroom }) => {
  query(request, []);
  const id = param(match, "id");
  return await mailroom.deleteMessage(id) ? json({ deleted: id }) : failure(404, "no such message");
};

const listSessions: Handler = (request, _match, { mailroom }) => {
  const values = query(request, ["offset", "limit"]);
  return json(mailroom.listSessions({
    offset: count(values, "offset", 10_000_000),
    limit: count(values, "limit", MAX_LIMIT) ?? MAX_LIMIT,
  }));
};

const getSession: Handler = (request, match, { mailroom }) => {
  query(request, []);
  const session = mailroom.getSession(param(match, "id"));
  return session ? json(session) : failure(404, "no such session");
};

const events: Handler = (request, _match, playground) => {
  query(request, []);
  const encoder = new TextEncoder();
  let end = () => {};
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (text: string) => {
        try {
          controller.enqueue(encoder.encode(text));
        } catch {
          end();
        }
      };
      const unsubscribe = playground.mailroom.subscribe((event) =>
        send(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`)
      );
      const heartbeat = setInterval(() => send(": heartbeat\n\n"), HEARTBEAT_MS);
      let ended = false;
      const forget = playground.onClose(() => end());
      end = () => {
        if (ended) return;
        ended = true;
        clearInterval(heartbeat);
        unsubscribe();
        forget();
        try {
          controller.close();
        } catch { /* already closed */ }
      };
      send(": playground events\nretry: 2000\n\n");
    },
    cancel() {
      end(); // the client went away
    },
  });
  return new Response(body, {
    headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store" },
  });
};

/** The API's rows of the routes table. */
export const API_ROUTES: Route[] = [
  route("GET", "/api/users", (request, _match, { mailroom }) => {
    query(request, []);
    return json(mailroom.users());
  }),
  route("GET", "/api/messages", listMessages),
  route("DELETE", "/api/messages", clearMailbox),
  route("GET", "/api/messages/:id", getMessage),
  route("DELETE", "/api/messages/:id", deleteMessage),
  route("GET", "/api/messages/:id/raw", rawMessage),
  route("GET", "/api/messages/:id/attachments/:n", attachment),
  route("GET", "/api/sessions", listSessions),
  route("GET", "/api/sessions/:id", getSession),
  route("GET", "/api/events", events),
].map((row) => ({ ...row, handler: strict(row.handler) }));
