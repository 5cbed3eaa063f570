/**
 * Unit tests of the hints (lib/hints.ts): what a failure suggests about the
 * command line (`--tls`, `--starttls`, Deno's `--cert`, a CA file Deno
 * cannot read), given the error, the command line and the connection.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { CommandLine } from "../lib/cli.ts";
import {
  greetingNotice,
  hintBeforeConnecting,
  hintFor,
  PLAYGROUND_PORTS,
  playgroundCa,
} from "../lib/hints.ts";
import { NetworkError, SMTPNotSupportedError, SMTPServerDisconnected } from "../lib/smtp.ts";
import { DEFAULT_PORT, DEFAULT_SUBMISSION_PORT, DEFAULT_TLS_PORT } from "../playground/server.ts";

/** The line that says Deno's own options cannot be repeated (login.ts's). */
const DENO_OPTIONS_NOTE =
  "  (add any Deno options you gave before login.ts, such as --cert FILE: login.ts cannot see them)";

/** The playground's CA, where deno task playground keeps it: beside lib/, in .playground/. */
const PLAYGROUND_CA = decodeURIComponent(
  new URL("../.playground/ca.pem", import.meta.url).pathname,
);

const COMMAND: CommandLine = {
  prog: "login.ts",
  server: "smtp.example.com:587",
  fromaddr: "a@example.com",
  toaddrs: ["b@example.com"],
  options: {},
};

Deno.test("hint: no greeting, or TLS where a greeting should be, or port 465: try --tls", () => {
  const timeout = new NetworkError("Timed out after 300 s waiting for the server's greeting");
  assert.deepEqual(hintFor(timeout, COMMAND), [
    "the server sent no greeting: if it speaks TLS from the first byte (implicit TLS, as on port 465), try --tls:",
    "  deno run -N login.ts --tls smtp.example.com:587 a@example.com b@example.com",
    DENO_OPTIONS_NOTE,
  ]);
  const tls = new SMTPServerDisconnected("Connection unexpectedly closed: this looks like TLS");
  assert.equal(
    hintFor(tls, COMMAND)[0],
    "the server answered with TLS: it speaks TLS from the first byte (implicit TLS, as on port 465). Try --tls:",
  );
  const on465 = new SMTPServerDisconnected("Connection unexpectedly closed");
  assert.deepEqual(hintFor(on465, { ...COMMAND, server: "smtp.example.com:465" }), [
    "port 465 is for TLS from the first byte (implicit TLS): try --tls:",
    "  deno run -N login.ts --tls smtp.example.com:465 a@example.com b@example.com",
    DENO_OPTIONS_NOTE,
  ]);
  // Not with --tls given, and not for a plain refusal on port 25.
  assert.deepEqual(hintFor(timeout, { ...COMMAND, options: { tls: true } }), []);
  assert.deepEqual(hintFor(new NetworkError("Could not connect: refused"), COMMAND), []);
  // Nobody listening on 465 is no sign of TLS.
  const refused = new NetworkError("Could not connect to h:465: Connection refused (os error 111)");
  assert.deepEqual(hintFor(refused, { ...COMMAND, server: "h:465" }), []);
});

Deno.test("hint: a certificate from an unknown CA: Deno's --cert FILE or DENO_CERT", () => {
  const error = new NetworkError(
    "TLS handshake with 127.0.0.1:2525 failed: invalid peer certificate: UnknownIssuer",
  );
  assert.deepEqual(hintFor(error, { ...COMMAND, prog: "tls.ts", options: { timeout: 5000 } }), [
    "the server's certificate is signed by a CA that Deno does not trust.",
    "If you have that CA's certificate (PEM), give it to Deno before the script name:",
    "  deno run -N --cert FILE tls.ts --timeout 5 smtp.example.com:587 a@example.com b@example.com",
    "or set DENO_CERT=FILE.",
  ]);
});

Deno.test("hint: a CA file Deno cannot read", () => {
  const error = new NetworkError(
    "TLS handshake failed: Failed opening CA file: No such file or directory (os error 2)",
  );
  const hint = hintFor(error, COMMAND);
  assert.match(hint[0], /^the CA file given to Deno with --cert or DENO_CERT cannot be read/);
});

Deno.test("hint: no AUTH but STARTTLS offered on a plain connection: try --starttls", () => {
  const error = new SMTPNotSupportedError("SMTP AUTH extension not supported by server.");
  const connection = (extensions: string[], isTls = false) =>
    ({ isTls, hasExtn: (name: string) => extensions.includes(name) }) as unknown as Parameters<
      typeof hintFor
    >[2];
  assert.deepEqual(hintFor(error, COMMAND, connection(["starttls"])), [
    "the server offers STARTTLS and no AUTH: it offers AUTH only after STARTTLS. Try --starttls:",
    "  deno run -N login.ts --starttls smtp.example.com:587 a@example.com b@example.com",
    DENO_OPTIONS_NOTE,
  ]);
  assert.deepEqual(hintFor(error, COMMAND, connection([])), []);
  assert.deepEqual(hintFor(error, COMMAND, connection(["starttls"], true)), []);
});

Deno.test("hint before connecting: port 465 without --tls says at once to try --tls", () => {
  assert.deepEqual(hintBeforeConnecting({ ...COMMAND, server: "smtp.example.com:465" }), [
    "port 465 usually speaks TLS from the first byte (implicit TLS), and without --tls this " +
    "waits for a plain greeting; if none comes, try --tls:",
    "  deno run -N login.ts --tls smtp.example.com:465 a@example.com b@example.com",
    DENO_OPTIONS_NOTE,
  ]);
  // Nothing to say with --tls, on another port, or for a server address the helper will refuse.
  const tls = { ...COMMAND, server: "smtp.example.com:465", options: { tls: true } };
  assert.deepEqual(hintBeforeConnecting(tls), []);
  assert.deepEqual(hintBeforeConnecting(COMMAND), []);
  assert.deepEqual(hintBeforeConnecting({ ...COMMAND, server: "h:99999" }), []);
});

Deno.test("hint: a server that closes without a greeting after the notice: try --tls", () => {
  const closed = new SMTPServerDisconnected("Connection unexpectedly closed");
  const command = { ...COMMAND, server: "127.0.0.1:3465", options: { timeout: 60_000 } };
  assert.deepEqual(hintFor(closed, command, undefined, true), [
    "the server closed the connection without a greeting: if it speaks TLS from the first byte " +
    "(implicit TLS, as on port 465), try --tls:",
    "  deno run -N login.ts --tls --timeout 60 127.0.0.1:3465 a@example.com b@example.com",
    DENO_OPTIONS_NOTE,
  ]);
  // Closed at once (no notice given): no sign of TLS.
  assert.deepEqual(hintFor(closed, command, undefined, false), []);
});

Deno.test("a suggested command keeps the script's options and, on a playground port, names its CA", () => {
  const error = new SMTPNotSupportedError("SMTP AUTH extension not supported by server.");
  const connection = {
    isTls: false,
    hasExtn: (name: string) => name === "starttls",
  } as unknown as Parameters<typeof hintFor>[2];
  const command = {
    ...COMMAND,
    server: "127.0.0.1:2527",
    toaddrs: ["b@example.com", "c d@example.com"],
    options: { timeout: 2500, pipelining: true, chunking: true },
  };
  assert.deepEqual(hintFor(error, command, connection), [
    "the server offers STARTTLS and no AUTH: it offers AUTH only after STARTTLS. Try --starttls:",
    `  deno run -N --cert ${PLAYGROUND_CA} login.ts --starttls --timeout 2.5 --pipelining ` +
    "--chunking 127.0.0.1:2527 a@example.com b@example.com 'c d@example.com'",
  ]);
  const unknownCa = new NetworkError("TLS handshake with 127.0.0.1:2527 failed: UnknownIssuer");
  assert.deepEqual(hintFor(unknownCa, { ...command, prog: "tls.ts" }), [
    "the server's certificate is signed by a CA that Deno does not trust.",
    "This is a playground port: give the playground's CA to Deno before the script name:",
    `  deno run -N --cert ${PLAYGROUND_CA} tls.ts --timeout 2.5 --pipelining --chunking ` +
    "127.0.0.1:2527 a@example.com b@example.com 'c d@example.com'",
  ]);
});

Deno.test("playgroundCa: loopback on the playground's ports only", () => {
  assert.deepEqual(PLAYGROUND_PORTS, [DEFAULT_PORT, DEFAULT_TLS_PORT, DEFAULT_SUBMISSION_PORT]);
  for (const server of ["127.0.0.1:2525", "localhost:2465", "[::1]:2527", "127.0.0.2:2527"]) {
    assert.equal(playgroundCa(server), PLAYGROUND_CA, server);
  }
  for (const server of ["127.0.0.1", "127.0.0.1:25", "mail.example.com:2527", "10.0.0.1:2525"]) {
    assert.equal(playgroundCa(server), undefined, server);
  }
});

Deno.test("the greeting notice names host and port, and --tls unless it was given", () => {
  assert.equal(
    greetingNotice({ ...COMMAND, server: "127.0.0.1:2465" }),
    "no greeting yet from 127.0.0.1:2465 after 5 s; if this port speaks TLS from the first byte " +
      "(like 465), try --tls",
  );
  assert.equal(
    greetingNotice({ ...COMMAND, server: "[::1]", options: { tls: true } }),
    "no greeting yet from [::1]:465 after 5 s; still waiting",
  );
  assert.equal(
    greetingNotice({ ...COMMAND, server: "mail.example.com" }),
    "no greeting yet from mail.example.com:25 after 5 s; if this port speaks TLS from the first " +
      "byte (like 465), try --tls",
  );
});
