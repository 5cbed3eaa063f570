/**
 * The failure table on the web port, for the routes table of
 * playground/web.ts:
 *
 * - `GET /api/failures`: `{ "failures": ["rcpt:550", "data:slow=200:50"], "seed": 7 }`;
 * - `PUT /api/failures` with a JSON body of the same shape (`seed` optional:
 *   a new random one without it) replaces the table, with the checks of
 *   `--fail`; a bad spec is a 400 naming it. The new table applies to the
 *   sessions that connect after it, never to one already running.
 *
 * @module
 */

import { failure, type Handler, json, type Route, route } from "./http.ts";
import type { FailureTable } from "./failures.ts";

/** The largest body PUT reads, in bytes. */
export const MAX_FAILURES_BODY = 65_536;

/** The table as the API shows it. */
export function failuresJson(table: FailureTable): { failures: string[]; seed: number } {
  return { failures: table.describe(), seed: table.seed };
}

const getFailures: Handler = (_request, _match, { failures }) => {
  if (!failures) return failure(404, "this playground has no failure table");
  return json(failuresJson(failures.table));
};

const putFailures: Handler = async (request, _match, { failures }) => {
  if (!failures) return failure(404, "this playground has no failure table");
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    return failure(415, "PUT /api/failures takes application/json");
  }
  const text = await readLimited(request, MAX_FAILURES_BODY);
  if (text === null) return failure(413, `the body is over ${MAX_FAILURES_BODY} bytes`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return failure(400, "the body is not JSON");
  }
  const problem = shapeProblem(body);
  if (problem) return failure(400, problem);
  const { failures: specs, seed } = body as { failures: string[]; seed?: number };
  try {
    return json(failuresJson(failures.replace(specs, seed)));
  } catch (error) {
    return failure(400, (error as Error).message);
  }
};

/** What is wrong with a PUT body's shape, or null. */
function shapeProblem(body: unknown): string | null {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return 'the body is { "failures": ["STEP:ACTION[:PERCENT]", ...], "seed": N }';
  }
  const unknown = Object.keys(body).find((key) => key !== "failures" && key !== "seed");
  if (unknown !== undefined) return `unknown field ${JSON.stringify(unknown)}`;
  const { failures, seed } = body as { failures?: unknown; seed?: unknown };
  if (!Array.isArray(failures) || failures.some((spec) => typeof spec !== "string")) {
    return "failures takes an array of STEP:ACTION[:PERCENT] strings";
  }
  if (failures.length > 100) return "failures takes at most 100 rules";
  if (
    seed !== undefined &&
    !(typeof seed === "number" && Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff)
  ) {
    return "seed takes a whole number from 0 to 4294967295";
  }
  return null;
}

/** The body as text, or null when it is over `limit` bytes. */
async function readLimited(request: Request, limit: number): Promise<string | null> {
  if (!request.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.length;
    if (size > limit) return null;
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return new TextDecoder().decode(bytes);
}

/** The failure table's routes. */
export const FAILURE_ROUTES: Route[] = [
  route("GET", "/api/failures", getFailures),
  route("PUT", "/api/failures", putFailures),
];
