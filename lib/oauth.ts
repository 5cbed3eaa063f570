/**
 * AUTH with an OAuth 2.0 access token instead of a password: the two SASL
 * mechanisms providers offer for it, `OAUTHBEARER` (RFC 7628) and Google's
 * and Microsoft's `XOAUTH2`, as `SMTP.loginOAuth2()` uses them.
 *
 * - The initial response goes on the AUTH line, base64 of
 *   `user=USER^Aauth=Bearer TOKEN^A^A` (XOAUTH2) or
 *   `n,a=USER,^Ahost=HOST^Aport=PORT^Aauth=Bearer TOKEN^A^A` (OAUTHBEARER;
 *   `,` and `=` in the user name written `=2C` and `=3D`, RFC 5801).
 * - A refused token is a 334 whose text is base64 JSON
 *   (`{"status":"401","schemes":"bearer","scope":"..."}`); the client
 *   answers an empty line (XOAUTH2) or `^A` (OAUTHBEARER, RFC 7628 section
 *   3.2.3), and the server ends with 535, which becomes an
 *   `SMTPAuthenticationError` saying the status in words.
 * - The token is a secret: masked in the transcript, never in an error, and
 *   sent only under TLS unless the caller allows plain text.
 *
 * @example
 * ```ts
 * xoauth2Response("brandon@example.com", "ya29.token");
 * // "user=brandon@example.com\x01auth=Bearer ya29.token\x01\x01"
 * ```
 * @module
 */

import { requireString } from "./arguments.ts";
import { encodeBase64, type Mechanism } from "./auth.ts";
import {
  SMTPAuthenticationError,
  SMTPException,
  SMTPNotSupportedError,
  type SMTPReply,
} from "./errors.ts";
import { pyRepr } from "./repr.ts";
import { MASK } from "./mask.ts";

/** The OAuth 2.0 mechanisms in order of preference: the standard one first. */
export const OAUTH2_MECHANISMS = ["OAUTHBEARER", "XOAUTH2"] as const;

/** One of {@link OAUTH2_MECHANISMS}. */
export type OAuth2Mechanism = (typeof OAUTH2_MECHANISMS)[number];

/** Options for `SMTP.loginOAuth2()`. */
export interface OAuth2Options {
  /**
   * Send the token over a connection that is not under TLS. Off by
   * default: without it, a plain connection is closed and nothing is sent
   * (the rule `requireTls` gives passwords). For a test server only.
   */
  allowPlaintext?: boolean;
}

/** What `loginOAuth2()` needs of the connection (the `SMTP` class has all of it). */
export interface OAuth2Session {
  /** The host name connected to (OAUTHBEARER's `host=`). */
  readonly host: string;
  /** The port connected to (OAUTHBEARER's `port=`). */
  readonly port: number;
  /** Whether the connection is under TLS. */
  readonly isTls: boolean;
  /** The extensions of the last EHLO. */
  readonly esmtpFeatures: Map<string, string>;
  /** EHLO (or HELO) unless said; with `requireTls`, STARTTLS too. */
  ehloOrHeloIfNeeded(): Promise<void>;
  /** One AUTH exchange. */
  auth(mechanism: string, answer: Mechanism): Promise<SMTPReply>;
  /** Closes the connection. */
  close(): void;
}

/** How the refusal to send a token in plain text starts (the listings' hint looks for it). */
export const OAUTH2_PLAINTEXT =
  "The connection is not under TLS: refusing to send an OAuth 2.0 token";

/** The status a refusing server puts in its JSON challenge, in words. */
const STATUS_WORDS: Record<string, string> = {
  "400": "a malformed request: check the user name, which must be the token's account",
  "invalid_request": "a malformed request: check the user name, which must be the token's account",
  "401": "expired or revoked",
  "invalid_token": "expired or revoked",
  "403": "not allowed to send mail",
  "insufficient_scope": "not allowed to send mail",
};

// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;

/**
 * Checks `loginOAuth2()`'s arguments before anything is sent: strings (a
 * `TypeError` naming the argument), a user name with no control character
 * (CR, LF, ^A would end a field or a line), a token that is not empty and
 * holds no control character or space. The token itself is never quoted.
 */
export function checkOAuth2Arguments(user: unknown, token: unknown, options: unknown): void {
  requireString("loginOAuth2", "user", user);
  requireString("loginOAuth2", "token", token);
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new TypeError(`loginOAuth2(): options must be an object, not ${typeOf(options)}`);
  }
  const allow = (options as OAuth2Options | undefined)?.allowPlaintext;
  if (allow !== undefined && typeof allow !== "boolean") {
    throw new TypeError(
      `loginOAuth2(): options.allowPlaintext must be a boolean, not ${typeOf(allow)}`,
    );
  }
  if (CONTROL.test(user as string)) {
    throw new SMTPException(
      `loginOAuth2(): the user name ${pyRepr(user as string)} holds a control character ` +
        "(CR, LF or ^A would end a field or a line); nothing was sent",
    );
  }
  if (token === "") throw new SMTPException("loginOAuth2(): the token is empty; nothing was sent");
  if (CONTROL.test(token as string) || / /.test(token as string)) {
    throw new SMTPException(
      "loginOAuth2(): the token holds a control character or a space (CR, LF or ^A would end " +
        "a field or a line), which an access token never does; nothing was sent",
    );
  }
}

function typeOf(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
}

/** XOAUTH2's initial response: `user=USER^Aauth=Bearer TOKEN^A^A`. */
export function xoauth2Response(user: string, token: string): string {
  return `user=${user}\x01auth=Bearer ${token}\x01\x01`;
}

/** A user name as a GS2 `saslname` (RFC 5801): `=` as `=3D`, `,` as `=2C`. */
export function saslName(user: string): string {
  return user.replaceAll("=", "=3D").replaceAll(",", "=2C");
}

/**
 * OAUTHBEARER's initial response (RFC 7628 section 3.1):
 * `n,a=USER,^Ahost=HOST^Aport=PORT^Aauth=Bearer TOKEN^A^A`.
 */
export function oauthBearerResponse(
  user: string,
  token: string,
  host: string,
  port: number,
): string {
  return `n,a=${saslName(user)},\x01host=${host}\x01port=${port}\x01auth=Bearer ${token}\x01\x01`;
}

/**
 * The mechanism to use among those the server lists (`auth` from EHLO):
 * OAUTHBEARER when listed, else XOAUTH2; otherwise an
 * `SMTPNotSupportedError` naming what the server does list.
 */
export function chooseOAuth2Mechanism(auth: string | undefined): OAuth2Mechanism {
  const listed = (auth ?? "").trim().split(/\s+/).filter((word) => word !== "");
  const upper = listed.map((word) => word.toUpperCase());
  const chosen = OAUTH2_MECHANISMS.find((mechanism) => upper.includes(mechanism));
  if (chosen) return chosen;
  throw new SMTPNotSupportedError(
    "The server offers neither OAUTHBEARER nor XOAUTH2 for an OAuth 2.0 token; " +
      (listed.length > 0
        ? `its AUTH lists: ${listed.join(" ")}`
        : "it lists no AUTH mechanism at all"),
  );
}

/** What a refusing server's JSON challenge says (RFC 7628 section 3.2.2). */
export interface TokenRefusal {
  /** `status`: `401`, `invalid_token`, ...; "" when the challenge had none. */
  status: string;
  /** `scope`, when given: the scope the server wants. */
  scope?: string;
}

/** Reads the JSON challenge of a refusal; null when it is not a JSON object. */
export function readTokenRefusal(challenge: Uint8Array): TokenRefusal | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(challenge));
  } catch {
    return null;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return null;
  const { status, scope } = parsed as Record<string, unknown>;
  return {
    status: typeof status === "string" || typeof status === "number"
      ? printable(String(status))
      : "",
    ...(typeof scope === "string" && scope !== "" ? { scope: printable(scope) } : {}),
  };
}

/** A server's text made safe for one line of an error message. */
function printable(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f]/g, " ").slice(0, 200);
}

/**
 * The refusal in words: `the server refused the token: status 401 (expired
 * or revoked)`; without a challenge, `the server refused the token`.
 */
export function describeRefusal(refusal: TokenRefusal | null): string {
  if (refusal === null || refusal.status === "") return "the server refused the token";
  const words = STATUS_WORDS[refusal.status.toLowerCase()];
  const scope = refusal.scope && words === STATUS_WORDS["403"]
    ? `: the token needs the scope ${refusal.scope}`
    : "";
  return `the server refused the token: status ${refusal.status}` +
    (words ? ` (${words}${scope})` : "");
}

/**
 * One OAuth 2.0 AUTH exchange: the initial response, then, to a refusal's
 * 334, the answer the mechanism requires (an empty line for XOAUTH2, ^A for
 * OAUTHBEARER), keeping the refusal to explain the 535 that follows.
 */
export class OAuth2Exchange {
  /** The refusal the server's challenge gave, if any. */
  refusal: TokenRefusal | null = null;
  /** The initial response, before base64. */
  readonly initial: string;

  /** Prepares the exchange for `mechanism`. */
  constructor(
    readonly mechanism: OAuth2Mechanism,
    user: string,
    token: string,
    host: string,
    port: number,
  ) {
    this.initial = mechanism === "XOAUTH2"
      ? xoauth2Response(user, token)
      : oauthBearerResponse(user, token, host, port);
  }

  /** The `Mechanism` for `SMTP.auth()`. */
  readonly answer: Mechanism = (challenge, round) => {
    if (round === 0) return this.initial;
    if (challenge !== null) this.refusal ??= readTokenRefusal(challenge);
    return this.mechanism === "XOAUTH2" ? "" : "\x01";
  };
}

/**
 * `text` with every secret replaced by {@link MASK}. For a server that
 * echoes what it was sent: its reply must not carry the token into the
 * transcript or an error.
 */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  for (const secret of secrets) if (secret !== "") text = text.replaceAll(secret, MASK);
  return text;
}

/**
 * Logs in on `session` with an OAuth 2.0 token (what `SMTP.loginOAuth2()`
 * does): checks the arguments, says EHLO if needed, refuses a plain
 * connection unless `allowPlaintext` (closing it, nothing sent), picks the
 * mechanism, runs the exchange. `hide` is given the secrets (the token and
 * the base64 initial response) to mask in the transcript from then on.
 */
export async function loginOAuth2(
  session: OAuth2Session,
  user: string,
  token: string,
  options: OAuth2Options | undefined,
  hide: (secrets: string[]) => void,
): Promise<SMTPReply> {
  checkOAuth2Arguments(user, token, options);
  await session.ehloOrHeloIfNeeded();
  if (!session.isTls && !options?.allowPlaintext) {
    session.close();
    throw new SMTPNotSupportedError(
      `${OAUTH2_PLAINTEXT} in plain text ` +
        "(STARTTLS or TLS first, or allowPlaintext for a test server); " +
        "the connection is closed and nothing more was sent",
    );
  }
  const mechanism = chooseOAuth2Mechanism(session.esmtpFeatures.get("auth"));
  const exchange = new OAuth2Exchange(mechanism, user, token, session.host, session.port);
  const secrets = [token, encodeBase64(exchange.initial)];
  hide(secrets);
  try {
    return await session.auth(mechanism, exchange.answer);
  } catch (error) {
    if (error instanceof SMTPAuthenticationError) {
      // A refusal of the token (535, or after a challenge) is said in words; another
      // reply (421 closing, 454 try later, 534 web login wanted) is the server's own.
      const refused = exchange.refusal !== null || error.code === 535;
      throw new SMTPAuthenticationError(
        error.code,
        maskSecrets(error.smtpError, secrets),
        refused ? describeRefusal(exchange.refusal) : undefined,
      );
    }
    if (error instanceof Error) error.message = maskSecrets(error.message, secrets);
    throw error;
  }
}
