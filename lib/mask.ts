/**
 * The one rule for what an SMTP transcript must not show, shared by the
 * client's transcript (`debug.ts`, lib/smtp.ts) and the playground's
 * recording of the server's side (playground/recorder.ts): in an AUTH
 * exchange, the initial response on the AUTH line and every answer to a 334
 * challenge are secrets (a password, a CRAM-MD5 digest, an OAuth 2.0 token,
 * or a user name beside one) and show as {@link MASK}.
 *
 * ```ts
 * import { maskAuthLine } from "./mask.ts";
 *
 * maskAuthLine("AUTH PLAIN AGJyYW5kb24AYWJjMTIz", false); // "AUTH PLAIN ********"
 * maskAuthLine("AUTH LOGIN", false); // "AUTH LOGIN"
 * maskAuthLine("YWJjMTIz", true); // "********" (an answer to a 334)
 * ```
 *
 * @module
 */

/** What a transcript shows in place of a secret. */
export const MASK = "********";

/**
 * `line` as a transcript may show it: an answer to a 334 challenge
 * (`answersChallenge`) is all {@link MASK}; an AUTH command keeps its verb and
 * mechanism and masks what follows them (its initial response); any other
 * line is shown as it is.
 */
export function maskAuthLine(line: string, answersChallenge: boolean): string {
  if (answersChallenge) return MASK;
  const auth = /^(\s*AUTH\s+\S+)\s+\S/i.exec(line);
  return auth ? `${auth[1]} ${MASK}` : line;
}
