/**
 * The options of `SMTP.connect()` (lib/smtp.ts, which exports them): the
 * name said in EHLO, the timeouts, TLS and its certificates, the transcript,
 * PIPELINING and CHUNKING, and the diallers tests and the listings put in
 * place of Deno's.
 *
 * @example
 * ```ts
 * const options: SMTPOptions = { timeout: 10_000, pipelining: true, chunking: true };
 * const connection = await SMTP.connect("mail.example.com:587", options);
 * ```
 * @module
 */

import type { Dialer, TlsDialer, TlsUpgrader } from "./conn.ts";

/** Options for {@link SMTP.connect}. */
export interface SMTPOptions {
  /** The name sent with EHLO and HELO; by default this end's address literal. */
  localHostname?: string;
  /**
   * One timeout in milliseconds (not seconds, as the listings' `--timeout`)
   * for every step, instead of the defaults; above 0, clamped to the
   * runtime's longest timer (2^31-1 ms). 0, a negative value or NaN is a
   * `RangeError` before anything is dialled.
   */
  timeout?: number;
  /** Extra CA certificates (PEM) to trust for TLS (implicit or STARTTLS). */
  caCerts?: string[];
  /** The transcript level from the start (see {@link SMTP.setDebugLevel}). */
  debugLevel?: number;
  /** Where the transcript goes, one line per call; stderr by default. */
  debugOutput?: (line: string) => void;
  /** Replaces `Deno.connect`. */
  dial?: Dialer;
  /** Replaces `Deno.startTls`. */
  startTls?: TlsUpgrader;
  /**
   * Implicit TLS from the first byte (smtplib's `SMTP_SSL`), as
   * `Deno.connectTls` gives it: chain and host name checked, `caCerts`
   * honoured; port 465 when the server string names none.
   */
  tls?: boolean;
  /**
   * TLS or nothing (RFC 3207 section 4): before any AUTH or MAIL the session
   * must be under TLS. `ehloOrHeloIfNeeded()` upgrades by itself (EHLO,
   * STARTTLS, EHLO); if STARTTLS is not offered or the upgrade fails, the
   * connection is closed, nothing more is sent (no AUTH, no MAIL, no QUIT)
   * and an `SMTPNotSupportedError` (or `NetworkError`, `SMTPResponseException`)
   * says why. `mail()` and `auth()` refuse on a plain connection.
   */
  requireTls?: boolean;
  /**
   * RFC 2920: when the server lists PIPELINING, `sendmail` writes MAIL, every
   * RCPT and DATA in one write, then reads the replies in order. Off by
   * default, as in smtplib.
   */
  pipelining?: boolean;
  /**
   * RFC 3030: when the server lists CHUNKING, `sendmail` sends the message
   * as BDAT chunks (see {@link SMTP.bdat}), pipelined with `pipelining`;
   * else DATA. `BODY=BINARYMIME` needs it. Off by default, as smtplib has no BDAT.
   */
  chunking?: boolean;
  /** The largest BDAT chunk in bytes (default {@link BDAT_CHUNK_SIZE}, 1 MiB). */
  chunkSize?: number;
  /** Replaces the TLS dial for `tls: true` (by default `Deno.connect` then `Deno.startTls`). */
  dialTls?: TlsDialer;
}
