/**
 * The ESMTP parameters of MAIL and RCPT (`SIZE=`, `BODY=`, `SMTPUTF8` ...):
 * the ones the helper adds of its own, which extension each one it knows
 * needs from the server's EHLO, and the list that goes on the wire, each
 * keyword once.
 *
 * smtplib refuses `SMTPUTF8` before sending anything when the server does
 * not offer it; the helper does the same for every keyword below. A keyword
 * it does not know goes out as the caller wrote it.
 *
 * @example
 * ```ts
 * const offered = new Set(["size", "8bitmime"]);
 * const options = mergeParams(["size=120"], ["BODY=8BITMIME", "SMTPUTF8"]);
 * unofferedParam(options, (name) => offered.has(name)); // "SMTPUTF8"
 * ```
 * @module
 */

import { SMTPNotSupportedError } from "./errors.ts";
import { pyRepr } from "./repr.ts";

/**
 * The extension (an EHLO keyword, lower case) that the parameter needs,
 * or null for one the helper does not know. Keywords and the BODY value
 * are read in any case.
 */
export function extensionFor(param: string): string | null {
  const [keyword, value = ""] = param.toUpperCase().split("=", 2);
  switch (keyword) {
    case "SIZE": // RFC 1870
      return "size";
    case "BODY": // RFC 6152 (7BIT, 8BITMIME), RFC 3030 (BINARYMIME)
      return value === "BINARYMIME" ? "binarymime" : "8bitmime";
    case "SMTPUTF8": // RFC 6531
      return "smtputf8";
    case "RET": // RFC 3461, MAIL
    case "ENVID":
    case "NOTIFY": // RFC 3461, RCPT
    case "ORCPT":
      return "dsn";
    case "REQUIRETLS": // RFC 8689
      return "requiretls";
    default:
      return null;
  }
}

/**
 * The first parameter in `params` that needs an extension the server did
 * not offer (`offers` answers for a lower-case EHLO keyword), or null when
 * all may go.
 */
export function unofferedParam(
  params: readonly string[],
  offers: (extension: string) => boolean,
): string | null {
  for (const param of params) {
    const extension = extensionFor(param);
    if (extension !== null && !offers(extension)) return param;
  }
  return null;
}

/**
 * The helper's own parameters (`own`, such as `size=N`) and the caller's,
 * each keyword once: the caller's wins where both name one, and keeps its
 * place; the helper's own that the caller did not name come first, as
 * smtplib puts `size=` first.
 */
export function mergeParams(own: readonly string[], callers: readonly string[]): string[] {
  const keywordOf = (param: string) => param.split("=", 1)[0].toUpperCase();
  const merged: string[] = [];
  const seen = new Set<string>();
  const add = (param: string) => {
    if (seen.has(keywordOf(param))) return;
    seen.add(keywordOf(param));
    merged.push(param);
  };
  const named = new Set(callers.map(keywordOf));
  for (const param of own) if (!named.has(keywordOf(param))) add(param);
  for (const param of callers) add(param);
  return merged;
}

/**
 * Throws `SMTPNotSupportedError` (smtplib's words: `SMTPUTF8 not supported
 * by server`) when one of `params` for `command` needs an extension the
 * server did not offer; called before anything is written.
 */
export function refuseUnoffered(
  command: "MAIL" | "RCPT",
  params: readonly string[],
  offers: (extension: string) => boolean,
): void {
  const param = unofferedParam(params, offers);
  if (param === null) return;
  throw new SMTPNotSupportedError(
    `${extensionFor(param)!.toUpperCase()} not supported by server: ` +
      `refusing to send ${command} with ${pyRepr(param)}`,
  );
}

/** A character outside ASCII: in an address it needs SMTPUTF8. */
// deno-lint-ignore no-control-regex
export const NON_ASCII = /[^\x00-\x7f]/;

/** What {@link ownMailParams} needs to know of the message and the session. */
export interface MailFacts {
  /** The message's SIZE and 8-bit flag, or null for a stream (not known in advance). */
  measured: { size: number; eightBit: boolean } | null;
  /** Whether it goes as `BODY=BINARYMIME` (by BDAT), which says its body itself. */
  binary: boolean;
  /** The sender and the recipients as they go on the wire, in angle brackets. */
  addresses: readonly string[];
  /** Whether the server answered EHLO (smtplib's `does_esmtp`). */
  esmtp: boolean;
}

/**
 * The parameters the helper adds to MAIL of its own, for
 * {@link mergeParams}: `size=N` when the size is known and the server lists
 * SIZE; `SMTPUTF8` when an address on the wire is not ASCII (a display name
 * stays in the headers); `BODY=8BITMIME` for a stream whenever the server
 * offers it (a stream cannot be scanned first), or for a message with bytes
 * over 127. Throws `SMTPNotSupportedError` when the last two need an
 * extension the server did not offer (`offers` answers for a lower-case
 * EHLO keyword).
 */
export function ownMailParams(facts: MailFacts, offers: (extension: string) => boolean): string[] {
  const { measured, binary } = facts;
  const own: string[] = [];
  if (measured && facts.esmtp && offers("size")) own.push(`size=${measured.size}`);
  const international = facts.addresses.find((address) => NON_ASCII.test(address));
  if (international !== undefined) {
    if (!offers("smtputf8")) {
      throw new SMTPNotSupportedError(
        `The address ${
          pyRepr(international.slice(1, -1))
        } is not ASCII and the server does not offer SMTPUTF8`,
      );
    }
    own.push("SMTPUTF8");
  }
  if (measured === null && !binary && offers("8bitmime")) own.push("BODY=8BITMIME"); // a stream
  if (measured?.eightBit && !binary) {
    if (!offers("8bitmime")) {
      throw new SMTPNotSupportedError(
        "The message is not ASCII and the server does not offer 8BITMIME",
      );
    }
    own.push("BODY=8BITMIME");
  }
  return own;
}
