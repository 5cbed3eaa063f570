/**
 * The three SASL mechanisms smtplib's `login()` knows (RFC 4954), as pure
 * functions from the user name, password and server challenge to the text
 * the client answers with, before base64.
 *
 * @example
 * ```ts
 * encodeBase64(authPlain("brandon", "abc123")); // "AGJyYW5kb24AYWJjMTIz"
 * ```
 * @module
 */

/** The mechanisms in smtplib's order of preference. */
export const PREFERRED_MECHANISMS = ["CRAM-MD5", "PLAIN", "LOGIN"] as const;

/**
 * A mechanism's answer to the n-th challenge (0: the initial response), or
 * null for none. It may be a promise (CRAM-MD5 loads its hash on first use).
 */
export type Mechanism = (
  challenge: Uint8Array | null,
  round: number,
) => string | null | Promise<string | null>;

/** PLAIN: `\0user\0password`, sent as the initial response. */
export function authPlain(user: string, password: string): string {
  return `\0${user}\0${password}`;
}

/**
 * CRAM-MD5: `user` and the hex HMAC-MD5 of the challenge keyed by the
 * password. `node:crypto` is loaded here, on first use, not at start-up:
 * it costs about 19 ms and only this mechanism needs it.
 */
export async function authCramMd5(
  user: string,
  password: string,
  challenge: Uint8Array,
): Promise<string> {
  const { createHmac } = await import("node:crypto");
  const digest = createHmac("md5", password).update(challenge).digest("hex");
  return `${user} ${digest}`;
}

/** The mechanism functions for `login()`, keyed by name. */
export function mechanisms(
  user: string,
  password: string,
): Record<(typeof PREFERRED_MECHANISMS)[number], Mechanism> {
  return {
    // No initial response: the server's challenge comes first.
    "CRAM-MD5": (challenge) => challenge === null ? null : authCramMd5(user, password, challenge),
    "PLAIN": () => authPlain(user, password),
    // The user name goes with AUTH, the password answers the next 334.
    "LOGIN": (_challenge, round) => round < 2 ? user : password,
  };
}

const encoder = new TextEncoder();

/** Base64 of the UTF-8 bytes of `text`. */
export function encodeBase64(text: string): string {
  let binary = "";
  for (const b of encoder.encode(text)) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** Decodes a base64 challenge; `null` when it is not valid base64. */
export function decodeBase64(text: string): Uint8Array | null {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(trimmed) || trimmed.length % 4 === 1) {
    return null;
  }
  try {
    return Uint8Array.from(atob(trimmed), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}
