/**
 * The failure table on the web port (playground/failures_api.ts): GET shows
 * it, PUT replaces it with the checks of `--fail` (a bad spec is a 400 that
 * names it), another site may not change it, and the new table applies to
 * the next SMTP session only.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Playground, startPlayground } from "../playground/server.ts";
import { FailureTable } from "../playground/failures.ts";
import { rawSession } from "./playground_run.ts";

/** Runs `body` against a playground failing as `specs` say, its web port on a free port. */
async function withWeb(
  specs: string[],
  body: (
    playground: Playground,
    api: (path: string, init?: RequestInit) => Promise<Response>,
  ) => Promise<void>,
  options: { starttls?: boolean } = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "failures-api-test-" });
  const playground = await startPlayground({
    port: 0,
    dataDir: dir,
    closeTimeout: 200,
    web: { port: 0 },
    failures: FailureTable.parse(specs, { seed: 5 }),
    ...options,
  });
  try {
    await body(playground, (path, init) => fetch(new URL(path, playground.webUrl), init));
  } finally {
    await playground.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const put = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: "PUT",
  headers: { "content-type": "application/json", ...headers },
  body: typeof body === "string" ? body : JSON.stringify(body),
});

Deno.test("GET /api/failures shows the table as --fail wrote it, with its seed", async () => {
  await withWeb(["rcpt:550", "data:slow=200:50"], async (_playground, api) => {
    const response = await api("/api/failures");
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type")!, /^application\/json/);
    assert.deepEqual(await response.json(), {
      failures: ["rcpt:550", "data:slow=200:50"],
      seed: 5,
    });
  });
});

Deno.test("PUT /api/failures replaces the table for the next session, not a running one", async () => {
  await withWeb([], async (playground, api) => {
    const running = await Deno.connect({ hostname: "127.0.0.1", port: playground.port });
    try {
      const response = await api("/api/failures", put({ failures: ["mail:451"], seed: 9 }));
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { failures: ["mail:451"], seed: 9 });
      assert.deepEqual(await (await api("/api/failures")).json(), {
        failures: ["mail:451"],
        seed: 9,
      });
      const replies = await rawSession(playground.port, [
        "EHLO [127.0.0.1]",
        "MAIL FROM:<sender@example.com>",
      ]);
      assert.equal(replies[2], "451 4.3.0 <sender@example.com>: Temporary lookup failure\r\n");
      // Without a seed, a new one is picked; an empty list switches everything off.
      const off = await (await api("/api/failures", put({ failures: [] }))).json();
      assert.deepEqual(off.failures, []);
      assert.equal(typeof off.seed, "number");
      const again = await rawSession(playground.port, [
        "EHLO [127.0.0.1]",
        "MAIL FROM:<sender@example.com>",
      ]);
      assert.equal(again[2], "250 2.1.0 Ok\r\n");
    } finally {
      running.close();
    }
  });
});

Deno.test("PUT /api/failures refuses a bad table with a 400 naming the bad part", async () => {
  await withWeb(["rcpt:550"], async (_playground, api) => {
    const cases: [RequestInit, number, RegExp][] = [
      [put({ failures: ["hello:550"] }), 400, /unknown step "hello"/],
      [put({ failures: ["mail:250"] }), 400, /the code 250 is not a failure/],
      [put({ failures: ["mail:550:101"] }), 400, /the percent "101" is not 0 to 100/],
      [put({ failures: ["mail:550", "mail:451"] }), 400, /mail is given twice/],
      [put({ failures: "rcpt:550" }), 400, /failures takes an array/],
      [put({ failures: [], seed: -1 }), 400, /seed takes a whole number/],
      [put({ failures: [], extra: 1 }), 400, /unknown field "extra"/],
      [put("[1,"), 400, /not JSON/],
      [put({ failures: [] }, { "content-type": "text/plain" }), 415, /application\/json/],
      [put({ failures: ["x".repeat(70_000)] }), 413, /over 65536 bytes/],
    ];
    for (const [init, status, reason] of cases) {
      const response = await api("/api/failures", init);
      assert.equal(response.status, status, String(init.body).slice(0, 60));
      assert.match((await response.json()).error, reason);
    }
    // Nothing changed.
    assert.deepEqual((await (await api("/api/failures")).json()).failures, ["rcpt:550"]);
  });
});

Deno.test("PUT /api/failures: no STARTTLS failure where STARTTLS is not offered", async () => {
  await withWeb([], async (_playground, api) => {
    const response = await api("/api/failures", put({ failures: ["starttls:454"] }));
    assert.equal(response.status, 400);
    assert.match((await response.json()).error, /STARTTLS is not offered/);
  }, { starttls: false });
});

Deno.test("another site may not change the failures", async () => {
  await withWeb([], async (_playground, api) => {
    const response = await api(
      "/api/failures",
      put({ failures: ["rcpt:550"] }, { origin: "http://evil.example" }),
    );
    assert.equal(response.status, 403);
    await response.body?.cancel();
    assert.deepEqual((await (await api("/api/failures")).json()).failures, []);
    const post = await api("/api/failures", { method: "DELETE" });
    assert.equal(post.status, 405);
    assert.match(post.headers.get("allow")!, /GET/);
    await post.body?.cancel();
  });
});
