/**
 * Unit tests of the helper's debug transcript against the scripted mock
 * server: smtplib's format byte for byte, the connection and greeting at
 * level 1 from the start, the time of day at level 2, and AUTH arguments
 * masked. No network.
 *
 * @module
 */

import assert from "node:assert/strict";
import { raw } from "./mock_conn.ts";
import { connect, DATA_OK, ehlo, GREETING, PASSWORD, USER } from "./smtp_run.ts";

// ---- the debug transcript ----

Deno.test("the transcript follows smtplib's format byte for byte", async () => {
  const lines: string[] = [];
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("PIPELINING", "SIZE 10240000"),
    "C: mail FROM:<sender@example.com> size=21",
    "S: 250 2.1.0 Ok",
    "C: rcpt TO:<brandon@example.com>",
    "S: 250 2.1.5 it's ok",
    "C: rcpt TO:<o'brien@example.com>",
    `S: 250 2.1.5 "quoted" and 'single'`,
    ...DATA_OK,
    "C: Subject: hi",
    "C: ",
    "C: ..\tx\\",
    "C: .",
    raw("250 2.0.0 Ok: queued as 98034261é\x01\r\n"),
    "C: quit",
    "S: 221 2.0.0 Bye",
  ], { debugOutput: (line) => lines.push(line) });
  smtp.setDebugLevel(1);
  await smtp.sendmail(
    "sender@example.com",
    ["brandon@example.com", "o'brien@example.com"],
    "Subject: hi\n\n.\tx\\\n",
  );
  await smtp.quit();
  assert.deepEqual(lines, [
    String.raw`send: 'ehlo [127.0.0.1]\r\n'`,
    String.raw`reply: b'250-mail.example.com\r\n'`,
    String.raw`reply: b'250-PIPELINING\r\n'`,
    String.raw`reply: b'250 SIZE 10240000\r\n'`,
    String.raw`reply: retcode (250); Msg: b'mail.example.com\nPIPELINING\nSIZE 10240000'`,
    String.raw`send: 'mail FROM:<sender@example.com> size=21\r\n'`,
    String.raw`reply: b'250 2.1.0 Ok\r\n'`,
    String.raw`reply: retcode (250); Msg: b'2.1.0 Ok'`,
    String.raw`send: 'rcpt TO:<brandon@example.com>\r\n'`,
    String.raw`reply: b"250 2.1.5 it's ok\r\n"`,
    String.raw`reply: retcode (250); Msg: b"2.1.5 it's ok"`,
    String.raw`send: "rcpt TO:<o'brien@example.com>\r\n"`,
    String.raw`reply: b'250 2.1.5 "quoted" and \'single\'\r\n'`,
    String.raw`reply: retcode (250); Msg: b'2.1.5 "quoted" and \'single\''`,
    String.raw`send: 'data\r\n'`,
    String.raw`reply: b'354 End data with <CR><LF>.<CR><LF>\r\n'`,
    String.raw`reply: retcode (354); Msg: b'End data with <CR><LF>.<CR><LF>'`,
    String.raw`data: (354, b'End data with <CR><LF>.<CR><LF>')`,
    String.raw`send: b'Subject: hi\r\n\r\n..\tx\\\r\n.\r\n'`,
    String.raw`reply: b'250 2.0.0 Ok: queued as 98034261\xc3\xa9\x01\r\n'`,
    String.raw`reply: retcode (250); Msg: b'2.0.0 Ok: queued as 98034261\xc3\xa9\x01'`,
    String.raw`data: (250, b'2.0.0 Ok: queued as 98034261\xc3\xa9\x01')`,
    String.raw`send: 'quit\r\n'`,
    String.raw`reply: b'221 2.0.0 Bye\r\n'`,
    String.raw`reply: retcode (221); Msg: b'2.0.0 Bye'`,
  ]);
  server.assertDone();
});

Deno.test("debugLevel from the start shows the connection and greeting", async () => {
  const lines: string[] = [];
  const { server, smtp } = await connect([GREETING], {
    debugLevel: 1,
    debugOutput: (l) => lines.push(l),
  });
  assert.deepEqual(lines, [
    "connect: ('mail.example.com', 25)",
    String.raw`reply: b'220 mail.example.com ESMTP Postfix\r\n'`,
    "reply: retcode (220); Msg: b'mail.example.com ESMTP Postfix'",
    "connect: b'mail.example.com ESMTP Postfix'",
  ]);
  server.assertDone();
  smtp.close();
});

Deno.test("debug level 2 puts a time of day before each line", async () => {
  const lines: string[] = [];
  const { server, smtp } = await connect([GREETING, "C: noop", "S: 250 ok"], {
    debugOutput: (l) => lines.push(l),
  });
  smtp.setDebugLevel(2);
  await smtp.noop();
  assert.equal(lines.length, 3);
  assert.match(lines[0], /^\d\d:\d\d:\d\d\.\d{6} send: 'noop\\r\\n'$/);
  server.assertDone();
  smtp.close();
});

Deno.test("the transcript masks AUTH arguments and challenge answers", async () => {
  const lines: string[] = [];
  const { server, smtp } = await connect([
    GREETING,
    ...ehlo("AUTH PLAIN LOGIN"),
    "C: AUTH PLAIN AGJyYW5kb24AYWJjMTIz",
    "S: 535 no",
    "C: AUTH LOGIN YnJhbmRvbg==",
    "S: 334 UGFzc3dvcmQ6",
    "C: YWJjMTIz",
    "S: 235 ok",
  ], { debugOutput: (l) => lines.push(l) });
  smtp.setDebugLevel(1);
  await smtp.login(USER, PASSWORD);
  assert.deepEqual(lines.filter((l) => l.startsWith("send:")), [
    String.raw`send: 'ehlo [127.0.0.1]\r\n'`,
    String.raw`send: 'AUTH PLAIN ********\r\n'`,
    String.raw`send: 'AUTH LOGIN ********\r\n'`,
    String.raw`send: '********\r\n'`,
  ]);
  assert.ok(!lines.some((l) => l.includes("YWJjMTIz") || l.includes("AGJyYW5kb24AYWJjMTIz")));
  server.assertDone();
  smtp.close();
});
