/**
 * The pieces every web route is made of (playground/web.ts has the table):
 * the route type, what a handler may use, and JSON answers.
 *
 * @module
 */

import type { Mailroom } from "./model.ts";
import type { FailureControl } from "./failures.ts";

/** What a handler may use: the playground's mail and sessions. */
export interface WebPlayground {
  /** The mail and the sessions. */
  mailroom: Mailroom;
  /** Called when the server shuts down: a long answer (SSE) ends itself. */
  onClose(stop: () => void): () => void;
  /** The failure table (`--fail`) to read and change, when there is one. */
  failures?: FailureControl;
}

/** A route's handler: the request, what its pattern matched, and the playground. */
export type Handler = (
  request: Request,
  match: URLPatternResult,
  playground: WebPlayground,
) => Response | Promise<Response>;

/** One row of the routes table. */
export interface Route {
  /** The method, upper case (`GET`, `DELETE`). */
  method: string;
  /** The path it answers (only the pathname is matched). */
  pattern: URLPattern;
  /** What answers it. */
  handler: Handler;
}

/** A route for `method` on the path pattern `pathname` (`/api/messages/:id`). */
export function route(method: string, pathname: string, handler: Handler): Route {
  return { method, pattern: new URLPattern({ pathname }), handler };
}

/** A JSON answer; `status` 200 by default. */
export function json(body: unknown, status = 200, headers: HeadersInit = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** A JSON error answer: `{ "error": message }`. */
export function failure(status: number, message: string, headers: HeadersInit = {}): Response {
  return json({ error: message }, status, headers);
}
