/**
 * The playground's web port: one table of routes, as Go's `http.ServeMux`
 * has, and the checks every request passes before any route sees it.
 *
 * - {@link routes} is the one table: method, `URLPattern`, handler. The JSON
 *   API's routes (playground/api.ts) are in it; a module with more routes
 *   (the web inbox's pages) adds its own array to the `routes` line below.
 *   A handler gets the request, the pattern's match, and the
 *   {@link WebPlayground} it may use, and returns a Response; it touches
 *   nothing else.
 * - Only loopback names are answered: the `Host` header must be
 *   `127.0.0.1:PORT`, `localhost:PORT` or `[::1]:PORT` for this server's
 *   port, else 403. A page on another site that rebinds its DNS name to
 *   127.0.0.1 still sends its own name, so it is refused (DNS rebinding).
 * - No CORS headers are ever sent, so no other site may read an answer; and
 *   a request with an unsafe method (DELETE, PUT, POST...) whose `Origin`
 *   (or `Sec-Fetch-Site`) says it comes from another site is refused with
 *   403, so no other site may change anything either.
 * - A path no route knows is a 404, a known path with another method a 405
 *   with `Allow`; errors are JSON `{ "error": "..." }`, never a stack trace.
 *   HEAD is answered as GET without the body.
 *
 * @example Adding routes (as the web inbox does)
 * ```ts
 * import { json, type Route, route } from "./web.ts";
 *
 * export const PAGE_ROUTES: Route[] = [
 *   route("GET", "/hello", () => json({ hello: "world" })),
 * ];
 * // and in web.ts: export const routes = [...API_ROUTES, ...PAGE_ROUTES];
 * ```
 * @module
 */

import type { Mailroom } from "./model.ts";
import { API_ROUTES } from "./api.ts";
import { FAILURE_ROUTES } from "./failures_api.ts";
import { FAILURE_PAGE_ROUTES } from "./web/failures.ts";
import type { FailureControl } from "./failures.ts";
import { PAGE_ROUTES } from "./web/routes.ts";
import { failure, type Route, type WebPlayground } from "./http.ts";

export { failure, type Handler, json, type Route, route, type WebPlayground } from "./http.ts";

/** The one table of routes, in the order they are tried. */
export const routes: Route[] = [
  ...API_ROUTES,
  ...FAILURE_ROUTES,
  ...PAGE_ROUTES,
  ...FAILURE_PAGE_ROUTES,
];

/** Whether `host` (a `Host` header) names this server on loopback at `port`. */
export function loopbackHost(host: string | null, port: number): boolean {
  if (host === null) return false;
  const allowed = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`];
  return allowed.includes(host.toLowerCase());
}

/** Whether an unsafe request comes from another site (its Origin or Sec-Fetch-Site says so). */
export function crossSite(request: Request, port: number): boolean {
  const site = request.headers.get("sec-fetch-site");
  if (site !== null && site !== "same-origin" && site !== "none") return true;
  const origin = request.headers.get("origin");
  if (origin === null) return false;
  try {
    const url = new URL(origin);
    return url.protocol !== "http:" || !loopbackHost(url.host, port);
  } catch {
    return true; // "null" and anything unreadable
  }
}

const SAFE_METHODS = ["GET", "HEAD", "OPTIONS"];

/** Answers one request through `table`, as the server on `port` does. */
export async function handle(
  request: Request,
  playground: WebPlayground,
  port: number,
  table: Route[] = routes,
): Promise<Response> {
  const response = await answer(request, playground, port, table);
  const headers = new Headers(response.headers);
  headers.set("x-content-type-options", "nosniff");
  // A page may ask for same-origin: with no-referrer its forms' Origin would be "null".
  if (!headers.has("referrer-policy")) headers.set("referrer-policy", "no-referrer");
  if (!headers.has("cache-control")) headers.set("cache-control", "no-store");
  const body = request.method === "HEAD" ? null : response.body;
  if (request.method === "HEAD") await response.body?.cancel();
  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}

async function answer(
  request: Request,
  playground: WebPlayground,
  port: number,
  table: Route[],
): Promise<Response> {
  if (!loopbackHost(request.headers.get("host"), port)) {
    return failure(403, "this server answers only to 127.0.0.1, localhost or [::1] with its port");
  }
  if (!SAFE_METHODS.includes(request.method) && crossSite(request, port)) {
    return failure(403, "a request from another site may not change anything here");
  }
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    return failure(400, "unreadable request address");
  }
  const method = request.method === "HEAD" ? "GET" : request.method;
  const allowed = new Set<string>();
  for (const row of table) {
    const match = row.pattern.exec({ pathname: url.pathname });
    if (!match) continue;
    if (row.method !== method) {
      allowed.add(row.method);
      continue;
    }
    try {
      return await row.handler(request, match, playground);
    } catch {
      return failure(500, "internal error");
    }
  }
  if (allowed.size > 0) {
    if (allowed.has("GET")) allowed.add("HEAD");
    return failure(405, `method ${request.method} not allowed here`, {
      allow: [...allowed].join(", "),
    });
  }
  return failure(404, "no such page");
}

/** A running web server. */
export interface WebServer {
  /** The port it listens on. */
  port: number;
  /** Its address, as the banner prints it (`http://127.0.0.1:8025/`). */
  url: string;
  /** Ends open answers (SSE) and stops listening. */
  close(): Promise<void>;
}

/** Starts the web port on `hostname` (loopback) and `port` (0: any free one). */
export async function startWeb(
  mailroom: Mailroom,
  options: { hostname: string; port: number; table?: Route[]; failures?: FailureControl },
): Promise<WebServer> {
  const stops = new Set<() => void>();
  const playground: WebPlayground = {
    mailroom,
    failures: options.failures,
    onClose(stop) {
      stops.add(stop);
      return () => stops.delete(stop);
    },
  };
  let port = 0;
  const listening = Promise.withResolvers<void>();
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen: (address) => {
      port = address.port;
      listening.resolve();
    },
    onError: () => failure(500, "internal error"),
  }, (request) => handle(request, playground, port, options.table));
  await Promise.race([listening.promise, server.finished]);
  const host = options.hostname.includes(":") ? `[${options.hostname}]` : options.hostname;
  return {
    port,
    url: `http://${host}:${port}/`,
    async close() {
      for (const stop of [...stops]) stop();
      await server.shutdown();
    },
  };
}
