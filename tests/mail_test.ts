/**
 * `deno task mail` shows every message as a reader needs it: an HTML-only
 * message's text, a multipart message's attachments with type and size, a
 * base64 body decoded under decoded headers; `--raw`, `--delete`, `--clear`;
 * `--sessions` and `--session ID` (the server's side, beside debug.ts's);
 * errors on stderr, and nothing a terminal would act on.
 *
 * @module
 */

import assert from "node:assert/strict";
import { main as mailMain } from "../playground/mail.ts";
import { startPlayground } from "../playground/server.ts";
import { PROJECT, rawSession } from "./playground_run.ts";

/** Runs mail's main with `args` after `--data dir`; its exit code, stdout lines, stderr lines, bytes. */
async function mail(dir: string, ...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const bytes: Uint8Array[] = [];
  const code = await mailMain(
    ["--data", dir, ...args],
    (line) => out.push(line),
    (line) => err.push(line),
    (chunk) => bytes.push(chunk),
  );
  return { code, out, err, bytes };
}

/** Delivers each message to brandon through a playground on `dir`; returns the queue ids. */
async function deliver(dir: string, messages: string[]): Promise<string[]> {
  const playground = await startPlayground({ port: 0, dataDir: dir, closeTimeout: 200 });
  try {
    const ids: string[] = [];
    for (const message of messages) {
      const replies = await rawSession(playground.port, [
        "EHLO client.example.com",
        "MAIL FROM:<sender@example.com>",
        "RCPT TO:<brandon@example.com>",
        "DATA",
        `${message}\r\n.`,
        "QUIT",
      ]);
      ids.push(/queued as ([0-9A-F]{10})/.exec(replies.join(""))![1]);
    }
    return ids;
  } finally {
    await playground.close();
  }
}

const HTML_ONLY = [
  "Subject: html",
  "Content-Type: text/html; charset=utf-8",
  "",
  "<h1>Hi</h1><p>Only <i>HTML</i> here.</p>",
].join("\r\n");

const WITH_ATTACHMENT = [
  "Subject: =?utf-8?q?r=C3=A9sum=C3=A9?=",
  'Content-Type: multipart/mixed; boundary="b"',
  "",
  "--b",
  "Content-Type: text/plain",
  "",
  "See attached.",
  "--b",
  "Content-Type: application/pdf",
  'Content-Disposition: attachment; filename="cv.pdf"',
  "Content-Transfer-Encoding: base64",
  "",
  btoa("%PDF-1.4 twelve"),
  "--b--",
].join("\r\n");

const BASE64 = [
  "Subject: b64",
  "Content-Type: text/plain; charset=utf-8",
  "Content-Transfer-Encoding: base64",
  "",
  btoa("decoded text\n"),
].join("\r\n");

const HOSTILE = "Subject: \x1b]0;owned\x07title\r\n\r\nbody \x1b[31mred\x1b[0m";

Deno.test("mail: HTML-only as text, attachments listed, base64 decoded, headers decoded", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mail-test-" });
  try {
    await deliver(dir, [HTML_ONLY, WITH_ATTACHMENT, BASE64, HOSTILE]);
    const html = await mail(dir, "brandon", "1");
    assert.equal(html.code, 0);
    assert.deepEqual(html.out.slice(html.out.indexOf("") + 1), [
      "HI",
      "",
      "Only HTML here.",
    ]);
    const attached = await mail(dir, "brandon", "2");
    assert.ok(attached.out.includes("Subject: résumé"), attached.out.join("\n"));
    assert.deepEqual(attached.out.slice(-4), [
      "See attached.",
      "",
      "1 attachment:",
      "  1. cv.pdf (application/pdf, 15 bytes)",
    ]);
    const decoded = await mail(dir, "brandon", "3");
    assert.equal(decoded.out.at(-1), "decoded text");
    assert.ok(!decoded.out.some((line) => /Content-Transfer-Encoding/i.test(line)));
    const hostile = await mail(dir, "brandon", "4");
    assert.ok(!hostile.out.join("\n").includes("\x1b"), "no escape reaches the terminal");
    assert.ok(hostile.out.includes("Subject: \\x1b]0;owned\\x07title"), hostile.out.join("\n"));
    assert.equal(hostile.out.at(-1), "body \\x1b[31mred\\x1b[0m");
    const summary = await mail(dir, "brandon");
    assert.equal(summary.code, 0);
    assert.equal(summary.out.length, 5);
    assert.ok(!summary.out.join("").includes("\x1b"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mail: --raw gives the exact source, --delete N and --clear remove mail", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mail-test-" });
  try {
    const ids = await deliver(dir, ["Subject: one\r\n\r\n..dot", "Subject: two\r\n\r\nx", BASE64]);
    const raw = await mail(dir, "--raw", "1");
    assert.equal(raw.code, 0);
    assert.equal(new TextDecoder().decode(raw.bytes[0]), "Subject: one\r\n\r\n.dot\r\n");
    assert.deepEqual((await mail(dir, "--raw", "4")).err, ["mail: 4: Invalid message number"]);

    const removed = await mail(dir, "--delete", "2");
    assert.deepEqual(removed.out, [`Deleted message 2 (${ids[1]}.brandon) from ${dir}/brandon`]);
    const left = await mail(dir, "brandon");
    assert.deepEqual(left.out.slice(1).map((line) => line.slice(-5).trim()), ["one", "b64"]);
    assert.equal((await mail(dir, "--delete", "3")).code, 1);

    const cleared = await mail(dir, "brandon", "--clear");
    assert.deepEqual(cleared.out, [`Deleted 2 messages from ${dir}/brandon`]);
    const none = await mail(dir);
    assert.deepEqual([none.code, none.out, none.err], [1, [], [
      `No mail for brandon (${dir}/brandon)`,
    ]]);
    assert.deepEqual((await mail(dir, "--raw", "1", "--clear")).code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mail: --sessions lists them newest first, --session ID prints one beside debug.ts's", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mail-test-" });
  try {
    assert.deepEqual((await mail(dir, "--sessions")).err, [
      `No sessions recorded in ${dir}/sessions`,
    ]);
    const [queueId] = await deliver(dir, ["Subject: s\r\n\r\nx"]);
    const playground = await startPlayground({ port: 0, dataDir: dir, closeTimeout: 200 });
    try {
      await rawSession(playground.port, [
        "EHLO x",
        `AUTH PLAIN ${btoa("\0brandon\0abc123")}`,
        "QUIT",
      ]);
    } finally {
      await playground.close();
    }
    const list = await mail(dir, "--sessions");
    assert.equal(list.code, 0);
    assert.match(
      list.out[0],
      /^ {4}2 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d 127\.0\.0\.1:\d+ +book {7}\s+brandon +aborted$/,
    );
    assert.match(list.out[1], /^ {4}1 .* book .* - +delivered {3}1 message$/);
    assert.equal((await mail(dir, "--sessions", "1")).out.length, 1);

    const one = await mail(dir, "--session", "1");
    assert.equal(one.code, 0);
    assert.match(one.out[0], /^Session 1: 127\.0\.0\.1:\d+ on the book listener, .* UTC$/);
    assert.equal(one.out[1], `  outcome delivered, delivered ${queueId}.brandon`);
    const body = one.out.slice(2).map((line) => line.replace(/^ *\d+\.\d{3} /, ""));
    assert.deepEqual(body.slice(0, 3), [
      "    S: 220 mail.example.com ESMTP (Chapter 13 playground)",
      "    C: EHLO client.example.com",
      "    S: 250-mail.example.com",
    ]);
    assert.ok(
      body.includes(`       (message: 17 bytes, stored as ${queueId}.brandon)`),
      body.join("\n"),
    );
    assert.deepEqual(body.slice(-2), ["    C: QUIT", "    S: 221 2.0.0 Bye"]);
    const login = (await mail(dir, "--session", "2")).out;
    assert.ok(
      login.includes(login.find((l) => l.endsWith("C: AUTH PLAIN ********   (user brandon)"))!),
    );
    assert.ok(!login.join("\n").includes(btoa("\0brandon\0abc123")));
    for (const id of ["3", "0", "x", "../1"]) {
      const missing = await mail(dir, "--session", id);
      assert.deepEqual([missing.code, missing.out, missing.err], [1, [], [
        `mail: no such session: ${id}`,
      ]]);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mail task: --delete outside .playground says which command may write there", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mail-test-" });
  try {
    await deliver(dir, ["Subject: s\r\n\r\nx"]);
    const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", PROJECT)));
    const args = (config.tasks.mail as string).split(" ").slice(1);
    const output = await new Deno.Command(Deno.execPath(), {
      args: [...args, "--data", dir, "--delete", "1"],
      cwd: PROJECT,
      env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    }).output();
    assert.equal(output.code, 1);
    assert.equal(new TextDecoder().decode(output.stdout), "");
    assert.equal(
      new TextDecoder().decode(output.stderr),
      `mail: no write access to ${dir}; run instead: deno run --allow-read --allow-write=${dir} ` +
        `playground/mail.ts --data ${dir} --delete 1\n`,
    );
    assert.match(await Deno.readTextFile(`${dir}/brandon`), /Subject: s/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
