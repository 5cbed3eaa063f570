/**
 * What the unit tests of the SMTP helper against the scripted mock server
 * share (smtp_test.ts, smtp_sendmail_test.ts, smtp_login_test.ts,
 * smtp_transcript_test.ts, closing_test.ts, tls_test.ts, pipelining_test.ts):
 * the greeting, an EHLO exchange (the listings' tests use these two as
 * well), `connect` to a mock server, `rejects`, which returns the error
 * it expected, and `streamOf`, a message stream that logs its reading
 * (smtp_stream_test.ts, bdat_stream_test.ts).
 *
 * @module
 */

import assert from "node:assert/strict";
import { SMTP, type SMTPOptions } from "../lib/smtp.ts";
import { MockServer, type Step } from "./mock_conn.ts";

/** The server's greeting. */
export const GREETING = "S: 220 mail.example.com ESMTP Postfix";

/** EHLO answered with the given extensions (none: a one-line 250). */
export function ehlo(...extensions: string[]): string[] {
  const lines = ["mail.example.com", ...extensions];
  return [
    "C: ehlo [127.0.0.1]",
    ...lines.map((line, i) => `S: 250${i === lines.length - 1 ? " " : "-"}${line}`),
  ];
}

/**
 * Connects to `host` (by default mail.example.com) through a mock server
 * playing `script` (greeting included): plain, STARTTLS or, with `tls: true`,
 * implicit TLS.
 */
export async function connect(
  script: (string | Step)[],
  options: SMTPOptions & { ipv6?: boolean } = {},
  host = "mail.example.com",
): Promise<{ server: MockServer; smtp: SMTP }> {
  const server = new MockServer(script, { ipv6: options.ipv6 });
  const smtp = await SMTP.connect(host, {
    dial: server.dial,
    dialTls: server.dialTls,
    startTls: server.startTls,
    ...options,
  });
  return { server, smtp };
}

/** Runs `work`, expecting it to throw an instance of `type`; returns the error. */
export async function rejects<T extends Error>(
  work: () => Promise<unknown>,
  type: new (...args: never[]) => T,
): Promise<T> {
  try {
    await work();
  } catch (error) {
    assert.ok(error instanceof type, `expected ${type.name}, got ${error}`);
    return error;
  }
  assert.fail(`expected ${type.name}, nothing was thrown`);
}

/** DATA and its 354. */
export const DATA_OK = [
  "C: data",
  "S: 354 End data with <CR><LF>.<CR><LF>",
];

/** The user name and password the AUTH tests log in with. */
export const USER = "brandon";
export const PASSWORD = "abc123";

/** A pull stream of `chunks` that logs each pull and its cancelling in `log`. */
export function streamOf(chunks: (string | Uint8Array | Error)[], log: string[] = []) {
  let next = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      log.push(`pull ${next}`);
      const chunk = chunks[next++];
      if (chunk === undefined) controller.close();
      else if (chunk instanceof Error) controller.error(chunk);
      else controller.enqueue(typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk);
    },
    cancel(reason) {
      log.push(`cancel ${reason instanceof Error ? reason.constructor.name : reason}`);
    },
  }, { highWaterMark: 0 });
  return {
    stream,
    log,
    get pulled() {
      return next;
    },
  };
}
