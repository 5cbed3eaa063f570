/**
 * Tests of the five listings (simple, ehlo, debug, login, tls) run against
 * the scripted mock server: the exact lines printed, the exit status, and
 * the exact bytes on the wire, for success and for each failure the book's
 * scripts handle, an unanswered QUIT and a 421 at any step. The opt-in
 * flags are in scripts_flags_test.ts; the shared helpers in scripts_run.ts.
 * No network.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Interrupted } from "../lib/prompt.ts";
import { NetworkError, SMTPException } from "../lib/smtp.ts";
import { main as debugMain } from "../debug.ts";
import { main as ehloMain } from "../ehlo.ts";
import { main as loginMain } from "../login.ts";
import { main as simpleMain } from "../simple.ts";
import { main as tlsMain } from "../tls.ts";
import { EOF, MockServer, refusedDial, STALL, type Step, TLS, tlsFails } from "./mock_conn.ts";
import {
  ARGS,
  FROM,
  LISTINGS,
  MAYBE_NOT_SENT,
  message,
  payload,
  QUIT,
  run,
  send,
  SENT,
  SERVER,
  success,
  TO,
  TO2,
} from "./scripts_run.ts";
import { ehlo, GREETING } from "./smtp_run.ts";

// ---- what all five share ----

for (const { prog, main, usageWord } of LISTINGS) {
  const usage = `${usageWord}: ${prog} server fromaddr toaddr [toaddr...]`;

  Deno.test(`${prog}: fewer than three arguments prints the usage line, exit 2`, async () => {
    for (const args of [[], [SERVER], [SERVER, FROM]]) {
      const result = await run(main, args, []);
      assert.equal(result.status, 2);
      assert.deepEqual(result.stdout, [usage]);
      assert.deepEqual(result.server.dialed, [], "nothing may be dialled");
      assert.deepEqual(result.prompts, []);
    }
  });

  Deno.test(`${prog}: -h prints help and exits 0; an unknown option exits 2`, async () => {
    const help = await run(main, ["-h"], []);
    assert.equal(help.status, 0);
    assert.equal(help.stdout[0], usage);
    const unknown = await run(main, ["--bogus", ...ARGS], []);
    assert.equal(unknown.status, 2);
    assert.deepEqual(unknown.stdout, [usage]);
    assert.match(unknown.stderr[0], new RegExp(`^${prog}: .*bogus`));
    assert.deepEqual(unknown.server.dialed, []);
  });

  Deno.test(`${prog}: the message on the wire is the book's, with the script's name`, async () => {
    const listing = LISTINGS.find((l) => l.prog === prog)!;
    const result = await run(main, ARGS, success(listing, [TO]).script);
    const book = [
      "To: brandon@example.com",
      "From: sender@example.com",
      `Subject: Test Message from ${prog}`,
      "",
      "Hello,",
      "",
      `This is a test message sent to you from the ${prog} program`,
      "in Foundations of Python Network Programming.",
    ];
    const dataWrites = result.server.writes.map((w) => new TextDecoder().decode(w))
      .filter((w) => w.endsWith("\r\n.\r\n"));
    assert.deepEqual(dataWrites, [book.join("\r\n") + "\r\n.\r\n"]);
    result.server.assertDone();
  });
}

for (const listing of LISTINGS) {
  const { prog, main } = listing;

  for (const to of [[TO], [TO, TO2]]) {
    Deno.test(`${prog}: sends to ${to.length} recipient(s), exact wire and output`, async () => {
      const { script, printed } = success(listing, to);
      const result = await run(main, [SERVER, FROM, ...to], script);
      assert.equal(result.error, undefined);
      assert.equal(result.status, 0);
      assert.deepEqual(result.stdout, printed);
      assert.deepEqual(result.server.dialed, [{ hostname: SERVER, port: 25 }]);
      assert.ok(result.server.written.includes(`To: ${to.join(", ")}\r\n`));
      assert.ok(result.server.current.closed);
      result.server.assertDone();

      // simple prints after QUIT; the other four print before it.
      const quit = result.events.indexOf(`write "quit\\r\\n"`);
      const sent = result.events.indexOf(`print ${printed.at(-1)}`);
      assert.ok(quit >= 0 && sent >= 0);
      if (prog === "simple.ts") assert.ok(sent > quit, "simple.ts prints after QUIT");
      else assert.ok(sent < quit, `${prog} prints before QUIT`);
    });
  }
}

Deno.test("the server name may carry a port, or be an IPv6 literal with one", async () => {
  const { script } = success(LISTINGS[0], [TO]);
  const withPort = await run(simpleMain, ["localhost:2525", FROM, TO], script);
  assert.deepEqual(withPort.server.dialed, [{ hostname: "localhost", port: 2525 }]);
  const v6 = await run(simpleMain, ["[::1]:2525", FROM, TO], script);
  assert.deepEqual(v6.server.dialed, [{ hostname: "::1", port: 2525 }]);
});

// ---- failures ----

/** A failure: the steps after the script's own preamble, and the error's text. */
interface Failure {
  name: string;
  /** The whole script, or the steps after `before` (then `afterBefore` is true). */
  steps: (string | Step)[];
  afterBefore: boolean;
  to?: string[];
  dial?: typeof refusedDial;
  /** The error text printed after "Your message may not have been sent!". */
  text: string;
  errorType: new (...args: never[]) => Error;
}

const FAILURES: Failure[] = [
  {
    name: "connection refused",
    steps: [],
    afterBefore: false,
    dial: refusedDial,
    text: "Could not connect to mail.example.com:25: Connection refused (os error 111)",
    errorType: NetworkError,
  },
  {
    name: "greeting 554",
    steps: ["S: 554 5.7.1 no service here"],
    afterBefore: false,
    text: "Server refused the connection: 554 5.7.1 no service here",
    errorType: SMTPException,
  },
  {
    name: "sender refused",
    steps: [
      `C: mail FROM:<${FROM}>`,
      "S: 553 5.1.8 sender domain does not exist",
      "C: rset",
      "S: 250 2.0.0 Ok",
    ],
    afterBefore: true,
    text: "Sender sender@example.com refused: 553 5.1.8 sender domain does not exist",
    errorType: SMTPException,
  },
  {
    name: "all recipients refused",
    steps: [
      `C: mail FROM:<${FROM}>`,
      "S: 250 2.1.0 Ok",
      `C: rcpt TO:<${TO}>`,
      "S: 550 5.1.1 User unknown",
      "C: rset",
      "S: 250 2.0.0 Ok",
    ],
    afterBefore: true,
    text: "Recipients refused: brandon@example.com (550 5.1.1 User unknown)",
    errorType: SMTPException,
  },
  {
    name: "message refused with 552 after DATA",
    steps: [
      `C: mail FROM:<${FROM}>`,
      "S: 250 2.1.0 Ok",
      `C: rcpt TO:<${TO}>`,
      "S: 250 2.1.5 Ok",
      "C: data",
      "S: 354 go ahead",
      "PAYLOAD",
      "S: 552 5.3.4 Message size exceeds fixed limit",
      "C: rset",
      "S: 250 2.0.0 Ok",
    ],
    afterBefore: true,
    text: "Message data refused: 552 5.3.4 Message size exceeds fixed limit",
    errorType: SMTPException,
  },
  {
    name: "server disconnects after MAIL",
    steps: [`C: mail FROM:<${FROM}>`, EOF],
    afterBefore: true,
    text: "Connection unexpectedly closed",
    errorType: SMTPException,
  },
];

for (const listing of LISTINGS) {
  const { prog, main } = listing;
  for (const failure of FAILURES) {
    Deno.test(`${prog}: ${failure.name}`, async () => {
      const steps = failure.steps.flatMap((step) => step === "PAYLOAD" ? payload(prog) : [step]);
      const script = failure.afterBefore ? [GREETING, ...listing.before, ...steps] : steps;
      const result = await run(main, ARGS, script, { dial: failure.dial });
      if (listing.catches) {
        assert.equal(result.error, undefined);
        assert.equal(result.status, 1);
        const printedBefore = failure.afterBefore ? listing.printedBefore : [];
        assert.deepEqual(result.stdout, [...printedBefore, MAYBE_NOT_SENT, failure.text]);
      } else {
        // simple.ts catches nothing: main rejects, nothing on stdout.
        assert.ok(result.error instanceof failure.errorType, `got ${result.error}`);
        assert.equal((result.error as Error).message, failure.text);
        assert.deepEqual(result.stdout, []);
      }
      assert.ok(!result.server.written.includes("quit"), "no QUIT after a failure");
      // simple.ts leaves the closing to the end of the process, as the book's does.
      if (listing.catches && result.server.conns.length > 0) {
        assert.ok(result.server.current.closed);
      }
      result.server.assertDone();
    });
  }

  Deno.test(`${prog}: one of two recipients refused is still a success`, async () => {
    const to = [TO, TO2];
    const script = [
      GREETING,
      ...listing.before,
      `C: mail FROM:<${FROM}>`,
      "S: 250 2.1.0 Ok",
      `C: rcpt TO:<${TO}>`,
      "S: 550 5.1.1 User unknown",
      `C: rcpt TO:<${TO2}>`,
      "S: 250 2.1.5 Ok",
      "C: data",
      "S: 354 go ahead",
      ...payload(prog, to),
      "S: 250 2.0.0 Ok: queued",
      ...QUIT,
    ];
    const result = await run(main, [SERVER, FROM, ...to], script);
    assert.equal(result.status, 0);
    assert.deepEqual(result.stdout, [...listing.printedBefore, "Message sent to 2 recipients"]);
    result.server.assertDone();
  });
}

// ---- ehlo.ts ----

Deno.test("ehlo.ts: a message over the advertised SIZE is not sent", async () => {
  const length = message("ehlo.ts").length;
  const tooSmall = await run(ehloMain, ARGS, [GREETING, ...ehlo(`SIZE ${length - 1}`)]);
  assert.equal(tooSmall.status, 1);
  assert.deepEqual(tooSmall.stdout, [
    `Maximum message size is ${length - 1}`,
    "Message too large; aborting.",
  ]);
  assert.equal(tooSmall.server.written, "ehlo [127.0.0.1]\r\n", "no MAIL, no QUIT");
  assert.ok(tooSmall.server.current.closed);
  tooSmall.server.assertDone();

  // Exactly the limit is not "longer than" it.
  const justFits = await run(ehloMain, ARGS, [
    GREETING,
    ...ehlo(`SIZE ${length}`),
    ...send("ehlo.ts", { size: true }),
    ...QUIT,
  ]);
  assert.equal(justFits.status, 0);
  assert.deepEqual(justFits.stdout, [`Maximum message size is ${length}`, SENT]);
  justFits.server.assertDone();
});

Deno.test("ehlo.ts: SIZE 0 and SIZE without a value set no limit", async () => {
  for (
    const [keyword, printed] of [["SIZE 0", "Maximum message size is 0"], [
      "SIZE",
      "Maximum message size is not stated",
    ]]
  ) {
    const result = await run(ehloMain, ARGS, [
      GREETING,
      ...ehlo(keyword),
      ...send("ehlo.ts", { size: true }),
      ...QUIT,
    ]);
    assert.equal(result.status, 0, keyword);
    assert.deepEqual(result.stdout, [printed, SENT]);
    result.server.assertDone();
  }
});

Deno.test("ehlo.ts: EHLO refused falls back to HELO and sends", async () => {
  const result = await run(ehloMain, ARGS, [
    GREETING,
    "C: ehlo [127.0.0.1]",
    "S: 502 5.5.2 Error: command not recognized",
    "C: helo [127.0.0.1]",
    "S: 250 mail.example.com",
    ...send("ehlo.ts"),
    ...QUIT,
  ]);
  assert.equal(result.status, 0);
  assert.deepEqual(result.stdout, [SENT]);
  result.server.assertDone();
});

for (
  const { prog, main } of [{ prog: "ehlo.ts", main: ehloMain }, { prog: "tls.ts", main: tlsMain }]
) {
  Deno.test(`${prog}: EHLO and HELO both refused`, async () => {
    const result = await run(main, ARGS, [
      GREETING,
      "C: ehlo [127.0.0.1]",
      "S: 502 5.5.2 Error: command not recognized",
      "C: helo [127.0.0.1]",
      "S: 554 5.7.1 go away",
    ]);
    assert.equal(result.status, 1);
    assert.deepEqual(result.stdout, ["Remote server refused HELO; code: 554"]);
    assert.ok(result.server.current.closed);
    result.server.assertDone();
  });
}

// ---- debug.ts ----

Deno.test("debug.ts: the transcript is smtplib's, without the greeting", async () => {
  const result = await run(debugMain, ARGS, [
    GREETING,
    ...ehlo("PIPELINING", "SIZE 10240000"),
    ...send("debug.ts", { size: true }),
    ...QUIT,
  ]);
  assert.equal(result.status, 0);
  assert.deepEqual(result.stdout, [SENT]);
  const text = String.raw`To: brandon@example.com\r\nFrom: sender@example.com\r\n` +
    String.raw`Subject: Test Message from debug.ts\r\n\r\nHello,\r\n\r\n` +
    String.raw`This is a test message sent to you from the debug.ts program\r\n` +
    String.raw`in Foundations of Python Network Programming.\r\n.\r\n`;
  assert.deepEqual(result.transcript, [
    String.raw`send: 'ehlo [127.0.0.1]\r\n'`,
    String.raw`reply: b'250-mail.example.com\r\n'`,
    String.raw`reply: b'250-PIPELINING\r\n'`,
    String.raw`reply: b'250 SIZE 10240000\r\n'`,
    String.raw`reply: retcode (250); Msg: b'mail.example.com\nPIPELINING\nSIZE 10240000'`,
    String.raw`send: 'mail FROM:<sender@example.com> size=209\r\n'`,
    String.raw`reply: b'250 2.1.0 Ok\r\n'`,
    String.raw`reply: retcode (250); Msg: b'2.1.0 Ok'`,
    String.raw`send: 'rcpt TO:<brandon@example.com>\r\n'`,
    String.raw`reply: b'250 2.1.5 Ok\r\n'`,
    String.raw`reply: retcode (250); Msg: b'2.1.5 Ok'`,
    String.raw`send: 'data\r\n'`,
    String.raw`reply: b'354 End data with <CR><LF>.<CR><LF>\r\n'`,
    String.raw`reply: retcode (354); Msg: b'End data with <CR><LF>.<CR><LF>'`,
    String.raw`data: (354, b'End data with <CR><LF>.<CR><LF>')`,
    `send: b'${text}'`,
    String.raw`reply: b'250 2.0.0 Ok: queued as 98034261\r\n'`,
    String.raw`reply: retcode (250); Msg: b'2.0.0 Ok: queued as 98034261'`,
    String.raw`data: (250, b'2.0.0 Ok: queued as 98034261')`,
    String.raw`send: 'quit\r\n'`,
    String.raw`reply: b'221 2.0.0 Bye\r\n'`,
    String.raw`reply: retcode (221); Msg: b'2.0.0 Bye'`,
  ]);
  result.server.assertDone();
});

// ---- login.ts ----

Deno.test("login.ts: prompts for user and password before connecting", async () => {
  let dialledAtPrompt = -1;
  const events: string[] = [];
  const server = new MockServer([
    GREETING,
    ...LISTINGS[3].before,
    ...send("login.ts"),
    ...QUIT,
  ], { events });
  const status = await loginMain(ARGS, {
    print: (line) => events.push(`print ${line}`),
    input: (prompt) => {
      dialledAtPrompt = server.dialed.length;
      events.push(`input ${prompt}`);
      return Promise.resolve("brandon");
    },
    getpass: (prompt) => {
      events.push(`getpass ${prompt}`);
      return Promise.resolve("abc123");
    },
    smtp: { dial: server.dial },
  });
  assert.equal(status, 0);
  assert.equal(dialledAtPrompt, 0);
  assert.deepEqual(events.slice(0, 3), [
    "input Enter username: ",
    "getpass Enter password: ",
    `write "ehlo [127.0.0.1]\\r\\n"`,
  ]);
  server.assertDone();
});

Deno.test("login.ts: a wrong password is 'Authentication failed', exit 1", async () => {
  const result = await run(loginMain, ARGS, [
    GREETING,
    ...ehlo("AUTH PLAIN"),
    "C: AUTH PLAIN AGJyYW5kb24Ad3Jvbmc=",
    "S: 535 5.7.8 Error: authentication failed",
  ], { answers: ["brandon", "wrong"] });
  assert.equal(result.status, 1);
  assert.deepEqual(result.stdout, [
    "Authentication failed: 535 5.7.8 Error: authentication failed",
  ]);
  assert.ok(result.server.current.closed);
  result.server.assertDone();
});

Deno.test("login.ts: no AUTH, or no usable mechanism", async () => {
  const cases: [string[], string][] = [
    [ehlo("SIZE 1000"), "Authentication failed: SMTP AUTH extension not supported by server."],
    [ehlo("AUTH GSSAPI NTLM"), "Authentication failed: No suitable authentication method found."],
  ];
  for (const [steps, printed] of cases) {
    const result = await run(loginMain, ARGS, [GREETING, ...steps]);
    assert.equal(result.status, 1);
    assert.deepEqual(result.stdout, [printed]);
    assert.ok(result.server.current.closed);
    result.server.assertDone();
  }
});

Deno.test("login.ts: end of input at the prompts exits 1 without connecting", async () => {
  const result = await run(loginMain, ARGS, [], { answers: [null] });
  assert.equal(result.status, 1);
  assert.deepEqual(result.prompts, ["input Enter username: "]);
  assert.deepEqual(result.server.dialed, []);
  assert.equal(result.stderr.length, 1);
});

Deno.test("login.ts: Ctrl-C at a prompt exits 130 without connecting", async () => {
  for (const answers of [[new Interrupted()], ["brandon", new Interrupted()]]) {
    const result = await run(loginMain, ARGS, [], { answers });
    assert.equal(result.status, 130);
    assert.deepEqual(result.stdout, []);
    assert.deepEqual(result.stderr, []);
    assert.deepEqual(result.server.dialed, []);
  }
});

// ---- tls.ts ----

Deno.test("tls.ts: STARTTLS upgrade checks the server's name", async () => {
  const { script } = success(LISTINGS[4], [TO]);
  const result = await run(tlsMain, ARGS, script);
  assert.equal(result.status, 0);
  assert.deepEqual(result.server.tlsUpgrades, [{ hostname: SERVER, caCerts: undefined }]);
  assert.ok(result.server.conns[0].upgraded);
  assert.ok(result.server.conns[1].closed);
});

const tlsFailures: { name: string; after: (string | Step)[]; status: number; printed: string[] }[] =
  [
    {
      name: "EHLO refused after STARTTLS",
      after: [TLS, "C: ehlo [127.0.0.1]", "S: 554 5.7.1 no"],
      status: 5,
      printed: ["Negotiating TLS....", "Couldn't EHLO after STARTTLS"],
    },
    {
      name: "a TLS upgrader that throws",
      after: [tlsFails("invalid certificate in caCerts", { atHandshake: false })],
      status: 1,
      printed: [
        "Negotiating TLS....",
        MAYBE_NOT_SENT,
        "TLS handshake with mail.example.com:25 failed: invalid certificate in caCerts",
      ],
    },
    {
      name: "a certificate that fails verification",
      after: [tlsFails("invalid peer certificate: UnknownIssuer")],
      status: 1,
      printed: [
        "Negotiating TLS....",
        MAYBE_NOT_SENT,
        "TLS handshake with mail.example.com:25 failed: invalid peer certificate: UnknownIssuer",
      ],
    },
  ];

for (const { name, after, status, printed } of tlsFailures) {
  Deno.test(`tls.ts: ${name}`, async () => {
    const result = await run(tlsMain, ARGS, [
      GREETING,
      ...ehlo("STARTTLS"),
      "C: STARTTLS",
      "S: 220 2.0.0 Ready to start TLS",
      ...after,
    ]);
    assert.equal(result.status, status);
    assert.deepEqual(result.stdout, printed);
    assert.ok(result.server.current.closed);
    result.server.assertDone();
  });
}

Deno.test("tls.ts: STARTTLS refused with 454", async () => {
  const result = await run(tlsMain, ARGS, [
    GREETING,
    ...ehlo("STARTTLS"),
    "C: STARTTLS",
    "S: 454 4.7.0 TLS not available due to local problem",
  ]);
  assert.equal(result.status, 1);
  assert.deepEqual(result.stdout, [
    "Negotiating TLS....",
    MAYBE_NOT_SENT,
    "STARTTLS refused: 454 4.7.0 TLS not available due to local problem",
  ]);
  assert.deepEqual(result.server.tlsUpgrades, []);
  result.server.assertDone();
});

// ---- after the message is accepted: QUIT that goes unanswered ----

const NOTICE = "the server accepted the message but did not answer QUIT: ";

for (const listing of LISTINGS) {
  const { prog, main } = listing;
  const unanswered: [string, Step, RegExp][] = [
    ["hangs up", EOF, /^Connection unexpectedly closed/],
    ["stays silent", STALL, /^Timed out after 0\.05 s waiting for the server's reply$/],
  ];
  for (const [what, step, reason] of unanswered) {
    Deno.test(`${prog}: accepted, then the server ${what} at QUIT: success, a notice, exit 0`, async () => {
      const { script, printed } = success(listing, [TO]);
      const result = await run(main, ARGS, [...script.slice(0, -1), step], { timeout: 50 });
      assert.equal(result.error, undefined);
      assert.equal(result.status, 0);
      assert.deepEqual(result.stdout, printed);
      assert.equal(result.stderr.length, 1, result.stderr.join("\n"));
      assert.ok(result.stderr[0].startsWith(`${prog}: ${NOTICE}`), result.stderr[0]);
      assert.match(result.stderr[0].slice(`${prog}: ${NOTICE}`.length), reason);
      assert.ok(result.server.current.closed);
      result.server.assertDone();
    });
  }
}

// ---- 421: the server is going away, at any step ----

const CLOSING = "The server closed the connection: 421 4.3.2 shutting down";

for (const { prog, main, catches } of LISTINGS) {
  Deno.test(`${prog}: 421 to EHLO: no HELO, the 421 shown, exit 1`, async () => {
    const result = await run(main, ARGS, [
      GREETING,
      "C: ehlo [127.0.0.1]",
      "S: 421 4.3.2 shutting down",
    ]);
    if (catches) {
      assert.equal(result.status, 1);
      // login.ts says EHLO inside login(): its errors are "Authentication failed:", as in the book.
      const shown = prog === "login.ts"
        ? [`Authentication failed: ${CLOSING}`]
        : [MAYBE_NOT_SENT, CLOSING];
      assert.deepEqual(result.stdout, shown);
    } else {
      assert.ok(result.error instanceof SMTPException);
      assert.equal((result.error as Error).message, CLOSING);
    }
    assert.equal(result.server.written, "ehlo [127.0.0.1]\r\n");
    assert.ok(result.server.current.closed);
    result.server.assertDone();
  });
}

Deno.test("login.ts: 421 to AUTH PLAIN: no AUTH LOGIN, 'Authentication failed' with the 421, exit 1", async () => {
  const result = await run(loginMain, ARGS, [
    GREETING,
    ...ehlo("AUTH PLAIN LOGIN"),
    "C: AUTH PLAIN AGJyYW5kb24AYWJjMTIz",
    "S: 421 4.3.2 shutting down",
  ]);
  assert.equal(result.status, 1);
  // LISTINGS.md: any SMTP error while logging in is "Authentication failed: ...".
  assert.deepEqual(result.stdout, ["Authentication failed: 421 4.3.2 shutting down"]);
  assert.ok(result.server.current.closed);
  result.server.assertDone();
});
