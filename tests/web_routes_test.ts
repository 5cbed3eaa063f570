/**
 * Unit tests of the web inbox's routes, with requests made in memory (no
 * socket): status codes, the CSP and other headers each kind of answer
 * carries, the forms' Origin check, and what the forms change.
 *
 * @module
 */

import assert from "node:assert/strict";
import { PAGE_CSP, rawSource } from "../playground/web/routes.ts";
import { handle } from "../playground/web.ts";
import { HTML_PART_CSP } from "../playground/web/message.ts";
import {
  debugSession,
  HOSTILE,
  hostileMessage,
  MemoryMailroom,
  plainMessage,
} from "./web_fixtures.ts";

const BASE = "http://127.0.0.1:8025";

function mailroom(): MemoryMailroom {
  return new MemoryMailroom(
    [plainMessage(), hostileMessage(), plainMessage("0000000001.alice", null)],
    [debugSession()],
  );
}

/** A request answered as the web port on 8025 answers it, through its one routes table. */
function serve(room: MemoryMailroom, request: Request): Promise<Response> {
  return handle(request, { mailroom: room, onClose: () => () => {} }, 8025);
}

function get(room: MemoryMailroom, path: string, host = "127.0.0.1:8025"): Promise<Response> {
  return serve(room, new Request(BASE + path, { headers: { host } }));
}

function post(room: MemoryMailroom, path: string, origin: string | null = BASE) {
  const headers = new Headers({ host: "127.0.0.1:8025" });
  if (origin !== null) headers.set("origin", origin);
  return serve(room, new Request(BASE + path, { method: "POST", headers }));
}

Deno.test("every page goes out as HTML under the strict CSP, with no-sniff and a same-origin referrer", async () => {
  const room = mailroom();
  for (
    const path of ["/", "/?user=alice", "/messages/3F2A9C01BE.brandon", "/sessions", "/sessions/7"]
  ) {
    const response = await get(room, path);
    assert.equal(response.status, 200, path);
    assert.equal(response.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(response.headers.get("content-security-policy"), PAGE_CSP);
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    assert.equal(response.headers.get("referrer-policy"), "same-origin");
    assert.match(await response.text(), /^\s*<!doctype html>/);
  }
  assert.match(PAGE_CSP, /^default-src 'self'; /);
  assert.doesNotMatch(PAGE_CSP, /unsafe-inline|unsafe-eval|\*/);
});

Deno.test("the inbox shows one mailbox or all; an unknown mailbox is a 404, a bad page a 400", async () => {
  const room = mailroom();
  const all = await (await get(room, "/")).text();
  assert.match(all, /3 messages/);
  const alice = await (await get(room, "/?user=alice")).text();
  assert.match(alice, /1 message</);
  assert.match(alice, /<tr data-id="0000000001\.alice"/);
  assert.doesNotMatch(alice, /<tr data-id="[^"]*\.brandon"/);
  assert.equal((await get(room, "/?user=nobody")).status, 404);
  assert.equal((await get(room, "/?page=0")).status, 400);
  assert.equal((await get(room, "/?page=x")).status, 400);
  assert.equal((await get(room, "/sessions?outcome=lost")).status, 400);
  assert.equal((await get(room, "/sessions?outcome=delivered")).status, 200);
  assert.equal((await get(room, "/messages/NOPE.brandon")).status, 404);
  assert.equal((await get(room, "/sessions/99")).status, 404);
  // The pages answer only to loopback names, as the API does.
  for (const host of ["evil.example:8025", "127.0.0.1:9999", "127.0.0.1.nip.io:8025"]) {
    const refused = await get(room, "/", host);
    assert.equal(refused.status, 403, host);
    await refused.body?.cancel();
  }
  assert.equal((await get(room, "/", "localhost:8025")).status, 200);
});

Deno.test("opening a message marks it read", async () => {
  const room = mailroom();
  assert.match(
    await (await get(room, "/?user=brandon")).text(),
    /3F2A9C01BE\.brandon" class="unread"/,
  );
  await (await get(room, "/messages/3F2A9C01BE.brandon")).body?.cancel();
  assert.doesNotMatch(
    await (await get(room, "/?user=brandon")).text(),
    /3F2A9C01BE\.brandon" class="unread"/,
  );
});

Deno.test("the HTML part is served alone, under a CSP that runs and loads nothing, sandboxed", async () => {
  const room = mailroom();
  const response = await get(room, "/messages/AAAAAAAAAA.brandon/html");
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-security-policy"), HTML_PART_CSP);
  assert.equal(response.headers.get("referrer-policy"), "no-referrer");
  assert.equal(response.headers.get("x-dns-prefetch-control"), "off");
  assert.equal(await response.text(), HOSTILE.html);
  assert.match(HTML_PART_CSP, /^default-src 'none'; /);
  assert.match(HTML_PART_CSP, /img-src data:;/);
  assert.match(HTML_PART_CSP, /; sandbox$/);
  assert.doesNotMatch(HTML_PART_CSP, /script-src|http/);
  // A message without an HTML part has no such address.
  assert.equal((await get(room, "/messages/3F2A9C01BE.brandon/html")).status, 404);
});

Deno.test("the raw source is plain text under the same CSP; the page shows at most its start", async () => {
  const room = mailroom();
  const response = await get(room, "/messages/AAAAAAAAAA.brandon/raw");
  assert.equal(response.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(response.headers.get("content-security-policy"), HTML_PART_CSP);
  assert.match(await response.text(), /^X-Link: javascript:window\.pwned=4\r\n/);
  assert.deepEqual(rawSource(new Uint8Array([104, 105, 0xff])), {
    text: "hi\ufffd",
    size: 3,
    cut: false,
  });
  assert.deepEqual(rawSource(new TextEncoder().encode("abcdef"), 4), {
    text: "abcd",
    size: 6,
    cut: true,
  });
});

Deno.test("the forms delete only from this server's pages, then go back to the inbox", async () => {
  const room = mailroom();
  for (const origin of ["null", "http://evil.example", "http://127.0.0.1:9999"]) {
    const refused = await post(room, "/messages/3F2A9C01BE.brandon/delete", origin);
    assert.equal(refused?.status, 403, String(origin));
    await refused?.body?.cancel();
  }
  assert.equal(room.messages.length, 3);
  const deleted = await post(room, "/messages/3F2A9C01BE.brandon/delete");
  assert.equal(deleted?.status, 303);
  assert.equal(deleted?.headers.get("location"), "/?user=brandon");
  assert.deepEqual(room.messages.map((m) => m.id), ["AAAAAAAAAA.brandon", "0000000001.alice"]);
  assert.equal((await post(room, "/messages/3F2A9C01BE.brandon/delete"))?.status, 404);

  assert.equal(
    (await post(room, "/mailboxes/brandon/clear", "http://evil.example"))?.status,
    403,
  );
  const cleared = await post(room, "/mailboxes/brandon/clear");
  assert.equal(cleared?.status, 303);
  assert.equal(cleared?.headers.get("location"), "/?user=brandon");
  assert.deepEqual(room.messages.map((m) => m.id), ["0000000001.alice"]);
  assert.equal((await post(room, "/mailboxes/nobody/clear"))?.status, 404);
});

Deno.test("a wrong method is a 405; our script and style sheet are served with their types", async () => {
  const room = mailroom();
  assert.equal((await post(room, "/"))?.status, 405);
  assert.equal((await get(room, "/messages/3F2A9C01BE.brandon/delete")).status, 405);
  const script = await get(room, "/static/app.js");
  assert.equal(script.headers.get("content-type"), "text/javascript; charset=utf-8");
  assert.match(await script.text(), /new EventSource\("\/api\/events"\)/);
  const style = await get(room, "/static/style.css");
  assert.equal(style.headers.get("content-type"), "text/css; charset=utf-8");
  assert.match(await style.text(), /prefers-color-scheme: dark/);
  assert.equal((await get(room, "/static/%2e%2e%2froutes.ts")).status, 404);
  assert.equal((await get(room, "/static/other.js")).status, 404);
});
