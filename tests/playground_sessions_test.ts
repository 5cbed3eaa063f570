/**
 * The playground's record of its sessions, from real clients on loopback:
 * debug.ts's own transcript beside the recorded one (the same commands and
 * replies, in order); a login with no secret on disk or in the API; the
 * sessions that deliver nothing, each with its outcome, on every listener;
 * `/api/sessions` and its events; and a SIGKILL, after which the next start
 * reads every session back to its last line.
 *
 * @module
 */

import assert from "node:assert/strict";
import { connect as tlsConnect } from "node:tls";
import { type Playground, startPlayground } from "../playground/server.ts";
import { serverArgument } from "../playground/main.ts";
import { rawSession, runListing, withPlaygroundProcess } from "./playground_run.ts";
import type { SessionDetail, SessionSummary, TranscriptLine } from "../playground/model.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Runs `body` against a playground (provider mode too) with its web port on. */
async function withRecorded(
  body: (playground: Playground, api: <T>(path: string) => Promise<T>) => Promise<void>,
  options: { size?: number; idleTimeout?: number } = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "playground-sessions-test-" });
  const playground = await startPlayground({
    port: 0,
    dataDir: dir,
    closeTimeout: 200,
    provider: { tlsPort: 0, submissionPort: 0 },
    web: { port: 0 },
    size: options.size,
    idleTimeout: options.idleTimeout,
  });
  try {
    await body(playground, async (path) => {
      const response = await fetch(new URL(path, playground.webUrl));
      assert.equal(response.status, 200, path);
      return await response.json();
    });
  } finally {
    await playground.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Waits until the newest session has ended (the server notes a close a moment after it). */
async function ended(playground: Playground, count: number): Promise<SessionSummary[]> {
  for (let i = 0; i < 200; i++) {
    const sessions = playground.recorder!.listSessions();
    if (sessions.length >= count && sessions.every((s) => s.ended !== null)) return sessions;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`sessions still open: ${JSON.stringify(playground.recorder!.listSessions())}`);
}

/** The C/S lines of a recorded transcript, as `C: line`. */
function lines(detail: SessionDetail): string[] {
  return detail.transcript.filter((e): e is TranscriptLine => "dir" in e).map((e) =>
    `${e.dir}: ${e.line}`
  );
}

/** Python's repr of a str or bytes (as debug.ts prints it) back to the text, for plain ASCII. */
function unrepr(repr: string): string {
  return repr.replace(/^b?'|'$/g, "").replace(/\\r\\n$/, "").replaceAll("\\'", "'");
}

Deno.test("e2e: debug.ts's transcript and the server's list the same commands and replies in order", async () => {
  await withRecorded(async (playground, api) => {
    const server = serverArgument(playground.hostname, playground.port);
    const run = await runListing([], "debug.ts", [
      server,
      "sender@example.com",
      "brandon@example.com",
    ]);
    assert.equal(run.code, 0, run.stderr);
    const client: string[] = [];
    for (const line of run.stderr.split("\n")) {
      const send = /^send: ('.*')$/.exec(line); // b'...' is the message: one event on the server
      const reply = /^reply: (b'.*')$/.exec(line);
      if (send) client.push(`C: ${unrepr(send[1])}`);
      if (reply) client.push(`S: ${unrepr(reply[1])}`);
    }
    const [summary] = await ended(playground, 1);
    const detail = await api<SessionDetail>(`/api/sessions/${summary.id}`);
    // debug.ts prints no greeting (smtplib reads it before debugging starts); the rest matches.
    assert.deepEqual(lines(detail).slice(1), client);
    assert.match(lines(detail)[0], /^S: 220 mail\.example\.com ESMTP/);
    const message = detail.transcript.find((e) => "event" in e && e.event === "message");
    const queueId = /queued as ([0-9A-F]{10})/.exec(run.stderr)![1];
    assert.deepEqual(message && { ...message, t: 0 }, {
      t: 0,
      event: "message",
      id: `${queueId}.brandon`,
      size: Number(/size=(\d+)/.exec(run.stderr)![1]),
    });
    assert.equal(detail.outcome, "delivered");
    assert.equal(detail.listener, "book");
    assert.match(detail.client, /^127\.0\.0\.1:\d+$/);
    assert.deepEqual(detail.messages, [`${queueId}.brandon`]);
    // The message names its session; the times count up from the connection.
    const listed = await api<{ messages: { session: string }[] }>("/api/messages");
    assert.equal(listed.messages[0].session, summary.id);
    const times = detail.transcript.map((e) => e.t);
    assert.deepEqual(times, [...times].sort((a, b) => a - b));
  });
});

Deno.test("sessions: a login shows the user, never the password, on disk or in the API", async () => {
  await withRecorded(async (playground, api) => {
    const server = serverArgument(playground.hostname, playground.port);
    const run = await runListing(
      [],
      "login.ts",
      [server, "sender@example.com", "brandon@example.com"],
      "brandon\nabc123\n",
    );
    assert.equal(run.code, 0, run.stderr);
    const plain = btoa("\0brandon\0abc123");
    await rawSession(playground.port, ["EHLO x", `AUTH PLAIN ${plain}`, "QUIT"]);
    const sessions = await ended(playground, 2);
    assert.deepEqual(sessions.map((s) => s.user), ["brandon", "brandon"]);
    const everything = JSON.stringify(
      await Promise.all(
        sessions.map((s) => api(`/api/sessions/${s.id}`)),
      ),
    ) + JSON.stringify(await api("/api/sessions"));
    let disk = "";
    for await (const entry of Deno.readDir(`${playground.dataDir}/sessions`)) {
      disk += await Deno.readTextFile(`${playground.dataDir}/sessions/${entry.name}`);
    }
    for (const secret of ["abc123", plain, btoa("abc123")]) {
      assert.ok(!everything.includes(secret), `${secret} in the API`);
      assert.ok(!disk.includes(secret), `${secret} on disk`);
    }
    assert.match(disk, /"line":"AUTH PLAIN \*{8}","user":"brandon"/);
    assert.match(disk, /"line":"\*{8}","user":"brandon"/); // login.ts's CRAM-MD5 answer
  });
});

/** Opens a connection, writes `bytes` (if any), waits for the server to hang up or `ms`. */
async function rawBytes(port: number, bytes: string[], ms = 2000): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let received = "";
  const reading = (async () => {
    const buffer = new Uint8Array(65536);
    try {
      for (let n; (n = await conn.read(buffer)) !== null;) {
        received += decoder.decode(buffer.subarray(0, n));
      }
    } catch { /* reset */ }
  })();
  await new Promise((resolve) => setTimeout(resolve, 150)); // after the greeting
  for (const chunk of bytes) {
    await conn.write(encoder.encode(chunk)).catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
  const timer = setTimeout(() => conn.close(), ms);
  await reading;
  clearTimeout(timer);
  try {
    conn.close();
  } catch { /* closed */ }
  return received;
}

Deno.test("sessions: each that delivers nothing is recorded with its outcome, on every listener", async () => {
  await withRecorded(async (playground) => {
    const port = playground.port;
    const ehlo = "EHLO client.example.com\r\n";
    await rawSession(port, [
      "EHLO x",
      "MAIL FROM:<s@example.com>",
      "RCPT TO:<nobody@example.com>",
      "QUIT",
    ]);
    await rawSession(port, ["EHLO x", `AUTH PLAIN ${btoa("\0brandon\0wrong")}`, "QUIT"]);
    await rawBytes(port, [
      ehlo,
      "MAIL FROM:<s@example.com>\r\nRCPT TO:<brandon@example.com>\r\nDATA\r\n",
      "Subject: cut\r\n\r\nhalf a mess",
    ], 300);
    await rawBytes(port, [
      ehlo,
      "MAIL FROM:<s@example.com>\r\nRCPT TO:<brandon@example.com>\r\nDATA\r\n",
      "X".repeat(3000) + "\r\n.\r\nQUIT\r\n",
    ]);
    await rawBytes(port, [Array(12).fill("\x00garbage\r\n").join("")]);
    await rawBytes(port, [ehlo, "STARTTLS\r\n", "this is not a TLS handshake\r\n".repeat(20)]);
    await rawBytes(playground.tlsPort!, ["EHLO plain text on the TLS port\r\n"]);
    await rawBytes(port, ["QUIT\r\n"]);
    const sessions = await ended(playground, 8);
    assert.deepEqual(
      sessions.map((s) => [s.listener, s.outcome]).reverse(),
      [
        ["book", "refused"],
        ["book", "auth-failed"],
        ["book", "aborted"],
        ["book", "refused"],
        ["book", "aborted"],
        ["book", "tls-failed"],
        ["tls", "tls-failed"],
        ["book", "aborted"],
      ],
    );
    const [, , , oversize] = [...sessions].reverse();
    const message = playground.recorder!.getSession(oversize.id)!.transcript.find((e) =>
      "event" in e
    );
    assert.deepEqual(message && { ...message, t: 0 }, {
      t: 0,
      event: "message",
      id: null,
      size: 3002,
    });
    const cut = [...sessions].reverse()[2];
    const midData = playground.recorder!.getSession(cut.id)!;
    // The bytes the server had taken in when the client left (a few may still be in its buffer).
    const left = midData.transcript.at(-1)!;
    assert.ok(
      "event" in left && left.event === "message" && left.id === null,
      JSON.stringify(left),
    );
    const sent = "Subject: cut\r\n\r\nhalf a mess".length;
    assert.ok(left.size > sent - 8 && left.size <= sent, String(left.size));
    const garbage = lines(playground.recorder!.getSession([...sessions].reverse()[4].id)!);
    assert.equal(garbage.at(-1), "S: 421 4.7.0 mail.example.com Error: too many errors");
    assert.equal(garbage.filter((l) => l === "C: \x00garbage").length, 10);
    assert.deepEqual(await Deno.readTextFile(`${playground.dataDir}/brandon`).catch(() => ""), "");
  }, { size: 1000 });
});

Deno.test("sessions: a client that connects and says nothing is a timeout, its 421 recorded", async () => {
  await withRecorded(async (playground) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: playground.port });
    const buffer = new Uint8Array(4096);
    while ((await conn.read(buffer)) !== null) { /* the greeting, then the 421 */ }
    conn.close();
    const [silent] = await ended(playground, 1);
    assert.equal(silent.outcome, "timeout");
    assert.deepEqual(lines(playground.recorder!.getSession(silent.id)!), [
      "S: 220 mail.example.com ESMTP (Chapter 13 playground)",
      "S: 421 4.4.2 mail.example.com Error: timeout exceeded",
    ]);
  }, { idleTimeout: 300 });
});

Deno.test("sessions: STARTTLS, AUTH under TLS and delivery on the submission port, as one TLS event", async () => {
  await withRecorded(async (playground, api) => {
    const ca = await Deno.readTextFile(playground.caPath);
    const run = await runListing(
      ["--cert", playground.caPath],
      "login.ts",
      [
        "--starttls",
        serverArgument("127.0.0.1", playground.submissionPort!),
        "s@example.com",
        "brandon@example.com",
      ],
      "brandon\nabc123\n",
    );
    assert.equal(run.code, 0, run.stderr);
    // And a client that does implicit TLS right, on the TLS port, then leaves.
    await new Promise<void>((resolve, reject) => {
      const socket = tlsConnect({
        host: "127.0.0.1",
        port: playground.tlsPort!,
        ca,
        servername: "localhost",
      });
      socket.once("data", () => socket.end("QUIT\r\n"));
      socket.once("close", () => resolve());
      socket.once("error", reject);
    });
    const [implicit, submission] = await ended(playground, 2);
    const detail = await api<SessionDetail>(`/api/sessions/${submission.id}`);
    assert.equal(detail.listener, "submission");
    assert.equal(detail.outcome, "delivered");
    assert.equal(detail.user, "brandon");
    assert.equal(detail.tls, true);
    const events = detail.transcript.filter((e) => "event" in e).map((e) =>
      "event" in e && e.event
    );
    assert.deepEqual(events, ["tls", "message"]);
    const tlsAt = detail.transcript.findIndex((e) => "event" in e && e.event === "tls");
    assert.equal(
      (detail.transcript[tlsAt - 1] as TranscriptLine).line,
      "220 2.0.0 Ready to start TLS",
    );
    assert.ok(detail.transcript.slice(0, tlsAt).every((e) => !("tls" in e) || !e.tls));
    assert.ok(detail.transcript.slice(tlsAt + 1).every((e) => !("tls" in e) || e.tls));
    const other = await api<SessionDetail>(`/api/sessions/${implicit.id}`);
    assert.equal(other.listener, "tls");
    assert.ok(other.transcript.every((e) => "tls" in e && e.tls));
    assert.deepEqual(lines(other), [
      "S: 220 mail.example.com ESMTP (Chapter 13 playground)",
      "C: QUIT",
      "S: 221 2.0.0 Bye",
    ]);
  });
});

Deno.test("api: /api/sessions lists newest first, pages, 404s, and /api/events tells of sessions", async () => {
  await withRecorded(async (playground, api) => {
    const controller = new AbortController();
    const events = await fetch(new URL("/api/events", playground.webUrl), {
      signal: controller.signal,
    });
    const reader = events.body!.pipeThrough(new TextDecoderStream()).getReader();
    await rawSession(playground.port, ["EHLO a", "QUIT"]);
    await rawSession(playground.port, ["EHLO b", "QUIT"]);
    const sessions = await ended(playground, 2);
    assert.deepEqual((await api<SessionSummary[]>("/api/sessions")).map((s) => s.id), ["2", "1"]);
    assert.deepEqual(
      (await api<SessionSummary[]>("/api/sessions?offset=1&limit=5")).map((s) => s.id),
      ["1"],
    );
    assert.deepEqual(await api<SessionSummary[]>("/api/sessions?limit=0"), []);
    const summary = (await api<SessionSummary[]>("/api/sessions"))[0];
    assert.deepEqual(Object.keys(summary).sort(), [
      "client",
      "ended",
      "failures",
      "id",
      "listener",
      "messages",
      "outcome",
      "started",
      "tls",
      "user",
    ]);
    assert.deepEqual(summary, sessions[0]);
    for (const id of ["3", "0", "01", "-1", "1e3", "99999999999999999999999", "..%2F1"]) {
      const response = await fetch(new URL(`/api/sessions/${id}`, playground.webUrl));
      assert.equal(response.status, 404, id);
      assert.deepEqual(await response.json(), { error: "no such session" });
    }
    let text = "";
    while (
      (text.match(/event: session\n/g) ?? []).length < 4 ||
      !/"outcome":"aborted"[^\n]*"id":"2"|"id":"2"[^\n]*"outcome":"aborted"/.test(text)
    ) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    const seen = [...text.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]));
    assert.ok(seen.every((e) => e.type === "session"));
    assert.deepEqual(seen.filter((e) => e.session.id === "1").map((e) => e.session.outcome), [
      "open",
      "aborted",
    ]);
    controller.abort();
    await reader.cancel().catch(() => {});
  });
});

Deno.test("SIGKILL: every session intact to its last line, and the next start reads them", async () => {
  await withPlaygroundProcess(async ({ child, port, dataDir }) => {
    await rawSession(port, [
      "EHLO first",
      "MAIL FROM:<s@example.com>",
      "RCPT TO:<brandon@example.com>",
      "DATA",
      "Subject: kept\r\n\r\nbody\r\n.",
      "QUIT",
    ]);
    // One session still open when the server dies, in the middle of a transaction.
    const open = await Deno.connect({ hostname: "127.0.0.1", port });
    const buffer = new Uint8Array(4096);
    await open.read(buffer);
    await open.write(encoder.encode("EHLO second\r\nMAIL FROM:<s@example.com>\r\n"));
    let got = "";
    while (!got.includes("2.1.0 Ok")) {
      got += decoder.decode(buffer.subarray(0, (await open.read(buffer))!));
    }
    child.kill("SIGKILL");
    assert.equal((await child.status).signal, "SIGKILL");
    open.close();

    const playground = await startPlayground({ port: 0, dataDir, closeTimeout: 200 });
    try {
      const [second, first] = playground.recorder!.listSessions();
      assert.equal(playground.recorder!.listSessions().length, 2);
      assert.equal(first.outcome, "delivered");
      assert.equal(first.messages.length, 1);
      assert.deepEqual(lines(playground.recorder!.getSession(first.id)!).slice(-2), [
        "C: QUIT",
        "S: 221 2.0.0 Bye",
      ]);
      const cut = playground.recorder!.getSession(second.id)!;
      assert.deepEqual(lines(cut).slice(-2), ["C: MAIL FROM:<s@example.com>", "S: 250 2.1.0 Ok"]);
      assert.notEqual(cut.ended, null);
      assert.equal(cut.outcome, "aborted");
      // The message still names its session after the restart; new ids go on counting.
      const page = await playground.mailroom.listMessages({});
      assert.equal(page.messages[0].session, first.id);
      await rawSession(playground.port, ["QUIT"]);
      assert.equal(playground.recorder!.listSessions()[0].id, String(Number(second.id) + 1));
    } finally {
      await playground.close();
    }
  }, { prefix: "playground-sigkill-test-", stop: "SIGKILL" });
});

Deno.test("sessions: XOAUTH2 and OAUTHBEARER tokens are masked, the user decoded, a wrong one auth-failed", async () => {
  const { SMTP } = await import("../lib/smtp.ts");
  await withRecorded(async (playground) => {
    const caCerts = [await Deno.readTextFile(playground.caPath)];
    const server = serverArgument("127.0.0.1", playground.tlsPort!);
    const right = await SMTP.connect(server, { tls: true, caCerts });
    await right.loginOAuth2("brandon", "ya29.playground");
    await right.quit();
    const wrong = await SMTP.connect(server, { tls: true, caCerts });
    await wrong.loginOAuth2("brandon", "ya29.wrong-token").catch(() => {});
    wrong.close();
    const [failed, good] = await ended(playground, 2);
    assert.equal(good.user, "brandon");
    assert.equal(good.outcome, "aborted"); // logged in, sent nothing
    assert.equal(failed.outcome, "auth-failed");
    let disk = "";
    for await (const entry of Deno.readDir(`${playground.dataDir}/sessions`)) {
      disk += await Deno.readTextFile(`${playground.dataDir}/sessions/${entry.name}`);
    }
    const api = JSON.stringify([good, failed].map((s) => playground.recorder!.getSession(s.id)));
    for (const secret of ["ya29.playground", "ya29.wrong-token"]) {
      assert.ok(!disk.includes(secret) && !api.includes(secret), secret);
    }
    for (const text of [disk, api]) {
      assert.ok(!text.includes(btoa("user=brandon\x01auth=Bearer ya29.playground\x01\x01")));
    }
    assert.match(disk, /"line":"AUTH (XOAUTH2|OAUTHBEARER) \*{8}","user":"brandon"/);
  });
});
