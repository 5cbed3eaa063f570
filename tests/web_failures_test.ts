/**
 * The failures page of the web inbox (playground/web/failures.ts), over
 * HTTP: it shows the rules escaped, its forms switch rules on and off for
 * the next session, a bad rule comes back as a 400 page that names it, and
 * a form from anywhere but the page's own origin changes nothing.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Playground, startPlayground } from "../playground/server.ts";
import { FailureTable } from "../playground/failures.ts";
import { rawSession } from "./playground_run.ts";

async function withWeb(
  specs: string[],
  body: (
    playground: Playground,
    web: (path: string, init?: RequestInit) => Promise<Response>,
  ) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "web-failures-test-" });
  const playground = await startPlayground({
    port: 0,
    dataDir: dir,
    closeTimeout: 200,
    web: { port: 0 },
    failures: FailureTable.parse(specs, { seed: 3 }),
  });
  try {
    await body(playground, (path, init) => fetch(new URL(path, playground.webUrl), init));
  } finally {
    await playground.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** A form POST as a browser sends it from the page at `origin`. */
function form(fields: Record<string, string>, origin: string | null): RequestInit {
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
  if (origin !== null) headers.origin = origin;
  return { method: "POST", headers, body: new URLSearchParams(fields), redirect: "manual" };
}

const rules = async (web: (path: string) => Promise<Response>) =>
  (await (await web("/api/failures")).json()).failures;

Deno.test("the failures page lists the rules, escaped, under the pages' CSP", async () => {
  await withWeb(['rcpt=a"b&c@example.com:550', "data:stall"], async (_playground, web) => {
    const response = await web("/failures");
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-security-policy")!, /default-src 'self'/);
    const page = await response.text();
    assert.match(page, /<code>rcpt=a&quot;b&amp;c@example.com:550<\/code>/);
    assert.match(
      page,
      /<input type="hidden" name="rule" value="rcpt=a&quot;b&amp;c@example.com:550">/,
    );
    assert.match(page, /<code>data:stall<\/code>/);
    assert.match(page, /seed 3/);
    assert.match(page, /<a href="\/failures" aria-current="page">Failures<\/a>/);
    assert.doesNotMatch(page, /a"b&c/);
  });
});

Deno.test("the forms switch rules on and off, for the next session", async () => {
  await withWeb([], async (playground, web) => {
    const origin = new URL(playground.webUrl!).origin;
    const on = await web("/failures/on", form({ rule: "mail:451" }, origin));
    assert.equal(on.status, 303);
    assert.equal(on.headers.get("location"), "/failures");
    await on.body?.cancel();
    assert.deepEqual(await rules(web), ["mail:451"]);
    const replies = await rawSession(playground.port, [
      "EHLO [127.0.0.1]",
      "MAIL FROM:<sender@example.com>",
    ]);
    assert.equal(replies[2], "451 4.3.0 <sender@example.com>: Temporary lookup failure\r\n");

    await (await web("/failures/on", form({ rule: "rcpt:550" }, origin))).body?.cancel();
    assert.deepEqual(await rules(web), ["mail:451", "rcpt:550"]);
    await (await web("/failures/off", form({ rule: "mail:451" }, origin))).body?.cancel();
    assert.deepEqual(await rules(web), ["rcpt:550"]);
    await (await web("/failures/on", form({ rule: "quit:421" }, origin))).body?.cancel();
    await (await web("/failures/off", form({ rule: "*" }, origin))).body?.cancel();
    assert.deepEqual(await rules(web), []);
    // The seed stays what it was.
    assert.equal((await (await web("/api/failures")).json()).seed, 3);
  });
});

Deno.test("a bad rule comes back as a 400 page that names it, the typed text escaped", async () => {
  await withWeb(["rcpt:550"], async (playground, web) => {
    const origin = new URL(playground.webUrl!).origin;
    const cases: [Record<string, string>, RegExp][] = [
      [{ rule: "<b>bold</b>:550" }, /unknown step &quot;&lt;b&gt;bold&lt;\/b&gt;&quot;/],
      [{ rule: "mail:250" }, /the code 250 is not a failure/],
      [{ rule: "rcpt:451" }, /rcpt is given twice/],
      [{ rule: "" }, /Type a rule such as rcpt:550/],
    ];
    for (const [fields, reason] of cases) {
      const response = await web("/failures/on", form(fields, origin));
      assert.equal(response.status, 400, fields.rule);
      const page = await response.text();
      assert.match(page, /<p class="problem" role="alert">/);
      assert.match(page, reason);
      assert.doesNotMatch(page, /<b>bold/);
    }
    const off = await web("/failures/off", form({ rule: "data:stall" }, origin));
    assert.equal(off.status, 400);
    assert.match(await off.text(), /data:stall is not switched on/);
    assert.deepEqual(await rules(web), ["rcpt:550"]);
  });
});

Deno.test("a form from another origin, or with none, changes nothing", async () => {
  await withWeb(["rcpt:550"], async (playground, web) => {
    const port = new URL(playground.webUrl!).port;
    for (const origin of ["http://evil.example", `http://localhost:${port}`, null]) {
      const response = await web("/failures/off", form({ rule: "*" }, origin));
      assert.equal(response.status, 403, String(origin));
      await response.body?.cancel();
    }
    assert.deepEqual(await rules(web), ["rcpt:550"]);
  });
});
