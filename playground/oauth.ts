/**
 * OAuth 2.0 bearer tokens for the playground's AUTH: practice tokens
 * (`--token USER:TOKEN`, by default `brandon:ya29.playground`) accepted by
 * XOAUTH2, which `smtp-server` speaks itself, and by OAUTHBEARER (RFC 7628),
 * which it does not know and this module adds as one more SASL handler.
 *
 * - Both are offered only under TLS: after STARTTLS on the book's port (so
 *   its plain EHLO stays the page's), and on provider mode's listeners.
 * - A wrong token gets what the providers send: a 334 whose text is base64
 *   JSON (`{"status":"401","schemes":"bearer","scope":...}` for XOAUTH2,
 *   RFC 7628's `{"status":"invalid_token",...}` for OAUTHBEARER), then, after
 *   the client's answer, `535 5.7.8`. A right token for another user is
 *   status 400 (`invalid_request`).
 *
 * @module
 */

import type { SMTPServerAuthentication, SMTPServerAuthenticationResponse } from "smtp-server";
import type { SMTPConnection } from "smtp-server/lib/smtp-connection.js";
import { decodeBase64, encodeBase64 } from "../lib/auth.ts";
import { refusals } from "./dialect.ts";

/** The practice token, as a provider's access tokens look. */
export const DEFAULT_TOKENS: Record<string, string> = { brandon: "ya29.playground" };

/** The OAuth 2.0 mechanisms the playground offers under TLS. */
export const OAUTH2_METHODS = ["XOAUTH2", "OAUTHBEARER"];

/** The scope a refusal names, as Google names `https://mail.google.com/`. */
export const PLAYGROUND_SCOPE = "https://mail.example.com/";

/** The result for smtp-server's `onAuth` callback for a token: a user, or a refusal's JSON. */
export function checkToken(
  auth: SMTPServerAuthentication,
  tokens: Record<string, string>,
): [null, SMTPServerAuthenticationResponse] {
  const user = (auth.username ?? "").toLowerCase();
  const owner = Object.keys(tokens).find((name) => tokens[name] === auth.accessToken);
  const bearer = (auth.method as string) === "OAUTHBEARER";
  if (owner !== undefined && (user === "" || user === owner)) return [null, { user: owner }];
  // A known token for another user is a malformed request; any other token is invalid.
  const status = owner === undefined
    ? (bearer ? "invalid_token" : "401")
    : (bearer ? "invalid_request" : "400");
  return [null, {
    data: bearer
      ? { status, scope: PLAYGROUND_SCOPE }
      : { status, schemes: "bearer", scope: PLAYGROUND_SCOPE },
  }];
}

/** Reads `--token USER:TOKEN` values; none given: {@link DEFAULT_TOKENS}. Throws on a bad one. */
export function parseTokens(values: string[]): Record<string, string> {
  if (values.length === 0) return { ...DEFAULT_TOKENS };
  const tokens: Record<string, string> = {};
  for (const value of values) {
    // RFC 6750's b64token: the characters a bearer token is made of.
    const match = /^([a-z0-9][a-z0-9._-]*):([A-Za-z0-9._~+/-]+=*)$/i.exec(value);
    if (!match) {
      throw new Error(
        "--token takes user:token (a plain user name; a token of letters, digits and " +
          `-._~+/ only), not ${value}`,
      );
    }
    tokens[match[1].toLowerCase()] = match[2];
  }
  return tokens;
}

/** EHLO lines with the OAuth mechanisms taken out of AUTH (for a connection not under TLS). */
export function withoutOAuth(lines: string[]): string[] {
  return lines.map((line) =>
    /^AUTH /i.test(line)
      ? line.split(" ").filter((word) => !OAUTH2_METHODS.includes(word.toUpperCase())).join(" ")
      : line
  );
}

/** What an OAUTHBEARER initial response holds (RFC 7628 section 3.1). */
export interface BearerResponse {
  /** The authzid, `=2C` and `=3D` decoded; absent when the client sent none. */
  user?: string;
  /** The token of `auth=Bearer TOKEN`. */
  token: string;
}

/**
 * Parses `n,a=USER,^Ahost=HOST^Aport=PORT^Aauth=Bearer TOKEN^A^A` (host and
 * port optional, any order); null when it is not of that form.
 */
export function parseBearerResponse(text: string): BearerResponse | null {
  // deno-lint-ignore no-control-regex
  const match = /^n,(?:a=([^,\x01]*))?,\x01((?:[A-Za-z]+=[^\x01]*\x01)*)\x01$/.exec(text);
  if (!match) return null;
  const [, authzid, pairs] = match;
  if (authzid !== undefined && /=(?!2C|3D)/.test(authzid)) return null;
  const auth = pairs.split("\x01").find((pair) => pair.startsWith("auth="));
  const bearer = auth ? /^auth=Bearer ([^\s]+)$/i.exec(auth) : null;
  if (!bearer) return null;
  const user = authzid?.replaceAll("=2C", ",").replaceAll("=3D", "=");
  return { token: bearer[1], ...(user ? { user } : {}) };
}

/**
 * Takes `AUTH` for the OAuth mechanisms, returning false for what
 * smtp-server handles itself (every other mechanism, XOAUTH2 under TLS,
 * anything before STARTTLS where plain-text AUTH is not allowed).
 * On the book's port before STARTTLS they are not offered: 504, as for any
 * mechanism not offered.
 */
export function oauthAuthCommand(
  connection: SMTPConnection,
  command: { toString(): string },
  callback: () => void,
): boolean {
  const [, name = "", ...args] = command.toString().trim().split(/\s+/);
  const method = name.toUpperCase();
  if (!OAUTH2_METHODS.includes(method)) return false;
  if (!connection.secure) {
    if (!connection._server.options.allowInsecureAuth) return false; // smtp-server's 538
    connection.send(504, "Error: Unrecognized authentication type");
  } else if (method === "XOAUTH2") {
    return false;
  } else if (connection.session.user) {
    connection.send(503, "Error: No identity changes permitted");
  } else if (args.length > 1) {
    connection.send(501, "Error: syntax: AUTH OAUTHBEARER token");
  } else if (args.length === 0) {
    // No initial response: an empty challenge asks for it.
    connection._nextHandler = (line, done) => bearerToken(connection, line.toString(), done, true);
    connection.send(334);
  } else {
    bearerToken(connection, args[0], callback, false);
    return true;
  }
  callback();
  return true;
}

/** OAUTHBEARER's response checked through the server's `onAuth`, as smtp-server does XOAUTH2's. */
function bearerToken(
  connection: SMTPConnection,
  raw: string,
  callback: () => void,
  canAbort: boolean,
): void {
  const text = raw.trim();
  if (canAbort && text === "*") {
    connection.send(501, "Authentication aborted");
    return callback();
  }
  const bytes = decodeBase64(text);
  const parsed = bytes === null ? null : parseBearerResponse(new TextDecoder().decode(bytes));
  // deno-lint-ignore no-control-regex
  if (parsed === null || /[\x00-\x1f\x7f]/.test(parsed.user ?? "")) {
    connection.send(501, "Error: invalid userdata");
    return callback();
  }
  const auth = {
    method: "OAUTHBEARER",
    username: parsed.user,
    accessToken: parsed.token,
  } as unknown as SMTPServerAuthentication;
  connection._server.onAuth(auth, connection.session, (error, response) => {
    if (error) {
      connection.send((error as { responseCode?: number }).responseCode ?? 535, error.message);
      return callback();
    }
    if (!response?.user) {
      // RFC 7628 section 3.2.2: the error as JSON; the client answers ^A, then 535.
      connection._nextHandler = (_line, done) => {
        connection.send(535, refusals.authFailed().message);
        done();
      };
      connection.send(334, encodeBase64(JSON.stringify(response?.data ?? {})));
      return callback();
    }
    connection.session.user = response.user;
    connection.session.transmissionType = connection._transmissionType();
    connection.send(235, "Authentication successful");
    callback();
  });
}
