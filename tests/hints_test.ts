/**
 * Unit tests of the hints (lib/hints.ts): what a failure suggests about the
 * command line (`--tls`, `--starttls`, Deno's `--cert`, a CA file Deno
 * cannot read), given the error, the command line and the connection.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { CommandLine } from "../lib/cli.ts";
import { hintBeforeConnecting, hintFor } from "../lib/hints.ts";
import { NetworkError, SMTPNotSupportedError, SMTPServerDisconnected } from "../lib/smtp.ts";

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
    "TLS handshake with 127.0.0.1 failed: invalid peer certificate: UnknownIssuer",
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
  ]);
  assert.deepEqual(hintFor(error, COMMAND, connection([])), []);
  assert.deepEqual(hintFor(error, COMMAND, connection(["starttls"], true)), []);
});

Deno.test("hint before connecting: port 465 without --tls says at once to try --tls", () => {
  assert.deepEqual(hintBeforeConnecting({ ...COMMAND, server: "smtp.example.com:465" }), [
    "port 465 usually speaks TLS from the first byte (implicit TLS), and without --tls this " +
    "waits for a plain greeting; if none comes, try --tls:",
    "  deno run -N login.ts --tls smtp.example.com:465 a@example.com b@example.com",
  ]);
  // Nothing to say with --tls, on another port, or for a server address the helper will refuse.
  const tls = { ...COMMAND, server: "smtp.example.com:465", options: { tls: true } };
  assert.deepEqual(hintBeforeConnecting(tls), []);
  assert.deepEqual(hintBeforeConnecting(COMMAND), []);
  assert.deepEqual(hintBeforeConnecting({ ...COMMAND, server: "h:99999" }), []);
});
