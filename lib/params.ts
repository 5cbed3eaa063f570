/**
 * The ESMTP parameters of MAIL and RCPT (`SIZE=`, `BODY=`, `SMTPUTF8` ...):
 * which extension each one the helper knows needs from the server's EHLO,
 * and the list that goes on the wire, each keyword once.
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
