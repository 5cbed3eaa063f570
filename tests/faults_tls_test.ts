/**
 * Fault injection over TLS: tls.ts's STARTTLS against good and bad
 * certificates, a refused or hijacked upgrade and a stalled handshake;
 * `--starttls` (TLS or nothing) and `--tls` (TLS from the first byte); and
 * the hints on stderr that point to `--tls`, `--starttls` or Deno's
 * `--cert`. Each listing runs as a real `deno run` subprocess against the
 * hostile server (harness: faults_run.ts).
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Session } from "./hostile/server.ts";
import {
  accept,
  ALL,
  authFailed,
  certs,
  failure,
  FROM,
  hello,
  helloSent,
  type Line,
  type Listing,
  offerAuth,
  PASSWORD_PLAIN,
  reply,
  scenario,
  sendSent,
  sent,
  TIMEOUT,
  TO,
} from "./faults_run.ts";

// ---- STARTTLS (tls.ts) ----

const NEGOTIATING = "Negotiating TLS....";

/** Greets, offers STARTTLS and answers it with `answer`. */
async function offerStartTls(s: Session, answer: string): Promise<void> {
  await s.send("220 hostile.test\r\n");
  await s.answer(/^ehlo /, reply(250, ["hostile.test", "STARTTLS"]));
  await s.answer(/^STARTTLS$/, answer);
}

/** Checks that what followed STARTTLS on the wire was TLS and no plain SMTP. */
function onlyTlsAfterStartTls(session: Session): void {
  const raw = session.rawAfterTls.flatMap((chunk) => [...chunk]);
  assert.ok(raw.length > 0, "the client began no TLS handshake");
  assert.equal(raw[0], 0x16, "the first byte after STARTTLS is not a TLS handshake record");
  const text = String.fromCharCode(...raw);
  assert.doesNotMatch(text, /ehlo|mail FROM|rcpt TO|data\r\n|quit/);
}

scenario("STARTTLS with a good certificate (the baseline)", ["tls"], () => ({
  server: async (s) => {
    await offerStartTls(s, "220 2.0.0 Ready to start TLS\r\n");
    if (!await s.startTls(certs.good)) throw s.tlsError;
    await s.answer(/^ehlo /, reply(250, ["hostile.test", "PIPELINING"]));
    await accept(s);
  },
  expected: {
    stdout: [NEGOTIATING, "Using TLS connection.", sent(1)],
    code: 0,
    received: ["ehlo [127.0.0.1]", "STARTTLS", "ehlo [127.0.0.1]", ...sendSent("tls")],
  },
  check: onlyTlsAfterStartTls,
}));

scenario("STARTTLS refused with 454", ["tls"], () => ({
  server: (s) => offerStartTls(s, "454 4.7.0 TLS not available\r\n"),
  expected: {
    ...failure("tls", "STARTTLS refused: 454 4.7.0 TLS not available", [NEGOTIATING]),
    received: ["ehlo [127.0.0.1]", "STARTTLS"],
  },
}));

scenario("STARTTLS 220 with plaintext injected in the same write", ["tls"], () => ({
  server: (s) => offerStartTls(s, "220 go ahead\r\n250-hostile.test\r\n250 AUTH PLAIN\r\n"),
  expected: {
    ...failure(
      "tls",
      "Server sent data after its 220 reply to STARTTLS, before the TLS handshake; " +
        "refusing to go on (possible command injection)",
      [NEGOTIATING],
    ),
    // Not one byte after STARTTLS: no TLS hello, no command.
    received: ["ehlo [127.0.0.1]", "STARTTLS"],
  },
  check: (session) => assert.equal(session.rawAfterTls.length, 0),
}));

const badCertificates = [
  ["expired", certs.expired, /certificate expired/],
  ["for another host name", certs.wrongName, /not valid for name "127\.0\.0\.1"/],
  ["self-signed (untrusted)", certs.selfSigned, /UnknownIssuer/],
] as const;
for (const [what, keys, problem] of badCertificates) {
  scenario(`STARTTLS with a certificate ${what}`, ["tls"], () => ({
    server: async (s) => {
      await offerStartTls(s, "220 2.0.0 Ready\r\n");
      if (await s.startTls(keys)) throw new Error("the handshake should have failed");
    },
    expected: {
      ...failure(
        "tls",
        new RegExp(`^TLS handshake with 127\\.0\\.0\\.1:\\d+ failed: .*${problem.source}`),
        [NEGOTIATING],
      ),
      received: ["ehlo [127.0.0.1]", "STARTTLS"],
    },
    check: onlyTlsAfterStartTls,
  }));
}

scenario("server stops answering during the TLS handshake", ["tls"], () => ({
  server: async (s) => {
    await offerStartTls(s, "220 2.0.0 Ready\r\n");
    await s.ignoreTls();
  },
  expected: {
    ...failure("tls", `Timed out after ${TIMEOUT} s during the TLS handshake`, [NEGOTIATING]),
    received: ["ehlo [127.0.0.1]", "STARTTLS"],
    waits: true,
  },
  check: onlyTlsAfterStartTls,
}));

scenario("EHLO refused after STARTTLS (exit 5)", ["tls"], () => ({
  server: async (s) => {
    await offerStartTls(s, "220 2.0.0 Ready\r\n");
    if (!await s.startTls(certs.good)) throw s.tlsError;
    await s.answer(/^ehlo /, "502 5.5.2 no\r\n");
  },
  expected: {
    stdout: [NEGOTIATING, "Couldn't EHLO after STARTTLS"],
    code: 5,
    received: ["ehlo [127.0.0.1]", "STARTTLS", "ehlo [127.0.0.1]"],
  },
}));

// ---- --starttls: TLS or nothing ----

scenario("--starttls against a server that strips STARTTLS", ALL, (listing) => ({
  server: (s) => offerAuth(s, "PLAIN LOGIN"),
  options: { flags: ["--starttls"] },
  expected: {
    ...failure(
      listing,
      listing === "tls"
        ? "STARTTLS extension not supported by server; --starttls refuses to send in plain text."
        : /^TLS is required \(requireTls\), but the server does not offer STARTTLS; .*nothing more was sent/,
    ),
    // Not one byte after EHLO: no AUTH (no password), no MAIL, no QUIT.
    received: ["ehlo [127.0.0.1]"],
  },
}));

scenario(
  "--starttls with a good certificate: login after the upgrade",
  ["login", "tls"],
  (listing) => ({
    server: async (s) => {
      await offerStartTls(s, "220 2.0.0 Ready to start TLS\r\n");
      if (!await s.startTls(certs.good)) throw s.tlsError;
      await s.answer(/^ehlo /, reply(250, ["hostile.test", "AUTH PLAIN"]));
      if (listing === "login") await s.answer(/^AUTH PLAIN /, "235 2.7.0 Authenticated\r\n");
      await accept(s);
    },
    options: { flags: ["--starttls"] },
    expected: {
      stdout: listing === "tls" ? [NEGOTIATING, "Using TLS connection.", sent(1)] : [sent(1)],
      code: 0,
      received: [
        "ehlo [127.0.0.1]",
        "STARTTLS",
        "ehlo [127.0.0.1]",
        ...(listing === "login" ? [PASSWORD_PLAIN] : []),
        ...sendSent(listing),
      ],
      stderrLines: [],
    },
    // The password went only inside TLS.
    check: onlyTlsAfterStartTls,
  }),
);

// ---- --tls: TLS from the first byte ----

scenario("--tls against an implicit-TLS server", ALL, (listing) => ({
  tls: certs.good,
  server: async (s) => {
    await hello(s, listing);
    await accept(s);
  },
  options: { flags: ["--tls"] },
  expected: {
    stdout: [...(listing === "tls" ? ["Using TLS connection."] : []), sent(1)],
    code: 0,
    received: [...helloSent(listing), ...sendSent(listing)],
    stderrLines: [],
  },
}));

scenario(
  "--tls with a certificate from an unknown CA: a --cert hint",
  ["ehlo", "tls"],
  (listing) => ({
    tls: certs.selfSigned,
    server: async () => {},
    options: { flags: ["--tls"] },
    expected: {
      ...failure(listing, /^TLS handshake with 127\.0\.0\.1:\d+ failed: .*UnknownIssuer/),
      stderrLines: [
        `${listing}.ts: the server's certificate is signed by a CA that Deno does not trust.`,
        `${listing}.ts: If you have that CA's certificate (PEM), give it to Deno before the script name:`,
        new RegExp(
          `^${listing}\\.ts: {3}deno run -N --cert FILE ${listing}\\.ts --tls --timeout 1 127\\.0\\.0\\.1:\\d+ ${FROM} ${TO}$`,
        ),
        `${listing}.ts: or set DENO_CERT=FILE.`,
      ],
    },
  }),
);

// ---- hints that point the way (stderr; stdout keeps the book's lines) ----

/**
 * The line after a suggested command: Deno's options before the script name
 * cannot be seen from the script (these ports are not the playground's).
 */
function denoOptionsNote(listing: Listing): string {
  return `${listing}.ts:   (add any Deno options you gave before ${listing}.ts, such as ` +
    `--cert FILE: ${listing}.ts cannot see them)`;
}

/** The `--tls` hint: `why`, then the command with `--tls`. */
function tlsHint(listing: Listing, why: string): Line[] {
  return [
    `${listing}.ts: ${why}`,
    new RegExp(
      `^${listing}\\.ts: {3}deno run -N ${listing}\\.ts --tls --timeout 1 127\\.0\\.0\\.1:\\d+ ${FROM} ${TO}$`,
    ),
    denoOptionsNote(listing),
  ];
}

scenario("no --tls against an implicit-TLS server: no greeting, a --tls hint", ALL, (listing) => ({
  tls: certs.good,
  server: async () => {},
  expected: {
    ...failure(listing, `Timed out after ${TIMEOUT} s waiting for the server's greeting`),
    ...(listing === "simple" ? {} : {
      stderrLines: tlsHint(
        listing,
        "the server sent no greeting: if it speaks TLS from the first byte " +
          "(implicit TLS, as on port 465), try --tls:",
      ),
    }),
    waits: true,
  },
}));

scenario("a TLS record where the greeting should be: a --tls hint", ALL, (listing) => ({
  // A TLS alert record, as some servers send to a client that does not start TLS.
  server: (s) => s.send(new Uint8Array([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32])),
  expected: {
    ...failure(
      listing,
      "The server sent a TLS record (0x15 0x03) where its SMTP greeting should be: " +
        "this looks like TLS from the first byte (implicit TLS)",
    ),
    ...(listing === "simple" ? {} : {
      stderrLines: tlsHint(
        listing,
        "the server answered with TLS: it speaks TLS from the first byte " +
          "(implicit TLS, as on port 465). Try --tls:",
      ),
    }),
  },
}));

scenario("AUTH offered only after STARTTLS: a --starttls hint", ["login"], () => ({
  server: async (s) => {
    await s.send("220 hostile.test\r\n");
    await s.answer(/^ehlo /, reply(250, ["hostile.test", "STARTTLS"]));
  },
  expected: {
    ...authFailed("SMTP AUTH extension not supported by server.", ["ehlo [127.0.0.1]"]),
    stderrLines: [
      "login.ts: the server offers STARTTLS and no AUTH: it offers AUTH only after STARTTLS. Try --starttls:",
      new RegExp(
        `^login\\.ts: {3}deno run -N login\\.ts --starttls --timeout 1 127\\.0\\.0\\.1:\\d+ ${FROM} ${TO}$`,
      ),
      denoOptionsNote("login"),
    ],
  },
}));

scenario("STARTTLS without --cert: UnknownIssuer, a --cert hint", ["tls"], () => ({
  server: async (s) => {
    await offerStartTls(s, "220 2.0.0 Ready\r\n");
    await s.startTls(certs.good);
  },
  options: { deno: ["-N"] },
  expected: {
    ...failure("tls", /^TLS handshake with 127\.0\.0\.1:\d+ failed: .*UnknownIssuer/, [
      NEGOTIATING,
    ]),
    received: ["ehlo [127.0.0.1]", "STARTTLS"],
    stderrLines: [
      "tls.ts: the server's certificate is signed by a CA that Deno does not trust.",
      "tls.ts: If you have that CA's certificate (PEM), give it to Deno before the script name:",
      new RegExp(
        `^tls\\.ts: {3}deno run -N --cert FILE tls\\.ts --timeout 1 127\\.0\\.0\\.1:\\d+ `,
      ),
      "tls.ts: or set DENO_CERT=FILE.",
    ],
  },
}));

scenario("a CA file that cannot be read (DENO_CERT): the file named", ["tls"], () => ({
  server: async (s) => {
    await offerStartTls(s, "220 2.0.0 Ready\r\n");
    await s.ignoreTls();
  },
  options: {
    deno: ["-N", "--allow-env=DENO_CERT"],
    env: { DENO_CERT: "/nonexistent/ca.pem" },
  },
  expected: {
    ...failure("tls", /Failed opening CA file/, [NEGOTIATING]),
    received: ["ehlo [127.0.0.1]", "STARTTLS"],
    stderrLines: [
      "tls.ts: the CA file given to Deno with --cert or DENO_CERT cannot be read: /nonexistent/ca.pem.",
      "tls.ts: Check its path; Deno reads it only when a TLS connection starts.",
    ],
  },
}));

scenario("a CA file that cannot be read (--cert): the file named", ["tls"], () => ({
  server: async (s) => {
    await offerStartTls(s, "220 2.0.0 Ready\r\n");
    await s.ignoreTls();
  },
  // With -A it may read its own command line, so it can name the file.
  options: { deno: ["-A", "--cert", "/nonexistent/given.pem"] },
  expected: {
    ...failure("tls", /Failed opening CA file/, [NEGOTIATING]),
    received: ["ehlo [127.0.0.1]", "STARTTLS"],
    stderrLines: [
      "tls.ts: the CA file given to Deno with --cert or DENO_CERT cannot be read: /nonexistent/given.pem.",
      "tls.ts: Check its path; Deno reads it only when a TLS connection starts.",
    ],
  },
}));

scenario("a CA file that cannot be read, with -N only: the hint without a name", ["tls"], () => ({
  server: async (s) => {
    await offerStartTls(s, "220 2.0.0 Ready\r\n");
    await s.ignoreTls();
  },
  options: { deno: ["-N", "--cert", "/nonexistent/given.pem"] },
  expected: {
    ...failure("tls", /Failed opening CA file/, [NEGOTIATING]),
    received: ["ehlo [127.0.0.1]", "STARTTLS"],
    stderrLines: [
      "tls.ts: the CA file given to Deno with --cert or DENO_CERT cannot be read.",
      "tls.ts: Check its path; Deno reads it only when a TLS connection starts.",
    ],
  },
}));
