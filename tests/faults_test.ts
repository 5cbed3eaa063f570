/**
 * Fault injection: every listing run as a real `deno run` subprocess against
 * the hostile server in `tests/hostile/server.ts`. Each scenario checks the
 * exact stdout lines, the exit status, every line the server received (so
 * nothing went out after the failure, and no message body when it should
 * not have), and that the process ended within its `--timeout`.
 *
 * This file: connecting, the greeting and EHLO/HELO, malformed and hostile
 * replies, the mail transaction, AUTH, hostile arguments, SIZE, 421 and
 * `--pipelining`. TLS is in faults_tls_test.ts, an unanswered QUIT in
 * faults_quit_test.ts, the command line as typed in faults_cli_test.ts; the
 * harness is faults_run.ts.
 *
 * The expected lines follow the book's listings as LISTINGS.md (kept beside the project, not in
 * it) describes them.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { type Script, type Session, startResettingServer, startServer } from "./hostile/server.ts";
import { SMTP } from "../lib/smtp.ts";
import { MAX_LINE } from "../lib/reply.ts";
import {
  accept,
  afterHello,
  ALL,
  atLoginEhlo,
  authFailed,
  counts,
  FAILED,
  failure,
  FROM,
  hello,
  helloSent,
  type Listing,
  matchLines,
  offerAuth,
  OTHER,
  PASSWORD_PLAIN,
  payload,
  reply,
  run,
  type RunOptions,
  scenario,
  sendSent,
  sent,
  success,
  TIMED_OUT,
  TIMEOUT,
  TO,
} from "./faults_run.ts";

// ---- connecting ----

const unshareWorks = await (async () => {
  try {
    const { success } = await new Deno.Command("unshare", { args: ["-n", "true"] }).output();
    return success;
  } catch {
    return false;
  }
})();

if (unshareWorks) {
  scenario("unknown host (in a namespace without network)", ALL, (listing) => ({
    server: async () => {},
    options: { isolated: true, server: "nohost.invalid" },
    expected: failure(listing, /^Could not connect to nohost\.invalid:25: .*(lookup|resolv)/),
  }));
} else {
  Deno.test("fault: unknown host (faked dial: unshare -n is not available)", async () => {
    const { main } = await import("../ehlo.ts");
    const lines: string[] = [];
    const code = await main(["nohost.invalid", FROM, TO], {
      print: (line) => lines.push(line),
      smtp: {
        dial: () => Promise.reject(new Error("failed to lookup address information")),
      },
    });
    assert.equal(code, 1);
    assert.deepEqual(lines, [
      FAILED,
      "Could not connect to nohost.invalid:25: failed to lookup address information",
    ]);
  });
}

/** A port on 127.0.0.1 that nothing listens on. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

const refused = closedPort();
scenario("connection refused", ALL, (listing) => ({
  server: async () => {},
  options: { server: `127.0.0.1:${refused}` },
  expected: failure(
    listing,
    `Could not connect to 127.0.0.1:${refused}: Connection refused (os error 111)`,
  ),
}));

/**
 * A listener with a full backlog, so a connection is never completed: a
 * Python socket with `listen(0)` (Deno's cannot set the backlog) holding
 * one connection that is never accepted. Null when python3 is missing.
 */
async function fullBacklog(): Promise<{ port: number; stop: () => Promise<void> } | null> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("python3", {
      args: [
        "-c",
        "import socket,sys\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\n" +
        "print(s.getsockname()[1],flush=True)\nsys.stdin.read()",
      ],
      stdin: "piped",
      stdout: "piped",
    }).spawn();
  } catch {
    return null;
  }
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  const port = Number(new TextDecoder().decode(value).trim());
  const held = await Deno.connect({ hostname: "127.0.0.1", port });
  // Check that the next connection does hang, or the test would prove nothing.
  let hangs = false;
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port, signal: AbortSignal.timeout(300) }))
      .close();
  } catch {
    hangs = true;
  }
  const stop = async () => {
    held.close();
    await child.stdin.close();
    await child.stdout.cancel();
    await child.status;
  };
  if (!hangs) {
    await stop();
    return null;
  }
  return { port, stop };
}

const backlog = await fullBacklog();
if (backlog) {
  scenario("connect timeout (listener with a full backlog)", ALL, (listing) => ({
    server: async () => {},
    options: { server: `127.0.0.1:${backlog.port}` },
    expected: {
      ...failure(listing, `Could not connect to 127.0.0.1:${backlog.port}: timed out after 1 s`),
      waits: true,
    },
  }));
  Deno.test("fault: (stop the full-backlog listener)", async () => await backlog.stop());
} else {
  Deno.test("fault: connect timeout (faked dial: no full-backlog listener here)", async () => {
    const { main } = await import("../ehlo.ts");
    const lines: string[] = [];
    const code = await main(["127.0.0.1:9", FROM, TO, "--timeout", "0.2"], {
      print: (line) => lines.push(line),
      smtp: { dial: (_h, _p, signal) => new Promise((_, reject) => signal.onabort = reject) },
    });
    assert.equal(code, 1);
    assert.deepEqual(lines, [FAILED, "Could not connect to 127.0.0.1:9: timed out after 0.2 s"]);
  });
}

scenario("greeting timeout (accepts, says nothing)", ALL, (listing) => ({
  server: async () => {},
  expected: {
    ...failure(listing, `Timed out after ${TIMEOUT} s waiting for the server's greeting`),
    waits: true,
  },
}));

scenario("stall in the middle of the EHLO reply", ALL, (listing) => ({
  server: async (s) => {
    await s.send("220 hostile.test ESMTP\r\n");
    await s.expect(/^ehlo /);
    await s.send("250-hostile.test\r\n250-PIPEL");
  },
  expected: { ...failure(listing, TIMED_OUT), received: ["ehlo [127.0.0.1]"], waits: true },
}));

// ---- greetings and EHLO/HELO ----

for (const code of [554, 421]) {
  scenario(`greeting ${code}`, ALL, (listing) => ({
    server: (s) => s.send(`${code} 4.3.2 not today\r\n`),
    expected: failure(listing, `Server refused the connection: ${code} 4.3.2 not today`),
  }));
}

scenario("multi-line greeting", ALL, (listing) => ({
  server: async (s) => {
    await s.send("220-hostile.test ESMTP\r\n220-second line\r\n");
    await hello(s, listing); // its 220 ends the greeting
    await accept(s);
  },
  expected: success(listing),
}));

scenario("EHLO refused, HELO accepted", ALL, (listing) => ({
  server: async (s) => {
    await s.send("220 hostile.test\r\n");
    await s.answer(/^ehlo /, "502 5.5.2 what?\r\n");
    await s.answer(/^helo /, "250 hostile.test\r\n");
    if (listing !== "login") await accept(s);
  },
  expected: listing === "login"
    ? {
      stdout: ["Authentication failed: SMTP AUTH extension not supported by server."],
      code: 1,
      received: ["ehlo [127.0.0.1]", "helo [127.0.0.1]"],
    }
    : {
      stdout: [...afterHello(listing), sent(1)],
      code: 0,
      received: ["ehlo [127.0.0.1]", "helo [127.0.0.1]", ...sendSent(listing)],
    },
}));

scenario("EHLO and HELO refused", ALL, (listing) => ({
  server: async (s) => {
    await s.send("220 hostile.test\r\n");
    await s.answer(/^ehlo /, "502 5.5.2 what?\r\n");
    await s.answer(/^helo /, "501 5.5.4 nor that\r\n");
  },
  expected: {
    ...(listing === "ehlo" || listing === "tls"
      ? { stdout: ["Remote server refused HELO; code: 501"], code: 1, received: [] }
      : listing === "login"
      ? {
        stdout: ["Authentication failed: Server refused HELO: 501 5.5.4 nor that"],
        code: 1,
        received: [],
      }
      : failure(listing, "Server refused HELO: 501 5.5.4 nor that")),
    received: ["ehlo [127.0.0.1]", "helo [127.0.0.1]"],
  },
}));

// ---- malformed and hostile replies ----

/** A well-behaved conversation whose every reply goes through `shape`. */
function shaped(listing: Listing, send: (s: Session, text: string) => Promise<void>): Script {
  return async (s) => {
    const say = (text: string) => send(s, text);
    await say("220-hostile.test ESMTP\r\n220 hi\r\n");
    await s.expect(/^ehlo /);
    await say(
      reply(250, ["hostile.test", "PIPELINING", ...(listing === "login" ? ["AUTH PLAIN"] : [])]),
    );
    if (listing === "login") {
      await s.expect(/^AUTH PLAIN /);
      await say("235 2.7.0 ok\r\n");
    }
    await s.expect(/^mail /);
    await say("250 2.1.0 ok\r\n");
    await s.expect(/^rcpt /);
    await say("250 2.1.5 ok\r\n");
    await s.expect(/^data$/);
    await say("354 go on\r\n");
    await s.readData();
    await say("250-2.0.0 queued\r\n250 as 1234\r\n");
    await s.expect(/^quit$/);
    await say("221 2.0.0 Bye\r\n");
  };
}

scenario("every reply split into single bytes", ALL, (listing) => ({
  server: shaped(listing, (s, text) => s.send(text, text.length, 1)),
  expected: success(listing),
}));

scenario("bare LF line endings", ALL, (listing) => ({
  server: shaped(listing, (s, text) => s.send(text.replaceAll("\r\n", "\n"))),
  expected: success(listing),
}));

scenario("several replies in one write", ALL, (listing) => ({
  server: async (s) => {
    await hello(s, listing);
    // MAIL's, RCPT's and DATA's replies all at once, before RCPT is sent.
    await s.expect(/^mail /);
    await s.send("250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go on\r\n");
    await s.expect(/^rcpt /);
    await s.expect(/^data$/);
    await s.readData();
    await s.send("250 2.0.0 queued\r\n221 2.0.0 Bye\r\n");
    await s.expect(/^quit$/);
  },
  expected: success(listing),
}));

scenario("non-numeric reply code", ALL, (listing) => ({
  server: (s) => s.send("2x0 hostile.test\r\n"),
  expected: failure(listing, `-1 Malformed reply line: "2x0 hostile.test\\r\\n"`),
}));

const LINE_TOO_LONG = `500 Line too long (a reply line is over ${MAX_LINE} bytes)`;

scenario("reply line of 8193 bytes", ALL, (listing) => ({
  server: (s) => s.send(`220 ${"x".repeat(MAX_LINE + 1 - 6)}\r\n`),
  expected: failure(listing, LINE_TOO_LONG),
}));

scenario("reply line of exactly 8192 bytes is accepted", ["ehlo"], (listing) => ({
  server: async (s) => {
    await s.send(`220 ${"x".repeat(MAX_LINE - 6)}\r\n`);
    await s.expect(/^ehlo /);
    await s.send(reply(250, ["hostile.test"]));
    await accept(s);
  },
  expected: success(listing),
}));

scenario("reply line of 10 MB", ALL, (listing) => ({
  server: async (s) => {
    const huge = new Uint8Array(10 * 1024 * 1024).fill(0x78);
    huge.set(new TextEncoder().encode("220 "));
    // The client stops reading and closes: the write fails, as it should.
    await s.send(huge, 160, 0).catch(() => {});
  },
  expected: failure(listing, LINE_TOO_LONG),
}));

scenario("a reply that never ends", ALL, (listing) => ({
  server: async (s) => {
    await s.send("220 hostile.test\r\n");
    await s.expect(/^ehlo /);
    const batch = "250-still going\r\n".repeat(100);
    try {
      while (true) await s.send(batch);
    } catch { /* the client gave up and closed */ }
  },
  expected: {
    ...atLoginEhlo(listing, "500 Reply too long (more than 1000 lines)"),
    received: ["ehlo [127.0.0.1]"],
  },
}));

scenario("EOF inside a multi-line reply", ALL, (listing) => ({
  server: async (s) => {
    await s.send("220 hostile.test\r\n");
    await s.expect(/^ehlo /);
    await s.send("250-hostile.test\r\n250-PIPELINING\r\n");
    s.close();
  },
  expected: {
    ...atLoginEhlo(listing, "Connection unexpectedly closed"),
    received: ["ehlo [127.0.0.1]"],
  },
}));

counts.scenarios++;
Deno.test("fault: connection reset while waiting for the EHLO reply", async () => {
  await Promise.all(ALL.map(async (listing) => {
    const server = await startResettingServer("220 hostile.test\r\n", 1);
    const result = await run(listing, server.address);
    counts.runs++;
    const reason = /^Connection unexpectedly closed: Connection reset by peer/;
    const expected = listing === "login"
      ? { stdout: [/^Authentication failed: Connection unexpectedly closed: .*reset/], code: 1 }
      : failure(listing, reason);
    assert.deepEqual(await server.finished(), ["ehlo [127.0.0.1]"], listing);
    matchLines(result.stdout, expected.stdout, `${listing}.ts stdout`);
    assert.equal(result.code, expected.code, listing);
    if ("stderr" in expected && expected.stderr) assert.match(result.stderr, expected.stderr);
  }));
});

// ---- the mail transaction ----

scenario("421 at MAIL", ALL, (listing) => ({
  server: async (s) => {
    await hello(s, listing);
    await s.answer(/^mail /, "421 4.3.2 shutting down\r\n");
  },
  expected: {
    ...failure(listing, `Sender ${FROM} refused: 421 4.3.2 shutting down`, afterHello(listing)),
    received: [...helloSent(listing), `mail FROM:<${FROM}>`],
  },
}));

scenario("421 at RCPT", ALL, (listing) => ({
  server: async (s) => {
    await hello(s, listing);
    await s.answer(/^mail /, "250 ok\r\n");
    await s.answer(/^rcpt /, "421 4.3.2 shutting down\r\n");
  },
  options: { to: [TO, OTHER] },
  expected: {
    ...failure(
      listing,
      `Recipients refused: ${TO} (421 4.3.2 shutting down)`,
      afterHello(listing),
    ),
    // The second RCPT is not sent: the connection is closed at once.
    received: [...helloSent(listing), `mail FROM:<${FROM}>`, `rcpt TO:<${TO}>`],
  },
}));

scenario("421 in reply to DATA", ALL, (listing) => ({
  server: async (s) => {
    await hello(s, listing);
    await s.answer(/^mail /, "250 ok\r\n");
    await s.answer(/^rcpt /, "250 ok\r\n");
    await s.answer(/^data$/, "421 4.3.2 shutting down\r\n");
  },
  expected: {
    ...failure(listing, "Message data refused: 421 4.3.2 shutting down", afterHello(listing)),
    // No message body after a refused DATA.
    received: [...helloSent(listing), `mail FROM:<${FROM}>`, `rcpt TO:<${TO}>`, "data"],
  },
}));

scenario("421 after the message", ALL, (listing) => ({
  server: async (s) => {
    await hello(s, listing);
    await s.answer(/^mail /, "250 ok\r\n");
    await s.answer(/^rcpt /, "250 ok\r\n");
    await s.answer(/^data$/, "354 go on\r\n");
    await s.readData();
    await s.send("421 4.3.2 shutting down\r\n");
  },
  expected: {
    ...failure(listing, "Message data refused: 421 4.3.2 shutting down", afterHello(listing)),
    received: [...helloSent(listing), ...sendSent(listing).slice(0, -1)],
  },
}));

scenario("sender refused", ALL, (listing) => ({
  server: async (s) => {
    await hello(s, listing);
    await s.answer(/^mail /, "553 5.1.8 no such sender\r\n");
    await s.answer(/^rset$/, "250 ok\r\n");
  },
  expected: {
    ...failure(listing, `Sender ${FROM} refused: 553 5.1.8 no such sender`, afterHello(listing)),
    received: [...helloSent(listing), `mail FROM:<${FROM}>`, "rset"],
  },
}));

scenario("one of two recipients refused", ALL, (listing) => ({
  server: async (s) => {
    await hello(s, listing);
    await s.answer(/^mail /, "250 ok\r\n");
    await s.answer(/^rcpt /, "250 ok\r\n");
    await s.answer(/^rcpt /, "550 5.1.1 no such user\r\n");
    await s.answer(/^data$/, "354 go on\r\n");
    await s.readData();
    await s.send("250 queued\r\n");
    await s.answer(/^quit$/, "221 bye\r\n");
  },
  options: { to: [TO, OTHER] },
  expected: {
    stdout: [...afterHello(listing), sent(2)],
    code: 0,
    received: [...helloSent(listing), ...sendSent(listing, [TO, OTHER])],
  },
}));

scenario("all recipients refused", ALL, (listing) => ({
  server: async (s) => {
    await hello(s, listing);
    await s.answer(/^mail /, "250 ok\r\n");
    await s.answer(/^rcpt /, "550 5.1.1 no such user\r\n");
    await s.answer(/^rcpt /, "551 5.1.6 moved\r\n");
    await s.answer(/^rset$/, "250 ok\r\n");
  },
  options: { to: [TO, OTHER] },
  expected: {
    ...failure(
      listing,
      `Recipients refused: ${TO} (550 5.1.1 no such user), ${OTHER} (551 5.1.6 moved)`,
      afterHello(listing),
    ),
    received: [
      ...helloSent(listing),
      `mail FROM:<${FROM}>`,
      `rcpt TO:<${TO}>`,
      `rcpt TO:<${OTHER}>`,
      "rset",
    ],
  },
}));

scenario("552 in reply to DATA", ALL, (listing) => ({
  server: async (s) => {
    await hello(s, listing);
    await s.answer(/^mail /, "250 ok\r\n");
    await s.answer(/^rcpt /, "250 ok\r\n");
    await s.answer(/^data$/, "552 5.3.4 too big\r\n");
  },
  expected: {
    ...failure(listing, "Message data refused: 552 5.3.4 too big", afterHello(listing)),
    // No body, and (as smtplib's data()) no RSET either.
    received: [...helloSent(listing), `mail FROM:<${FROM}>`, `rcpt TO:<${TO}>`, "data"],
  },
}));

scenario("552 after the message", ALL, (listing) => ({
  server: async (s) => {
    await hello(s, listing);
    await s.answer(/^mail /, "250 ok\r\n");
    await s.answer(/^rcpt /, "250 ok\r\n");
    await s.answer(/^data$/, "354 go on\r\n");
    await s.readData();
    await s.send("552 5.3.4 too big\r\n");
    await s.answer(/^rset$/, "250 ok\r\n");
  },
  expected: {
    ...failure(listing, "Message data refused: 552 5.3.4 too big", afterHello(listing)),
    received: [...helloSent(listing), ...sendSent(listing).slice(0, -1), "rset"],
  },
}));

// ---- AUTH (login.ts) ----

scenario("AUTH not advertised", ["login"], () => ({
  server: (s) => offerAuth(s, null),
  expected: authFailed("SMTP AUTH extension not supported by server.", ["ehlo [127.0.0.1]"]),
}));

scenario("AUTH with only unknown mechanisms", ["login"], () => ({
  server: (s) => offerAuth(s, "GSSAPI NTLM XOAUTH2"),
  expected: authFailed("No suitable authentication method found.", ["ehlo [127.0.0.1]"]),
}));

const CHALLENGE = "<1896.697170952@hostile.test>";
const cramAnswer = btoa(
  `brandon ${createHmac("md5", "abc123").update(CHALLENGE).digest("hex")}`,
);

scenario("wrong password with every mechanism", ["login"], () => ({
  server: async (s) => {
    await offerAuth(s, "LOGIN PLAIN CRAM-MD5");
    await s.answer(/^AUTH CRAM-MD5$/, `334 ${btoa(CHALLENGE)}\r\n`);
    await s.answer(/./, "535 5.7.8 bad (cram)\r\n");
    await s.answer(/^AUTH PLAIN /, "535 5.7.8 bad (plain)\r\n");
    await s.answer(/^AUTH LOGIN /, `334 ${btoa("Password:")}\r\n`);
    await s.answer(/./, "535 5.7.8 bad (login)\r\n");
  },
  expected: authFailed("535 5.7.8 bad (login)", [
    "ehlo [127.0.0.1]",
    "AUTH CRAM-MD5",
    cramAnswer,
    PASSWORD_PLAIN,
    `AUTH LOGIN ${btoa("brandon")}`,
    btoa("abc123"),
  ]),
}));

scenario("334 forever", ["login"], () => ({
  server: async (s) => {
    await offerAuth(s, "PLAIN");
    try {
      while (true) await s.answer(/./, "334 \r\n");
    } catch { /* the client gave up */ }
  },
  expected: authFailed("Server AUTH mechanism infinite loop. Last response: 334 ", [
    "ehlo [127.0.0.1]",
    PASSWORD_PLAIN,
    ...Array(5).fill(PASSWORD_PLAIN.slice("AUTH PLAIN ".length)),
  ]),
}));

scenario("malformed base64 challenge", ["login"], () => ({
  server: async (s) => {
    await offerAuth(s, "LOGIN");
    await s.answer(/^AUTH LOGIN /, "334 !!not*base64\r\n");
  },
  expected: authFailed("Malformed AUTH challenge from the server: '!!not*base64'", [
    "ehlo [127.0.0.1]",
    `AUTH LOGIN ${btoa("brandon")}`,
  ]),
}));

scenario("disconnect during AUTH", ["login"], () => ({
  server: async (s) => {
    await offerAuth(s, "LOGIN");
    await s.answer(/^AUTH LOGIN /, `334 ${btoa("Password:")}\r\n`);
    await s.expect(/./);
    s.close();
  },
  expected: authFailed("Connection unexpectedly closed", [
    "ehlo [127.0.0.1]",
    `AUTH LOGIN ${btoa("brandon")}`,
    btoa("abc123"),
  ]),
}));

// ---- hostile arguments ----

const INVALID = "an address may not hold CR, LF, '<' or '>'";
const badArguments: [string, RunOptions, string][] = [
  [
    "CR LF in the sender",
    { from: `${FROM}\r\nRCPT TO:<evil@example.com>` },
    `Invalid address 'sender@example.com\\r\\nRCPT TO:<evil@example.com>': ${INVALID}`,
  ],
  [
    "LF in a recipient",
    { to: [TO, `${OTHER}\nDATA`] },
    `Invalid address 'bad@example.com\\nDATA': ${INVALID}`,
  ],
  [
    // (Not at the end: Deno drops a trailing CR from each argument.)
    "CR in a recipient",
    { to: [`${TO}\rRSET`] },
    `Invalid address 'brandon@example.com\\rRSET': ${INVALID}`,
  ],
  [
    "'<' and '>' in a recipient",
    { to: ["a<b>@example.com"] },
    `Invalid address 'a<b>@example.com': ${INVALID}`,
  ],
  [
    "'>' and an option in the sender",
    { from: `${FROM}> BODY=8BITMIME` },
    `Invalid address 'sender@example.com> BODY=8BITMIME': ${INVALID}`,
  ],
];
for (const [what, options, message] of badArguments) {
  scenario(what, ALL, (listing) => ({
    server: (s) => hello(s, listing),
    options,
    expected: {
      ...failure(listing, message, afterHello(listing)),
      // simple and debug check the addresses before EHLO; the other three
      // say EHLO themselves first. Nothing is said after that.
      received: listing === "simple" || listing === "debug" ? [] : helloSent(listing),
    },
  }));
}

scenario("non-ASCII address without SMTPUTF8", ALL, (listing) => ({
  server: (s) => hello(s, listing, ["8BITMIME"]),
  options: { to: ["brændon@example.com"] },
  expected: {
    ...failure(
      listing,
      "The address 'brændon@example.com' is not ASCII and the server does not offer SMTPUTF8",
      afterHello(listing),
    ),
    received: helloSent(listing),
  },
}));

// ---- SIZE (ehlo.ts) ----

const messageSize = payload("ehlo").reduce((sum, line) => sum + line.length + 2, 0);

for (const [value, shown] of [["", "SIZE"], [" 0", "SIZE 0"], [" abc", "SIZE abc"]]) {
  scenario(`ehlo.ts with ${shown}`, ["ehlo"], () => ({
    server: async (s) => {
      await hello(s, "ehlo", [`SIZE${value}`]);
      await accept(s);
    },
    expected: {
      stdout: [`Maximum message size is ${value.trim() || "not stated"}`, sent(1)],
      code: 0,
      received: [
        "ehlo [127.0.0.1]",
        `mail FROM:<${FROM}> size=${messageSize}`,
        ...sendSent("ehlo").slice(1),
      ],
    },
  }));
}

scenario("ehlo.ts with a SIZE below the message", ["ehlo"], () => ({
  server: (s) => hello(s, "ehlo", ["SIZE 100"]),
  expected: {
    stdout: ["Maximum message size is 100", "Message too large; aborting."],
    code: 1,
    received: ["ehlo [127.0.0.1]"],
  },
}));

// ---- 421 at the steps not covered above ----

const CLOSING = "The server closed the connection: 421 4.3.2 shutting down";

scenario("421 in reply to EHLO: no HELO", ALL, (listing) => ({
  server: async (s) => {
    await s.send("220 hostile.test ESMTP\r\n");
    await s.answer(/^ehlo /, "421 4.3.2 shutting down\r\n");
  },
  expected: { ...atLoginEhlo(listing, CLOSING), received: ["ehlo [127.0.0.1]"] },
}));

scenario("421 in reply to AUTH: no next mechanism", ["login"], () => ({
  server: async (s) => {
    await offerAuth(s, "PLAIN LOGIN");
    await s.answer(/^AUTH PLAIN /, "421 4.3.2 shutting down\r\n");
  },
  expected: {
    stdout: ["Authentication failed: 421 4.3.2 shutting down"],
    code: 1,
    received: ["ehlo [127.0.0.1]", PASSWORD_PLAIN],
  },
}));

// ---- --pipelining ----

scenario("--pipelining: the envelope arrives before any reply", ALL, (listing) => ({
  server: async (s) => {
    await hello(s, listing, ["PIPELINING"]);
    // A client that waited for MAIL's reply would never send RCPT: no deadlock here.
    await s.expect(/^mail FROM:/);
    await s.expect(/^rcpt TO:/);
    await s.expect(/^data$/);
    await s.send("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go on\r\n");
    await s.readData();
    await s.send("250 2.0.0 Ok: queued\r\n");
    await s.answer(/^quit$/, "221 2.0.0 Bye\r\n");
  },
  options: { flags: ["--pipelining"] },
  expected: { ...success(listing), stderrLines: [] },
}));

// ---- memory stays bounded (in-process, counting the bytes read) ----

Deno.test("fault: a 10 MB reply line is read no further than the line limit", async () => {
  const huge = new Uint8Array(10 * 1024 * 1024).fill(0x78);
  huge.set(new TextEncoder().encode("220 "));
  await using server = startServer((s) => s.send(huge, 160, 0).catch(() => {}));
  let bytesRead = 0;
  let largestRead = 0;
  const dial = async (hostname: string, port: number) => {
    const conn = await Deno.connect({ hostname, port });
    return new Proxy(conn, {
      get(target, property) {
        if (property === "read") {
          return async (buffer: Uint8Array) => {
            largestRead = Math.max(largestRead, buffer.length);
            const n = await target.read(buffer);
            bytesRead += n ?? 0;
            return n;
          };
        }
        const value = Reflect.get(target, property);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  };
  await assert.rejects(
    SMTP.connect(server.address, { dial, timeout: 5000 }),
    { message: LINE_TOO_LONG },
  );
  const limit = MAX_LINE * 2 + 2;
  assert.ok(bytesRead <= limit, `read ${bytesRead} bytes of 10 MB`);
  assert.ok(largestRead <= limit, `asked for ${largestRead} bytes at once`);
  await server.finished();
});

Deno.test("fault: (counts)", () => {
  console.log(`${counts.scenarios} scenarios, ${counts.runs} listing runs`);
  assert.ok(counts.runs > 0);
});
