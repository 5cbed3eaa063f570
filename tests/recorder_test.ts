/**
 * The session recorder (playground/recorder.ts) fed the lines a session
 * passes, without a network: AUTH secrets masked for every mechanism and
 * form, with the user name decoded; TLS marks; the outcome of each kind of
 * session that delivers nothing; long lines cut; the per-session cap; the
 * newest N kept; and sessions read back after a restart, a crash's too.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MAX_BYTES, MAX_LINE, readSession, Recorder } from "../playground/recorder.ts";
import type { SessionRecord } from "../playground/recorder.ts";
import type { TranscriptLine } from "../playground/model.ts";
import { maskAuthLine } from "../lib/mask.ts";

const b64 = (text: string) => btoa(text);

/** Runs `body` with a recorder on a fresh folder (keeping `keep`). */
async function withRecorder(
  body: (recorder: Recorder, dir: string) => Promise<void> | void,
  keep?: number,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "recorder-test-" });
  try {
    await body(await Recorder.open(dir, keep), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Plays `script` into a new session: `C:` lines from the client, `S:` from the server. */
function play(recorder: Recorder, script: string[], tls = false): SessionRecord {
  const record = recorder.start({ address: "127.0.0.1", port: 50000, listener: "book", tls });
  for (const line of script) {
    if (line === "TLS") record.tls();
    else if (line.startsWith("C: ")) record.client(line.slice(3), record.state.tls);
    else if (line.startsWith("S: ")) record.server(line.slice(3), record.state.tls);
    else throw new Error(`bad script line ${line}`);
  }
  return record;
}

const GREETING = [
  "S: 220 mail.example.com ESMTP",
  "C: EHLO client",
  "S: 250-mail.example.com\r\n250 DSN",
];

/** The C/S lines of a session as `dir: line`, and the file's text. */
async function recorded(dir: string, record: SessionRecord) {
  const text = await Deno.readTextFile(`${dir}/sessions/${record.id}.jsonl`);
  const lines = record.detail().transcript.filter((e): e is TranscriptLine => "dir" in e);
  return { text, lines: lines.map((e) => `${e.dir}: ${e.line}`), entries: lines };
}

Deno.test("recorder: every AUTH form is masked as debug.ts masks it, the user name decoded", async () => {
  const password = "abc123";
  const token = "ya29.secret-token";
  const forms: { name: string; script: string[]; user: string; secrets: string[] }[] = [
    {
      name: "PLAIN, initial response",
      script: [
        `C: AUTH PLAIN ${b64(`\0brandon\0${password}`)}`,
        "S: 235 2.7.0 Authentication successful",
      ],
      user: "brandon",
      secrets: [b64(`\0brandon\0${password}`)],
    },
    {
      name: "PLAIN, after a 334",
      script: [
        "C: AUTH PLAIN",
        "S: 334 ",
        `C: ${b64(`\0brandon\0${password}`)}`,
        "S: 235 2.7.0 Ok",
      ],
      user: "brandon",
      secrets: [b64(`\0brandon\0${password}`)],
    },
    {
      name: "LOGIN",
      script: [
        "C: AUTH LOGIN",
        "S: 334 VXNlcm5hbWU6",
        `C: ${b64("brandon")}`,
        "S: 334 UGFzc3dvcmQ6",
        `C: ${b64(password)}`,
        "S: 235 2.7.0 Ok",
      ],
      user: "brandon",
      secrets: [b64(password), b64("brandon")],
    },
    {
      name: "LOGIN, initial response",
      script: [
        `C: AUTH LOGIN ${b64("brandon")}`,
        "S: 334 UGFzc3dvcmQ6",
        `C: ${b64(password)}`,
        "S: 235 2.7.0 Ok",
      ],
      user: "brandon",
      secrets: [b64(password), b64("brandon")],
    },
    {
      name: "CRAM-MD5",
      script: [
        "C: AUTH CRAM-MD5",
        "S: 334 PDEyMzQ1QG1haWwuZXhhbXBsZS5jb20+",
        `C: ${b64("brandon 0123456789abcdef0123456789abcdef")}`,
        "S: 235 2.7.0 Ok",
      ],
      user: "brandon",
      secrets: [b64("brandon 0123456789abcdef0123456789abcdef")],
    },
    {
      name: "XOAUTH2, failed, then the empty answer to the error's 334",
      script: [
        `C: AUTH XOAUTH2 ${b64(`user=brandon\x01auth=Bearer ${token}\x01\x01`)}`,
        `S: 334 ${b64('{"status":"401"}')}`,
        "C: ",
        "S: 535 5.7.8 Error: authentication failed",
      ],
      user: "",
      secrets: [b64(`user=brandon\x01auth=Bearer ${token}\x01\x01`)],
    },
    {
      name: "OAUTHBEARER",
      script: [
        `C: AUTH OAUTHBEARER ${
          b64(`n,a=brandon,\x01host=localhost\x01auth=Bearer ${token}\x01\x01`)
        }`,
        "S: 235 2.7.0 Ok",
      ],
      user: "brandon",
      secrets: [b64(`n,a=brandon,\x01host=localhost\x01auth=Bearer ${token}\x01\x01`)],
    },
  ];
  for (const form of forms) {
    await withRecorder(async (recorder, dir) => {
      const record = play(recorder, [...GREETING, ...form.script, "C: QUIT", "S: 221 2.0.0 Bye"]);
      record.end();
      const { text, lines, entries } = await recorded(dir, record);
      for (const secret of [password, token, ...form.secrets]) {
        assert.ok(!text.includes(secret), `${form.name}: ${secret} reached the disk`);
        assert.ok(!JSON.stringify(record.detail()).includes(secret), `${form.name}: in the API`);
      }
      // The C lines are what debug.ts's transcript shows for the same exchange.
      const expected = form.script.filter((l) => l.startsWith("C: ")).map((l, i, all) => {
        const answers = i > 0 &&
          form.script[form.script.indexOf(all[i - 1]) + 1].startsWith("S: 334");
        return `C: ${maskAuthLine(l.slice(3), answers)}`;
      });
      assert.deepEqual(lines.filter((l) => l.startsWith("C: ") && !/EHLO|QUIT/.test(l)), expected);
      assert.ok(lines.some((l) => l.includes("********")), form.name);
      const named = entries.filter((e) => e.user).map((e) => e.user);
      if (form.user) assert.deepEqual([...new Set(named)], [form.user], form.name);
      const summary = record.summary();
      assert.equal(summary.user, form.script.at(-1)!.startsWith("S: 235") ? form.user : null);
      assert.equal(
        summary.outcome,
        form.script.at(-1)!.startsWith("S: 535") ? "auth-failed" : "aborted",
      );
    });
  }
});

Deno.test("recorder: lines before STARTTLS are plain, the handshake is one event, the rest TLS", async () => {
  await withRecorder(async (recorder, dir) => {
    const record = play(recorder, [
      ...GREETING,
      `C: AUTH PLAIN ${b64("\0brandon\0abc123")}`,
      "S: 235 2.7.0 Ok",
      "C: STARTTLS",
      "S: 220 2.0.0 Ready to start TLS",
      "TLS",
      "C: EHLO client",
      "S: 250 mail.example.com",
    ]);
    assert.equal(record.summary().tls, true);
    assert.equal(record.summary().user, null, "a login from before TLS does not count after it");
    record.end();
    const transcript = record.detail().transcript;
    const tlsAt = transcript.findIndex((e) => "event" in e && e.event === "tls");
    assert.equal(transcript.filter((e) => "event" in e).length, 1);
    assert.ok(transcript.slice(0, tlsAt).every((e) => "tls" in e && e.tls === false));
    assert.ok(transcript.slice(tlsAt + 1).every((e) => "tls" in e && e.tls === true));
    assert.deepEqual(
      readSession((await recorded(dir, record)).text)!.detail.transcript,
      transcript,
    );
    // Implicit TLS: every line inside TLS from the first.
    const implicit = play(recorder, GREETING, true);
    assert.ok(implicit.detail().transcript.every((e) => "tls" in e && e.tls));
    assert.equal(implicit.summary().tls, true);
  });
});

Deno.test("recorder: each kind of session that delivers nothing has its outcome", async () => {
  const data = [
    "C: MAIL FROM:<s@example.com>",
    "S: 250 2.1.0 Ok",
    "C: RCPT TO:<brandon@example.com>",
    "S: 250 2.1.5 Ok",
    "C: DATA",
    "S: 354 End data with <CR><LF>.<CR><LF>",
  ];
  const kinds: {
    name: string;
    script: string[];
    end?: (r: SessionRecord) => void;
    outcome: string;
  }[] = [
    {
      name: "refused sender",
      script: [
        "C: MAIL FROM:<bad",
        "S: 501 5.1.7 Bad sender address syntax",
        "C: QUIT",
        "S: 221 2.0.0 Bye",
      ],
      outcome: "refused",
    },
    {
      name: "refused recipient",
      script: [
        "C: MAIL FROM:<s@example.com>",
        "S: 250 2.1.0 Ok",
        "C: RCPT TO:<x@example.org>",
        "S: 554 5.7.1 <x@example.org>: Relay access denied",
        "C: QUIT",
        "S: 221 2.0.0 Bye",
      ],
      outcome: "refused",
    },
    {
      name: "failed AUTH",
      script: [
        `C: AUTH PLAIN ${b64("\0brandon\0wrong")}`,
        "S: 535 5.7.8 Error: authentication failed: authentication failure",
        "C: QUIT",
        "S: 221 2.0.0 Bye",
      ],
      outcome: "auth-failed",
    },
    { name: "left mid-DATA", script: data, end: (r) => r.message(null, 512), outcome: "aborted" },
    {
      name: "over SIZE",
      script: data,
      end: (r) => {
        r.message(null, 20000);
        r.server("552 5.3.4 Message size exceeds fixed limit", false);
      },
      outcome: "refused",
    },
    {
      name: "garbage, then 421",
      script: [
        ...Array(10).fill(["C: \x01\x02garbage", "S: 500 5.5.2 Error: command not recognized"])
          .flat(),
        "S: 421 4.7.0 mail.example.com Error: too many errors",
      ],
      outcome: "aborted",
    },
    { name: "421 at once", script: ["S: 421 4.3.2 Service shutting down"], outcome: "aborted" },
    {
      name: "QUIT having sent nothing",
      script: ["C: QUIT", "S: 221 2.0.0 Bye"],
      outcome: "aborted",
    },
  ];
  await withRecorder((recorder) => {
    for (const kind of kinds) {
      const record = play(recorder, [...GREETING, ...kind.script]);
      assert.equal(record.summary().outcome, "open", kind.name);
      kind.end?.(record);
      record.end();
      assert.equal(record.summary().outcome, kind.outcome, kind.name);
      assert.deepEqual(record.summary().messages, [], kind.name);
      assert.notEqual(record.summary().ended, null);
    }
    // Why it ended, when the lines cannot tell: a silent client, a failed TLS handshake.
    const silent = play(recorder, [
      "S: 220 mail.example.com ESMTP",
      "S: 421 4.4.2 mail.example.com Error: timeout exceeded",
    ]);
    silent.end("timeout");
    assert.equal(silent.summary().outcome, "timeout");
    const tls = play(recorder, [...GREETING, "C: STARTTLS", "S: 220 2.0.0 Ready to start TLS"]);
    tls.end("tls-failed");
    assert.equal(tls.summary().outcome, "tls-failed");
    assert.equal(tls.summary().tls, false);
    // And one that delivered, for contrast: its message is linked to it by queue id.
    const sent = play(recorder, [...GREETING, ...data]);
    sent.message("0123456789.brandon", 300);
    sent.server("250 2.0.0 Ok: queued as 0123456789", false);
    sent.end();
    assert.equal(sent.summary().outcome, "delivered");
    assert.deepEqual(sent.summary().messages, ["0123456789.brandon"]);
    assert.equal(recorder.sessionOf("0123456789"), sent.id);
    // Every one is listed, newest first, with what it is.
    const listed = recorder.listSessions();
    assert.deepEqual(
      listed.map((s) => s.id),
      [...Array(kinds.length + 3).keys()].map((i) => String(kinds.length + 3 - i)),
    );
    assert.deepEqual(listed.map((s) => s.outcome).slice(0, 3), [
      "delivered",
      "tls-failed",
      "timeout",
    ]);
    assert.deepEqual(recorder.listSessions({ offset: 1, limit: 1 }).map((s) => s.id), [
      String(kinds.length + 2),
    ]);
  });
});

Deno.test("recorder: a long line is kept cut with its length; a flood grows the record by 1 MB at most", async () => {
  await withRecorder(async (recorder, dir) => {
    const record = play(recorder, GREETING);
    record.client("X".repeat(5000), false);
    const cut = record.detail().transcript.at(-1) as TranscriptLine;
    assert.equal(cut.line, "X".repeat(MAX_LINE));
    assert.equal(cut.length, 5000);
    record.server("500 5.5.2 Error: command not recognized", false);
    assert.equal((record.detail().transcript.at(-1) as TranscriptLine).length, undefined);
    // 100 MB of garbage lines (16 kB each, smtp-server's longest), as they would pass.
    const garbage = "G".repeat(16 * 1024);
    for (let i = 0; i < 6400; i++) {
      record.client(garbage, false);
      record.server("500 5.5.2 Error: command not recognized", false);
    }
    record.end();
    const size = (await Deno.stat(`${dir}/sessions/${record.id}.jsonl`)).size;
    assert.ok(size <= MAX_BYTES + 4096, `${size} bytes`);
    const summary = record.summary();
    assert.ok(summary.skipped! > 10_000, String(summary.skipped));
    assert.equal(summary.outcome, "aborted");
    assert.equal(
      readSession(await Deno.readTextFile(`${dir}/sessions/${record.id}.jsonl`))!.summary.skipped,
      summary.skipped,
    );
  });
});

Deno.test("recorder: keeps the newest N sessions, drops older ones whole, never reuses an id", async () => {
  await withRecorder(async (_recorder, dir) => {
    let recorder = await Recorder.open(dir, 3);
    for (let i = 0; i < 5; i++) play(recorder, GREETING).end();
    const files = () => [...Deno.readDirSync(`${dir}/sessions`)].map((e) => e.name).sort();
    assert.deepEqual(files(), ["3.jsonl", "4.jsonl", "5.jsonl"]);
    assert.deepEqual(recorder.listSessions().map((s) => s.id), ["5", "4", "3"]);
    assert.equal(recorder.getSession("1"), null);
    // A restart reads them back and goes on counting; a smaller N drops more at once.
    recorder = await Recorder.open(dir, 2);
    assert.deepEqual(recorder.listSessions().map((s) => s.id), ["5", "4"]);
    assert.equal(play(recorder, GREETING).id, "6");
    assert.deepEqual(files(), ["5.jsonl", "6.jsonl"]);
  });
});

Deno.test("recorder: a session cut off by a crash reads back to its last line, ended there", async () => {
  await withRecorder(async (recorder, dir) => {
    const record = play(recorder, [...GREETING, "C: MAIL FROM:<s@example.com>", "S: 250 2.1.0 Ok"]);
    // No end(): the process died here. A torn last line (a full disk) is skipped.
    await Deno.writeTextFile(`${dir}/sessions/${record.id}.jsonl`, '{"t":9,"dir":"C","tl', {
      append: true,
    });
    const again = await Recorder.open(dir);
    const detail = again.getSession(record.id)!;
    assert.deepEqual(detail.transcript, record.detail().transcript);
    assert.notEqual(detail.ended, null);
    assert.equal(detail.outcome, "aborted");
    assert.equal(again.getSession("99"), null);
    assert.equal(again.getSession("../1"), null);
  });
});
