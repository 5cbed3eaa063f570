/**
 * The failures page of the web inbox (`/failures`): the rules the
 * playground fails by (`--fail`), each with a button that switches it off,
 * a field that switches one more on, and a button that switches them all
 * off. Plain forms (POST, no script needed), refused unless their `Origin`
 * is this server's own; every value goes through the escaping `markup`
 * template. A change applies to the next SMTP session, never to one
 * already running.
 *
 * The routes are rows of the one routes table (playground/web.ts) and use
 * the playground's {@link FailureControl}.
 *
 * @module
 */

import { type Handler, type Route, route } from "../http.ts";
import type { FailureControl } from "../failures.ts";
import { markup, type SafeHtml } from "./html.ts";
import { layout } from "./layout.ts";
import { errorPage, pageResponse } from "./routes.ts";

/** The page's path. */
export const FAILURES_PATH = "/failures";

/** The largest form body read, in bytes. */
const MAX_FORM_BYTES = 16_384;

/** The failures page: the rules, their off buttons, the on field; `problem` above them. */
export function failuresPage(
  rules: string[],
  seed: number,
  problem?: string,
  typed = "",
): SafeHtml {
  const list = rules.length === 0
    ? markup`<p class="empty">Nothing fails on purpose: every session goes as normal.</p>`
    : markup`
    <ul class="failures">
    ${
      rules.map((rule) =>
        markup`<li><code>${rule}</code>
      <form method="post" action="${FAILURES_PATH}/off" class="inline">
        <input type="hidden" name="rule" value="${rule}">
        <button type="submit">Switch off</button>
      </form></li>`
      )
    }
    </ul>
    <form method="post" action="${FAILURES_PATH}/off" class="inline">
      <input type="hidden" name="rule" value="*">
      <button type="submit" class="danger">Switch all off</button>
    </form>`;
  return layout(
    { title: "Failures", section: "failures" },
    markup`<h1>Failing on purpose</h1>
    <p>The playground fails at these steps of every new session (seed ${seed}); a session already
    running keeps the rules it started with.</p>
    ${problem === undefined ? "" : markup`<p class="problem" role="alert">${problem}</p>`}
    ${list}
    <form method="post" action="${FAILURES_PATH}/on">
      <label for="rule">Switch on <code>STEP:ACTION[:PERCENT]</code></label>
      <input id="rule" name="rule" required maxlength="500" value="${typed}"
        placeholder="rcpt:550, ehlo:502, data:stall, message:451:50">
      <button type="submit">Switch on</button>
    </form>
    <p>Steps: connect, ehlo, helo, starttls, ehlo2, auth, mail, rcpt, rcpt=ADDRESS, data, message,
    quit. Actions: a 4xx or 5xx code, drop, stall, slow=MS.</p>`,
  );
}

/**
 * Whether a form came from this server's own page: its `Origin` is present
 * and names the `Host` it was sent to. Stricter than the web port's check
 * for every route (which lets a request without `Origin` through, as curl
 * sends it): a browser always sends `Origin` with a form's POST, so a
 * missing one is not a page of ours.
 */
function ownOrigin(request: Request): boolean {
  const origin = request.headers.get("origin");
  const host = request.headers.get("host");
  return origin !== null && host !== null && origin === `http://${host}`;
}

/** The `rule` field of a urlencoded form, or null for a form that is not one. */
async function ruleField(request: Request): Promise<string | null> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(type)) return null;
  const text = await request.text();
  if (text.length > MAX_FORM_BYTES) return null;
  return new URLSearchParams(text).get("rule")?.trim() ?? null;
}

/** The page again with `problem` said, status 400. */
function refused(control: FailureControl, problem: string, typed: string): Response {
  return pageResponse(
    failuresPage(control.table.describe(), control.table.seed, problem, typed),
    400,
  );
}

/** A form's answer: back to the page, as a browser expects after a POST. */
function backToPage(): Response {
  return new Response(null, {
    status: 303,
    headers: { location: FAILURES_PATH, "cache-control": "no-cache" },
  });
}

function noTable(): Response {
  return errorPage(404, "Not found", "This playground has no failure table.");
}

function foreign(): Response {
  return errorPage(
    403,
    "Forbidden",
    "This form may be sent only from the inbox's own pages (the request's Origin was not this server).",
  );
}

const showPage: Handler = (_request, _match, { failures }) => {
  if (!failures) return noTable();
  return pageResponse(failuresPage(failures.table.describe(), failures.table.seed));
};

const switchOn: Handler = async (request, _match, { failures }) => {
  if (!failures) return noTable();
  if (!ownOrigin(request)) return foreign();
  const rule = await ruleField(request);
  if (!rule) return refused(failures, "Type a rule such as rcpt:550.", "");
  try {
    failures.replace([...failures.table.describe(), rule], failures.table.seed);
  } catch (error) {
    return refused(failures, (error as Error).message, rule);
  }
  return backToPage();
};

const switchOff: Handler = async (request, _match, { failures }) => {
  if (!failures) return noTable();
  if (!ownOrigin(request)) return foreign();
  const rule = await ruleField(request);
  if (rule === null) return refused(failures, "The form named no rule.", "");
  const rules = failures.table.describe();
  if (rule !== "*" && !rules.includes(rule)) {
    return refused(failures, `${rule} is not switched on.`, "");
  }
  failures.replace(rule === "*" ? [] : rules.filter((r) => r !== rule), failures.table.seed);
  return backToPage();
};

/** The failures page's routes, for the routes table. */
export const FAILURE_PAGE_ROUTES: Route[] = [
  route("GET", FAILURES_PATH, showPage),
  route("POST", `${FAILURES_PATH}/on`, switchOn),
  route("POST", `${FAILURES_PATH}/off`, switchOff),
];
