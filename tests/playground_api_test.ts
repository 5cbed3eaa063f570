/**
 * The playground's JSON API over HTTP on loopback (playground/web.ts,
 * playground/api.ts): each endpoint on real deliveries, each error (404,
 * 405, 400), and the Host and Origin checks.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Playground, startPlayground } from "../playground/server.ts";
import { rawSession } from "./playground_run.ts";
import type { MessageDetail, MessagePage } from "../playground/model.ts";

/** Runs `body` against a playground with its web port on a free port. */
async function withWeb(
  body: (
    playground: Playground,
    api: (path: string, init?: RequestInit) => Promise<Response>,
  ) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "playground-api-test-" });
  const playground = await startPlayground({
    port: 0,
    dataDir: dir,
    closeTimeout: 200,
    users: { brandon: "abc123", alice: "secret" },
    web: { port: 0 },
  });
  try {
    await body(playground, (path, init) => fetch(new URL(path, playground.webUrl), init));
  } finally {
    await playground.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const MULTIPART = [
  "From: =?utf-8?q?Br=C3=A4ndon?= <sender@example.com>",
  "To: Brandon <brandon@example.com>, alice@example.com",
  "Subject: =?utf-8?b?SGVsbG8g4pyJ?=",
  "MIME-Version: 1.0",
  'Content-Type: multipart/mixed; boundary="b1"',
  "",
  "--b1",
  "Content-Type: text/html; charset=utf-8",
  "",
  "<p>Hello <b>there</b></p>",
  "--b1",
  'Content-Type: application/pdf; name="r\u00e9sum\u00e9.pdf"',
  'Content-Disposition: attachment; filename="report.pdf"',
  "Content-Transfer-Encoding: base64",
  "",
  "JVBERi0xLjQK",
  "--b1--",
  "..a line that began with a dot",
].join("\r\n");

/** Sends `message` from sender@example.com to `recipients`; returns the queue id. */
async function send(port: number, recipients: string[], message: string): Promise<string> {
  const replies = await rawSession(port, [
    "EHLO client.example.com",
    "MAIL FROM:<sender@example.com>",
    ...recipients.map((r) => `RCPT TO:<${r}>`),
    "DATA",
    `${message}\r\n.`,
    "QUIT",
  ]);
  const queued = /queued as ([0-9A-F]{10})/.exec(replies.at(-2)!);
  assert.ok(queued, replies.join(""));
  return queued[1];
}

Deno.test("api: messages are listed newest first, shown decoded, raw as sent, and removed", async () => {
  await withWeb(async (playground, api) => {
    const first = await send(playground.port, ["brandon@example.com"], "Subject: one\r\n\r\nHi");
    const second = await send(
      playground.port,
      ["brandon@example.com", "alice@example.com"],
      MULTIPART,
    );

    const all = await (await api("/api/messages")).json() as MessagePage;
    assert.equal(all.total, 3);
    assert.deepEqual(
      all.messages.map((m) => m.id).slice(-1),
      [`${first}.brandon`],
    );
    assert.deepEqual(
      new Set(all.messages.slice(0, 2).map((m) => m.id)),
      new Set([`${second}.brandon`, `${second}.alice`]),
    );
    const page = await (await api("/api/messages?user=brandon")).json() as MessagePage;
    assert.deepEqual(page.messages.map((m) => m.id), [`${second}.brandon`, `${first}.brandon`]);
    const summary = page.messages[0];
    assert.equal(summary.from, "Brändon <sender@example.com>");
    assert.deepEqual(summary.to, ["Brandon <brandon@example.com>", "alice@example.com"]);
    assert.equal(summary.subject, "Hello ✉");
    assert.equal(summary.user, "brandon");
    assert.equal(summary.unread, true);
    // The size as the client sent it: after dot-unstuffing, before the trace headers.
    const sent = new TextEncoder().encode(MULTIPART.replace("\r\n..a", "\r\n.a") + "\r\n");
    assert.equal(summary.size, sent.length);
    assert.match(summary.date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);

    const paged = await (await api("/api/messages?offset=1&limit=1")).json() as MessagePage;
    assert.equal(paged.total, 3);
    assert.equal(paged.messages.length, 1);
    assert.equal(paged.messages[0].id, all.messages[1].id);

    const response = await api(`/api/messages/${second}.brandon`);
    assert.equal(response.headers.get("content-type"), "application/json; charset=utf-8");
    assert.equal(response.headers.get("access-control-allow-origin"), null);
    const detail = await response.json() as MessageDetail;
    assert.equal(detail.unread, false);
    assert.equal(detail.text, "Hello there"); // the HTML alone, turned into text
    assert.equal(detail.html, "<p>Hello <b>there</b></p>");
    assert.deepEqual(detail.attachments, [
      { filename: "report.pdf", contentType: "application/pdf", size: 9 },
    ]);
    assert.deepEqual(detail.headers.find(([name]) => name === "Subject"), ["Subject", "Hello ✉"]);
    assert.equal(detail.headers[0][0], "Return-Path");
    assert.match(detail.headers[1][1], new RegExp(`with ESMTP id ${second}\\b`));
    const listed = await (await api("/api/messages?user=brandon")).json() as MessagePage;
    assert.equal(listed.messages[0].unread, false, "opening it marks it read");
    assert.equal(listed.messages[1].unread, true);

    const raw = await api(`/api/messages/${second}.alice/raw`);
    assert.equal(raw.headers.get("content-type"), "message/rfc822");
    assert.deepEqual(new Uint8Array(await raw.arrayBuffer()), sent);
    assert.equal(raw.headers.get("content-security-policy"), "sandbox; default-src 'none'");
    assert.equal(raw.headers.get("x-content-type-options"), "nosniff");

    const file = await api(`/api/messages/${second}.alice/attachments/0`);
    assert.equal(file.headers.get("content-type"), "application/pdf");
    assert.match(file.headers.get("content-disposition")!, /^attachment; filename="report\.pdf"/);
    assert.equal(new TextDecoder().decode(await file.arrayBuffer()), "%PDF-1.4\n");
    assert.equal(file.headers.get("content-security-policy"), "sandbox; default-src 'none'");
    assert.equal(file.headers.get("x-content-type-options"), "nosniff");

    const removed = await api(`/api/messages/${second}.brandon`, { method: "DELETE" });
    assert.deepEqual(await removed.json(), { deleted: `${second}.brandon` });
    const left = await (await api("/api/messages")).json() as MessagePage;
    assert.deepEqual(left.messages.map((m) => m.id), [`${second}.alice`, `${first}.brandon`]);
    // alice's copy still has its raw source; brandon's mbox holds the first message whole.
    assert.equal((await api(`/api/messages/${second}.alice/raw`)).status, 200);
    const mbox = await Deno.readTextFile(`${playground.dataDir}/brandon`);
    assert.equal(mbox.match(/^From /gm)?.length, 1);
    assert.match(mbox, /^Subject: one\n\nHi\n\n$/m);

    const cleared = await api("/api/messages?user=alice", { method: "DELETE" });
    assert.deepEqual(await cleared.json(), { deleted: 1 });
    assert.equal((await api(`/api/messages/${second}.alice/raw`)).status, 404);
    assert.equal(await Deno.readTextFile(`${playground.dataDir}/alice`), "");
    assert.deepEqual(await (await api("/api/users")).json(), ["alice", "brandon"]);
  });
});

Deno.test("api: unknown ids are 404, wrong methods 405 with Allow, bad queries 400, as JSON", async () => {
  await withWeb(async (playground, api) => {
    const queueId = await send(playground.port, ["brandon@example.com"], "Subject: x\r\n\r\ny");
    const cases: [string, RequestInit | undefined, number][] = [
      ["/api/messages/0000000000.brandon", undefined, 404],
      ["/api/messages/nonsense", undefined, 404],
      [`/api/messages/${queueId}.alice`, undefined, 404], // not alice's
      [`/api/messages/${queueId}.brandon/attachments/0`, undefined, 404],
      [`/api/messages/${queueId}.brandon/attachments/-1`, undefined, 404],
      [`/api/messages/${queueId}.brandon/attachments/99999999999999999999`, undefined, 404],
      ["/api/messages/..%2F..%2Fetc%2Fpasswd", undefined, 404],
      ["/api/messages/%2e%2e/raw", undefined, 404],
      ["/api/sessions/999999999999999999999", undefined, 404],
      ["/api/sessions/-1", undefined, 404],
      ["/api/nothing", undefined, 404],
      ["/nothing", undefined, 404], // "/" is the web inbox
      ["/api/messages/0000000000.brandon", { method: "DELETE" }, 404],
      ["/api/messages?user=nobody", undefined, 404],
      ["/api/messages?user=../../etc", undefined, 404],
      ["/api/messages?limit=-1", undefined, 400],
      ["/api/messages?limit=ten", undefined, 400],
      ["/api/messages?offset=1e3", undefined, 400],
      ["/api/messages?limit=100000000", undefined, 400],
      ["/api/messages?colour=red", undefined, 400],
      ["/api/messages?user=brandon&user=alice", undefined, 400],
      ["/api/messages", { method: "DELETE" }, 400], // no ?user=
      ["/api/sessions?limit=x", undefined, 400],
      [`/api/messages/${queueId}.brandon?x=1`, undefined, 400],
    ];
    for (const [path, init, status] of cases) {
      const response = await api(path, init);
      assert.equal(response.status, status, `${init?.method ?? "GET"} ${path}`);
      assert.equal(response.headers.get("content-type"), "application/json; charset=utf-8");
      const body = await response.json();
      assert.equal(typeof body.error, "string", path);
      assert.doesNotMatch(body.error, /\bat .*\.ts:\d+/, "no stack trace");
    }
    for (
      const [path, method, allow] of [
        ["/api/messages", "PUT", "GET, DELETE, HEAD"],
        [`/api/messages/${queueId}.brandon`, "POST", "GET, DELETE, HEAD"],
        ["/api/sessions", "DELETE", "GET, HEAD"],
        ["/api/events", "OPTIONS", "GET, HEAD"],
      ]
    ) {
      const response = await api(path, { method });
      assert.equal(response.status, 405, `${method} ${path}`);
      assert.equal(response.headers.get("allow"), allow);
      assert.equal(response.headers.get("access-control-allow-origin"), null);
      await response.body?.cancel();
    }
    const head = await api("/api/messages", { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
    // Nothing was removed by any of it.
    assert.equal(((await (await api("/api/messages")).json()) as MessagePage).total, 1);
  });
});

/** One raw HTTP/1.1 request to `port`; resolves to the status line and the body. */
async function rawRequest(
  port: number,
  lines: string[],
): Promise<{ status: number; body: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      new TextEncoder().encode([...lines, "Connection: close", "", ""].join("\r\n")),
    );
    const text = new TextDecoder().decode(
      await new Response(conn.readable).arrayBuffer(),
    );
    return { status: Number(text.slice(9, 12)), body: text.slice(text.indexOf("\r\n\r\n") + 4) };
  } catch (error) {
    conn.close();
    throw error;
  }
}

Deno.test("api: only loopback Host names with the port; no cross-site DELETE", async () => {
  await withWeb(async (playground, api) => {
    const port = playground.webPort!;
    await send(playground.port, ["brandon@example.com"], "Subject: x\r\n\r\ny");
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
      const { status } = await rawRequest(port, ["GET /api/messages HTTP/1.1", `Host: ${host}`]);
      assert.equal(status, 200, host);
    }
    for (
      const host of [
        "evil.example.com",
        `evil.example.com:${port}`,
        "127.0.0.1",
        `127.0.0.1:${port + 1}`,
        `localhost.evil.example.com:${port}`,
        `127.0.0.1:${port}@evil.example.com`,
      ]
    ) {
      const { status, body } = await rawRequest(port, [
        "GET /api/messages HTTP/1.1",
        `Host: ${host}`,
      ]);
      assert.equal(status, 403, host);
      assert.match(body, /"error":"this server answers only to 127\.0\.0\.1/);
    }
    const missing = await rawRequest(port, ["GET /api/messages HTTP/1.0"]);
    assert.ok(missing.status === 403 || missing.status === 400, String(missing.status));

    const id = ((await (await api("/api/messages")).json()) as MessagePage).messages[0].id;
    for (
      const headers of <Record<string, string>[]> [
        { origin: "http://evil.example.com" },
        { origin: "null" },
        { origin: `http://127.0.0.1:${port + 1}` },
        { origin: `https://127.0.0.1:${port}` },
        { "sec-fetch-site": "cross-site" },
      ]
    ) {
      for (const path of [`/api/messages/${id}`, "/api/messages?user=brandon"]) {
        const response = await api(path, { method: "DELETE", headers });
        assert.equal(response.status, 403, JSON.stringify(headers));
        assert.match((await response.json()).error, /another site/);
      }
    }
    // A cross-site GET may be answered (no CORS header lets the page read it), and it
    // did not delete anything; a same-origin DELETE is fine.
    const read = await api("/api/messages", { headers: { origin: "http://evil.example.com" } });
    assert.equal(read.headers.get("access-control-allow-origin"), null);
    assert.equal(((await read.json()) as MessagePage).total, 1);
    const own = await api(`/api/messages/${id}`, {
      method: "DELETE",
      headers: { origin: `http://localhost:${port}` },
    });
    assert.equal(own.status, 200);
    await own.body?.cancel();
  });
});

Deno.test("api: /api/events streams each new message, and ends when the client goes", async () => {
  await withWeb(async (playground, api) => {
    const controller = new AbortController();
    const response = await api("/api/events", { signal: controller.signal });
    assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n\n")) text += (await reader.read()).value ?? "";
    assert.match(text, /^: playground events\n/);
    const queueId = await send(playground.port, ["brandon@example.com"], "Subject: new\r\n\r\ny");
    while (!/event: message\ndata: .*\n\n/.test(text)) text += (await reader.read()).value ?? "";
    const data = JSON.parse(/event: message\ndata: (.*)\n\n/.exec(text)![1]);
    assert.equal(data.type, "message");
    assert.equal(data.message.id, `${queueId}.brandon`);
    assert.equal(data.message.subject, "new");
    controller.abort();
    await reader.cancel().catch(() => {});
  });
});
