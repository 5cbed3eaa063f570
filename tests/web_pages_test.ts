/**
 * Unit tests of the web inbox's HTML: the escaping template, the tables of
 * explanations, and each page as a pure function of the playground's model
 * (what it shows, and that nothing from a message becomes markup).
 *
 * @module
 */

import assert from "node:assert/strict";
import { escapeHtml, markup, SafeHtml, trusted } from "../playground/web/html.ts";
import {
  commandCall,
  continuesReply,
  explainCode,
  GREETING_CALL,
  REPLY_CODES,
  replyCode,
} from "../playground/web/explain.ts";
import { annotate, transcriptHtml } from "../playground/web/transcript.ts";
import { inboxPage, inboxPath, PAGE_SIZE } from "../playground/web/inbox.ts";
import { messagePage } from "../playground/web/message.ts";
import { sessionPage, sessionsPage, sessionsPath } from "../playground/web/sessions.ts";
import { formatSize, plural } from "../playground/web/layout.ts";
import type { MessageSummary, SessionSummary, TranscriptLine } from "../playground/model.ts";
import { debugSession, HOSTILE, hostileMessage, plainMessage } from "./web_fixtures.ts";

Deno.test("markup`` escapes every value and joins arrays; trusted() and nested markup`` go in as they are", () => {
  const name = `<a href="x" onclick='y'>&amp;</a>`;
  assert.equal(
    markup`<p title="${name}">${name}</p>`.toString(),
    `<p title="&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;">` +
      `&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;</p>`,
  );
  assert.equal(markup`${trusted("<b>ours</b>")}`.toString(), "<b>ours</b>");
  assert.equal(
    markup`<ul>${["<1>", markup`<li>2</li>`]}</ul>`.toString(),
    "<ul>&lt;1&gt;<li>2</li></ul>",
  );
  assert.equal(markup`${null}${undefined}${false}${0}${""}`.toString(), "0");
  assert.ok(markup`x` instanceof SafeHtml);
  // A look-alike object is text, not HTML: only a real SafeHtml is trusted.
  assert.equal(markup`${{ toString: () => "<i>" }}`.toString(), "&lt;i&gt;");
  assert.equal(escapeHtml(`'"<>&`), "&#39;&quot;&lt;&gt;&amp;");
});

Deno.test("the reply codes' words come from one table, looked up by a line's code", () => {
  assert.equal(explainCode("250"), "done");
  assert.equal(explainCode("354"), "send the message, end it with a line holding only a dot");
  assert.equal(explainCode("550"), "no such mailbox, or not allowed");
  assert.equal(explainCode("535"), "wrong user name or password");
  assert.equal(explainCode("299"), null);
  assert.equal(explainCode("250", "RCPT"), "done");
  assert.equal(explainCode("220", "STARTTLS"), "ready: start the TLS handshake now");
  for (
    const code of ["220", "221", "235", "334", "421", "451", "452", "454", "502", "503", "530"]
  ) {
    assert.ok(REPLY_CODES[code], code);
  }
  assert.equal(replyCode("250-PIPELINING"), "250");
  assert.equal(replyCode("250 2.1.0 Ok"), "250");
  assert.equal(replyCode("250"), "250");
  assert.equal(replyCode("2500 x"), null);
  assert.equal(replyCode("hello"), null);
  assert.equal(continuesReply("250-PIPELINING"), true);
  assert.equal(continuesReply("250 DSN"), false);
  assert.equal(commandCall("ehlo [127.0.0.1]"), "ehlo()");
  assert.equal(commandCall("MAIL FROM:<a@b>"), "sendmail()");
  assert.equal(commandCall("RCPT TO:<a@b>"), "sendmail()");
  assert.equal(commandCall("DATA"), "sendmail()");
  assert.equal(commandCall("STARTTLS"), "starttls()");
  assert.equal(commandCall("AUTH PLAIN AGJyYW5kb24AKioqKioqKio="), "login()");
  assert.equal(commandCall("QUIT"), "quit()");
  assert.equal(commandCall("GARBAGE"), null);
});

Deno.test("the transcript annotates the greeting, each command's call and each reply's first line", () => {
  const rows = annotate(debugSession().transcript).map(({ entry, call, meaning }) => [
    "line" in entry ? `${entry.dir}: ${entry.line}` : entry.event,
    call,
    meaning,
  ]);
  assert.deepEqual(rows, [
    [
      "S: 220 mail.example.com ESMTP (Chapter 13 playground)",
      GREETING_CALL,
      "ready: the server's greeting",
    ],
    ["C: EHLO [127.0.0.1]", "ehlo()", null],
    ["S: 250-mail.example.com", null, REPLY_CODES["EHLO 250"]],
    ["S: 250-PIPELINING", null, null],
    ["S: 250 DSN", null, null],
    ["C: STARTTLS", "starttls()", null],
    ["S: 220 2.0.0 Ready to start TLS", null, "ready: start the TLS handshake now"],
    ["tls", null, null],
    ["C: EHLO [127.0.0.1]", "ehlo()", null],
    ["S: 250-mail.example.com", null, REPLY_CODES["EHLO 250"]],
    ["S: 250 AUTH PLAIN LOGIN CRAM-MD5", null, null],
    ["C: AUTH LOGIN YnJhbmRvbg==", "login()", null],
    ["S: 334 UGFzc3dvcmQ6", null, REPLY_CODES["334"]],
    // The answer to a 334 is login()'s, not a command of its own.
    ["C: ********", "login()", null],
    ["S: 235 2.7.0 Authentication successful", null, "logged in"],
    ["C: MAIL FROM:<sender@example.com> SIZE=200", "sendmail()", null],
    ["S: 250 2.1.0 Ok", null, "done"],
    ["C: RCPT TO:<brandon@example.com>", "sendmail()", null],
    ["S: 250 2.1.5 Ok", null, "done"],
    ["C: DATA", "sendmail()", null],
    ["S: 354 End data with <CR><LF>.<CR><LF>", null, REPLY_CODES["354"]],
    ["message", null, null],
    ["S: 250 2.0.0 Ok: queued as 3F2A9C01BE", null, "done: the message is accepted and queued"],
    ["C: QUIT", "quit()", null],
    ["S: 221 2.0.0 Bye", null, "goodbye: the server closes the connection"],
  ]);
});

Deno.test("the transcript marks C:/S:, times, TLS lines, the body as a link, and a cut line's length", () => {
  const session = debugSession();
  const cut: TranscriptLine = { t: 60, dir: "C", tls: true, line: "X".repeat(1000), length: 5000 };
  session.transcript.push(cut);
  const out = transcriptHtml(session).toString();
  assert.match(
    out,
    /<li class="server"><span class="t">0\.001<\/span><span class="dir" title="server">S:<\/span>/,
  );
  assert.match(
    out,
    /<li class="client tls"><span class="t">0\.021<\/span>.*TLS<\/span><code>EHLO \[127\.0\.0\.1\]<\/code>/,
  );
  assert.match(out, /TLS handshake done/);
  assert.match(out, /<a href="\/messages\/3F2A9C01BE\.brandon\/raw">message, 200 bytes<\/a>/);
  assert.match(out, /<code>\*\*\*\*\*\*\*\*<\/code>/);
  assert.match(out, /cut: 5,000 characters in all/);
  // Every line of the recording is there, escaped.
  assert.match(out, /<code>354 End data with &lt;CR&gt;&lt;LF&gt;\.&lt;CR&gt;&lt;LF&gt;<\/code>/);
  // The plain-text lines before STARTTLS have no TLS mark.
  assert.doesNotMatch(out, /<li class="client tls">.*<code>STARTTLS<\/code>/);
});

Deno.test("the transcript escapes what a client sends (EHLO names, commands)", () => {
  const session = debugSession();
  session.transcript[1] = { t: 3, dir: "C", tls: false, line: HOSTILE.ehlo };
  const out = transcriptHtml(session).toString();
  assert.ok(!out.includes("<svg"));
  assert.ok(out.includes("EHLO &lt;svg onload=alert(1)&gt;"));
});

/** A page's HTML with runs of white space as one space and none between tags: its structure. */
function squash(page: { toString(): string }): string {
  return page.toString().replace(/\s+/g, " ").replace(/> </g, "><");
}

function summary(i: number, user = "brandon"): MessageSummary {
  const { headers: _h, text: _t, html: _x, attachments: _a, ...rest } = plainMessage(
    `${i.toString(16).toUpperCase().padStart(10, "0")}.${user}`,
  );
  return { ...rest, subject: `message ${i}`, unread: i % 2 === 0 };
}

Deno.test("the inbox lists sender, recipients, subject, time, size and unread mark, with mailbox links", () => {
  const messages = [summary(2), summary(1)];
  const out = squash(inboxPage({
    page: { total: 2, messages },
    users: ["alice", "brandon"],
    pageNumber: 1,
  }));
  assert.match(out, /<title>Inbox · playground inbox<\/title>/);
  assert.match(out, /<main id="main" data-live="messages">/);
  assert.match(out, /<p class="count">1–2 of 2 messages<\/p>/);
  assert.match(out, /<tr data-id="0000000002\.brandon" class="unread">/);
  assert.match(out, /<tr data-id="0000000001\.brandon">/);
  assert.match(out, /<td class="from">sender@example.com<\/td>/);
  assert.match(out, /<td class="to">brandon@example.com<\/td>/);
  assert.match(out, /<td class="mailbox">brandon<\/td>/);
  assert.match(out, /<a href="\/messages\/0000000002\.brandon">message 2<\/a>/);
  assert.match(out, /<td class="time"><time datetime="2026-12-02T18:00:00\.050Z">/);
  assert.match(out, /<td class="size">200 B<\/td>/);
  assert.equal(out.match(/<span class="visually-hidden">unread<\/span>/g)?.length, 1);
  assert.match(out, /<a href="\/\?user=alice">alice<\/a>/);
  assert.match(out, /<a href="\/" aria-current="page">All mailboxes<\/a>/);
  // No clearing all mailboxes at once, and no pager for one page.
  assert.doesNotMatch(out, /clear/);
  assert.doesNotMatch(out, /class="pager"/);
});

Deno.test("the inbox of one user pages through a big mailbox and offers to clear it", () => {
  const messages = Array.from({ length: PAGE_SIZE }, (_, i) => summary(10000 - PAGE_SIZE - i));
  const out = squash(inboxPage({
    page: { total: 10000, messages },
    users: ["brandon"],
    user: "brandon",
    pageNumber: 2,
  }));
  assert.match(out, /<p class="count">51–100 of 10,000 messages<\/p>/);
  assert.match(
    out,
    /<a href="\/\?user=brandon" rel="prev">← Newer<\/a><span>page 2 of 200<\/span>/,
  );
  assert.match(out, /<a href="\/\?user=brandon&amp;page=3" rel="next">Older →<\/a>/);
  assert.match(out, /<form method="post" action="\/mailboxes\/brandon\/clear"/);
  assert.match(out, /Delete all 10,000 messages of brandon/);
  assert.doesNotMatch(out, /<td class="mailbox">/);
  assert.equal(out.match(/<tr data-id=/g)?.length, PAGE_SIZE);
  assert.equal(inboxPath(undefined), "/");
  assert.equal(inboxPath("a b", 3), "/?user=a+b&page=3");
});

Deno.test("an empty inbox says how mail gets there", () => {
  const out = inboxPage({ page: { total: 0, messages: [] }, users: ["brandon"], pageNumber: 1 })
    .toString();
  assert.match(out, /No mail yet\./);
  assert.doesNotMatch(out, /<table/);
});

Deno.test("the message page shows fields, text, raw source and the conversation beside it", () => {
  const message = plainMessage();
  const raw = { text: "To: brandon@example.com\r\n\r\nHello", size: 200, cut: false };
  const page = messagePage({ message, session: debugSession(), raw }).toString();
  const out = squash(page);
  assert.match(out, /<h1 id="subject">Test Message from debug.ts<\/h1>/);
  assert.match(out, /<dt>From<\/dt><dd>sender@example.com<\/dd>/);
  assert.match(page, /<pre class="body">Hello,\n\nThis is a test message/);
  assert.match(out, /<form method="post" action="\/messages\/3F2A9C01BE\.brandon\/delete"/);
  assert.match(out, /<summary>Raw source \(200 bytes\)<\/summary>/);
  assert.match(page, /<pre>To: brandon@example.com\r\n\r\nHello<\/pre>/);
  assert.match(out, /<a href="\/sessions\/7">Session 7<\/a> from 127\.0\.0\.1:50412/);
  assert.match(out, /<main id="main" data-live="session:7">/);
  assert.match(out, /<ol class="transcript">/);
  // No HTML part, no frame; no attachments, no list.
  assert.doesNotMatch(out, /<iframe/);
  assert.doesNotMatch(out, /Attachments/);
});

Deno.test("the message page without a known session says so", () => {
  const out = messagePage({ message: plainMessage(), session: null, raw: null }).toString();
  assert.match(out, /The session that delivered this message is not known/);
  assert.doesNotMatch(out, /data-live="session/);
});

Deno.test("a hostile message's fields are text: no tag or attribute of its own reaches the page", () => {
  const message = hostileMessage();
  const raw = { text: "<script>window.pwned=7</script>", size: 40, cut: true };
  const out = squash(messagePage({ message, session: null, raw }));
  // The page's own markup has exactly one script element: ours, by src.
  assert.deepEqual(out.match(/<script[^>]*>/g), ['<script src="/static/app.js" defer>']);
  for (const tag of ["<img", "<b ", "<svg", '<form action="http']) {
    assert.ok(!out.includes(tag), tag);
  }
  assert.ok(!/<[^>]+\son\w+=/.test(out), "no element has an event handler attribute");
  assert.ok(!out.includes(`href="javascript:`));
  assert.ok(out.includes("&lt;script&gt;window.pwned = 1&lt;/script&gt;"));
  assert.ok(out.includes("&quot;&gt;&lt;script&gt;window.pwned=3&lt;/script&gt;.pdf"));
  assert.ok(out.includes("<td>javascript:window.pwned=4</td>"));
  // The HTML part is only ever in the sandboxed frame, loaded from its own address.
  assert.ok(!out.includes("tracker.invalid"));
  assert.match(
    out,
    /<iframe class="html-part" sandbox src="\/messages\/AAAAAAAAAA\.brandon\/html" title="[^"]+" referrerpolicy="no-referrer"><\/iframe>/,
  );
  assert.match(
    out,
    /The first part only: <a href="\/messages\/AAAAAAAAAA\.brandon\/raw">the whole source<\/a> is 40 B\./,
  );
  assert.match(out, /<a href="\/api\/messages\/AAAAAAAAAA\.brandon\/attachments\/0">/);
});

function sessionSummary(id: string, outcome: SessionSummary["outcome"]): SessionSummary {
  const { transcript: _t, ...rest } = debugSession(id);
  return { ...rest, outcome, messages: outcome === "delivered" ? rest.messages : [] };
}

Deno.test("the sessions page filters by outcome, counting each", () => {
  const sessions = [
    sessionSummary("3", "refused"),
    sessionSummary("2", "auth-failed"),
    sessionSummary("1", "delivered"),
  ];
  const all = squash(sessionsPage({ sessions, pageNumber: 1 }));
  assert.match(all, /<p class="count">3 sessions<\/p>/);
  assert.equal(all.match(/<tr>/g)?.length, 4); // the head and three rows
  assert.match(all, /<a href="\/sessions" aria-current="page">all <span class="n">3<\/span><\/a>/);
  assert.match(all, /<a href="\/sessions\?outcome=refused">refused <span class="n">1<\/span><\/a>/);
  assert.match(all, /<a href="\/sessions\?outcome=timeout">timeout <span class="n">0<\/span><\/a>/);
  const refused = squash(sessionsPage({ sessions, outcome: "refused", pageNumber: 1 }));
  assert.match(refused, /1 session <span class="outcome refused"/);
  assert.match(refused, /<a href="\/sessions\/3">#3<\/a>/);
  assert.doesNotMatch(refused, /<a href="\/sessions\/1">/);
  const none = squash(sessionsPage({ sessions, outcome: "timeout", pageNumber: 1 }));
  assert.match(none, /No sessions with the outcome timeout yet\./);
  assert.equal(sessionsPath("tls-failed", 2), "/sessions?outcome=tls-failed&page=2");
});

Deno.test("a session's page shows what it was and its whole conversation", () => {
  const out = squash(sessionPage(debugSession()));
  assert.match(out, /<h1>Session 7<\/h1>/);
  assert.match(out, /<dt>User<\/dt><dd>brandon<\/dd>/);
  assert.match(out, /<dt>Listener<\/dt><dd>book, TLS<\/dd>/);
  assert.match(out, /<dt>Messages<\/dt><dd><a href="\/messages\/3F2A9C01BE\.brandon">/);
  assert.match(out, /<code>QUIT<\/code><span class="notes"><span class="call">quit\(\)<\/span>/);
});

Deno.test("sizes and counts read at a glance", () => {
  assert.equal(formatSize(999), "999 B");
  assert.equal(formatSize(4200), "4.2 kB");
  assert.equal(formatSize(10240000), "10.2 MB");
  assert.equal(plural(1, "byte"), "1 byte");
  assert.equal(plural(1234, "byte"), "1,234 bytes");
});
