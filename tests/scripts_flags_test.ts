/**
 * Tests of the listings' opt-in flags against the scripted mock server:
 * `--tls` (TLS from the first byte), `--starttls` (TLS or nothing),
 * `--pipelining`, the limit on `--timeout`, and the hints on stderr that
 * point to them. Without a flag stdout keeps the book's lines. No network.
 *
 * @module
 */

import assert from "node:assert/strict";
import { SMTPException } from "../lib/smtp.ts";
import { main as debugMain } from "../debug.ts";
import { main as ehloMain } from "../ehlo.ts";
import { main as loginMain } from "../login.ts";
import { main as tlsMain } from "../tls.ts";
import { STALL, type Step, TLS, tlsFails } from "./mock_conn.ts";
import {
  ARGS,
  FROM,
  LISTINGS,
  MAYBE_NOT_SENT,
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

// ---- --tls: TLS from the first byte ----

for (const listing of LISTINGS) {
  const { prog, main } = listing;
  Deno.test(`${prog} --tls: TLS from the first byte, port 465, then the book's steps`, async () => {
    const tls = prog === "tls.ts";
    const { script, printed } = tls
      ? {
        script: [GREETING, ...ehlo("SIZE 10240000"), ...send(prog, { size: true }), ...QUIT],
        printed: ["Using TLS connection.", SENT],
      }
      : success(listing, [TO]);
    const result = await run(main, ["--tls", ...ARGS], script);
    assert.equal(result.error, undefined);
    assert.equal(result.status, 0);
    assert.deepEqual(result.stdout, printed);
    assert.deepEqual(result.server.dialed, [{ hostname: SERVER, port: 465 }]);
    assert.deepEqual(result.server.tlsUpgrades, [{ hostname: SERVER, caCerts: undefined }]);
    assert.deepEqual(result.stderr, []);
    result.server.assertDone();
  });
}

Deno.test("ehlo.ts --tls against a plain server port: the handshake fails, hint on stderr", async () => {
  const result = await run(ehloMain, ["--tls", ...ARGS], [
    tlsFails("received corrupt message of type InvalidContentType"),
  ]);
  assert.equal(result.status, 1);
  assert.equal(result.stdout[0], MAYBE_NOT_SENT);
  assert.match(result.stdout[1], /InvalidContentType/);
  assert.deepEqual(result.stderr, [
    "ehlo.ts: the server did not answer in TLS: if it starts in plain text (port 25 or 587),",
    "ehlo.ts: leave out --tls, or use --starttls to upgrade with STARTTLS.",
  ]);
  result.server.assertDone();
});

// ---- --starttls: EHLO, STARTTLS (required), EHLO, then the listing's steps ----

/** The upgrade every --starttls run begins with. */
const UPGRADE = [
  ...ehlo("STARTTLS"),
  "C: STARTTLS",
  "S: 220 2.0.0 Ready to start TLS",
  TLS,
];

for (const listing of LISTINGS) {
  const { prog, main } = listing;
  Deno.test(`${prog} --starttls: upgrades before its own steps`, async () => {
    let script: (string | Step)[];
    let printed = [SENT];
    switch (prog) {
      case "ehlo.ts": // the book's own EHLO comes after the upgrade's
        script = [
          ...ehlo("SIZE 10240000"),
          ...ehlo("SIZE 10240000"),
          ...send(prog, { size: true }),
        ];
        printed = ["Maximum message size is 10240000", SENT];
        break;
      case "login.ts":
        script = [...listing.before, ...send(prog)];
        break;
      case "tls.ts":
        script = [...ehlo(), ...send(prog)];
        printed = ["Negotiating TLS....", "Using TLS connection.", SENT];
        break;
      default:
        script = [...ehlo(), ...send(prog)];
    }
    const result = await run(main, [SERVER, "--starttls", FROM, TO], [
      GREETING,
      ...UPGRADE,
      ...script,
      ...QUIT,
    ]);
    assert.equal(result.error, undefined);
    assert.equal(result.status, 0);
    assert.deepEqual(result.stdout, printed);
    assert.deepEqual(result.server.tlsUpgrades, [{ hostname: SERVER, caCerts: undefined }]);
    if (prog === "debug.ts") {
      // The transcript shows the upgrade too.
      assert.equal(result.transcript[0], String.raw`send: 'ehlo [127.0.0.1]\r\n'`);
      assert.ok(result.transcript.includes(String.raw`send: 'STARTTLS\r\n'`));
    }
    result.server.assertDone();
  });

  Deno.test(`${prog} --starttls against a server that strips STARTTLS: nothing more sent, exit 1`, async () => {
    const result = await run(main, [SERVER, FROM, TO, "--starttls"], [
      GREETING,
      ...ehlo("AUTH PLAIN LOGIN", "SIZE 10240000"),
    ]);
    assert.equal(result.server.written, "ehlo [127.0.0.1]\r\n", "no AUTH, no MAIL, no QUIT");
    assert.ok(!result.server.written.includes("AGJyYW5kb24AYWJjMTIz"));
    assert.ok(result.server.current.closed);
    if (listing.catches) {
      assert.equal(result.status, 1);
      assert.equal(result.stdout[0], MAYBE_NOT_SENT);
      assert.match(result.stdout[1], /STARTTLS/);
      assert.equal(result.stdout.length, 2);
    } else {
      assert.ok(result.error instanceof SMTPException);
      assert.deepEqual(result.stdout, []);
    }
    result.server.assertDone();
  });
}

Deno.test("login.ts --starttls: a certificate from an unknown CA: no AUTH, a --cert hint", async () => {
  const result = await run(loginMain, ["--starttls", ...ARGS], [
    GREETING,
    ...ehlo("STARTTLS"),
    "C: STARTTLS",
    "S: 220 2.0.0 Ready to start TLS",
    tlsFails("invalid peer certificate: UnknownIssuer"),
  ]);
  assert.equal(result.status, 1);
  assert.deepEqual(result.stdout.slice(0, 1), [MAYBE_NOT_SENT]);
  assert.match(result.stdout[1], /UnknownIssuer/);
  assert.equal(
    result.stderr[0],
    "login.ts: the server's certificate is signed by a CA that Deno does not trust.",
  );
  assert.ok(
    result.stderr.includes(
      "login.ts:   deno run -N --cert FILE login.ts --starttls mail.example.com sender@example.com brandon@example.com",
    ),
    result.stderr.join("\n"),
  );
  result.server.assertDone();
});

// ---- --pipelining ----

Deno.test("debug.ts --pipelining: MAIL, RCPT and DATA in one write, replies read in order", async () => {
  const to = [TO, TO2];
  const result = await run(debugMain, ["--pipelining", SERVER, FROM, ...to], [
    GREETING,
    ...ehlo("PIPELINING"),
    `C: mail FROM:<${FROM}>`,
    ...to.map((address) => `C: rcpt TO:<${address}>`),
    "C: data",
    "S: 250 2.1.0 Ok",
    "S: 250 2.1.5 Ok",
    "S: 250 2.1.5 Ok",
    "S: 354 End data with <CR><LF>.<CR><LF>",
    ...payload("debug.ts", to),
    "S: 250 2.0.0 Ok: queued as 98034261",
    ...QUIT,
  ]);
  assert.equal(result.error, undefined);
  assert.equal(result.status, 0);
  assert.deepEqual(result.stdout, ["Message sent to 2 recipients"]);
  const envelope = `mail FROM:<${FROM}>\r\nrcpt TO:<${TO}>\r\nrcpt TO:<${TO2}>\r\ndata\r\n`;
  const writes = result.server.writes.map((w) => new TextDecoder().decode(w));
  assert.ok(writes.includes(envelope), JSON.stringify(writes));
  assert.ok(result.transcript.some((line) => line.includes("rcpt TO:<alice@example.com>")));
  result.server.assertDone();
});

// ---- hints through the listings ----

Deno.test("login.ts: AUTH offered only after STARTTLS: the book's line, a --starttls hint", async () => {
  const result = await run(loginMain, ARGS, [GREETING, ...ehlo("STARTTLS", "SIZE 1000")]);
  assert.equal(result.status, 1);
  assert.deepEqual(result.stdout, [
    "Authentication failed: SMTP AUTH extension not supported by server.",
  ]);
  assert.deepEqual(result.stderr, [
    "login.ts: the server offers STARTTLS and no AUTH: it offers AUTH only after STARTTLS. Try --starttls:",
    "login.ts:   deno run -N login.ts --starttls mail.example.com sender@example.com brandon@example.com",
    "login.ts:   (add any Deno options you gave before login.ts, such as --cert FILE: login.ts " +
    "cannot see them)",
  ]);
  result.server.assertDone();
});

Deno.test("ehlo.ts: no greeting: the book's lines, a --tls hint", async () => {
  const result = await run(ehloMain, ARGS, [STALL], { timeout: 50 });
  assert.equal(result.status, 1);
  assert.deepEqual(result.stdout, [
    MAYBE_NOT_SENT,
    "Timed out after 0.05 s waiting for the server's greeting",
  ]);
  assert.equal(result.stderr.length, 3);
  assert.match(result.stderr[0], /^ehlo\.ts: the server sent no greeting: .* try --tls:$/);
  assert.equal(
    result.stderr[1],
    "ehlo.ts:   deno run -N ehlo.ts --tls --timeout 0.05 mail.example.com sender@example.com " +
      "brandon@example.com",
  );
  result.server.assertDone();
});

Deno.test("ehlo.ts on port 465 without --tls: a --tls hint first, then the book's steps", async () => {
  const server = `${SERVER}:465`;
  const result = await run(ehloMain, [server, FROM, TO], [
    GREETING,
    ...ehlo("SIZE 10240000"),
    ...send("ehlo.ts", { size: true }),
    ...QUIT,
  ]);
  assert.equal(result.status, 0);
  assert.deepEqual(result.stdout, ["Maximum message size is 10240000", SENT]);
  assert.deepEqual(result.stderr, [
    "ehlo.ts: port 465 usually speaks TLS from the first byte (implicit TLS), and without --tls " +
    "this waits for a plain greeting; if none comes, try --tls:",
    `ehlo.ts:   deno run -N ehlo.ts --tls ${server} ${FROM} ${TO}`,
    "ehlo.ts:   (add any Deno options you gave before ehlo.ts, such as --cert FILE: ehlo.ts " +
    "cannot see them)",
  ]);
  assert.deepEqual(result.server.dialed, [{ hostname: SERVER, port: 465 }]);
  result.server.assertDone();
});

Deno.test("tls.ts: a certificate from an unknown CA: a --cert hint on stderr", async () => {
  const result = await run(tlsMain, ARGS, [
    GREETING,
    ...ehlo("STARTTLS"),
    "C: STARTTLS",
    "S: 220 2.0.0 Ready to start TLS",
    tlsFails("invalid peer certificate: UnknownIssuer"),
  ]);
  assert.equal(result.status, 1);
  assert.equal(result.stdout.length, 3);
  assert.match(result.stderr.join("\n"), /deno run -N --cert FILE tls\.ts mail\.example\.com /);
  result.server.assertDone();
});
for (const { prog, main } of LISTINGS) {
  Deno.test(`${prog}: --timeout above 2147483 s is a usage error, nothing dialled`, async () => {
    const result = await run(main, ["--timeout", "3000000", ...ARGS], []);
    assert.equal(result.status, 2);
    assert.match(result.stderr[0], /--timeout takes at most 2147483 seconds/);
    assert.deepEqual(result.server.dialed, []);
    assert.deepEqual(result.prompts, []);
  });
}
