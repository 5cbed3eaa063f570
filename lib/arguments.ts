/**
 * Checks of the arguments at the helper's edge (`SMTP.connect`, `login`,
 * `sendmail`, `mail`, `rcpt`), so that a missing value gives an error that
 * names it, before anything is dialled or written, rather than a failure
 * deep inside (a TypeError from `node:crypto` for an undefined password).
 *
 * @example
 * ```ts
 * requireString("login", "password", Deno.env.get("SMTP_PASSWORD"));
 * // TypeError: login(): password must be a string, not undefined
 * ```
 * @module
 */

/** Throws a `TypeError` naming `name` unless `value` is a string. */
export function requireString(method: string, name: string, value: unknown): void {
  if (typeof value !== "string") throw wrongType(method, name, "a string", value);
}

/**
 * Throws a `TypeError` naming `name` unless `value` is an array of strings,
 * or undefined when `optional`.
 */
export function requireStrings(
  method: string,
  name: string,
  value: unknown,
  optional = true,
): void {
  if (value === undefined && optional) return;
  if (!Array.isArray(value)) throw wrongType(method, name, "an array of strings", value);
  value.forEach((item, i) => requireString(method, `${name}[${i}]`, item));
}

/**
 * Throws unless `value` is a string, a `Uint8Array` or a `ReadableStream`
 * that no one has locked (a reader already taken).
 */
export function requireMessage(method: string, name: string, value: unknown): void {
  // A string or bytes first, so that they never load the runtime's streams.
  if (typeof value === "string" || value instanceof Uint8Array) return;
  if (!(value instanceof ReadableStream)) {
    throw wrongType(method, name, "a string, a Uint8Array or a ReadableStream", value);
  }
  if (value.locked) throw new TypeError(`${method}(): ${name} is a locked ReadableStream`);
}

/**
 * Throws unless `value` is undefined or a number of milliseconds above 0:
 * a `TypeError` for another type, a `RangeError` for 0, below 0 or NaN
 * (smtplib refuses a zero timeout too: nothing could ever be read).
 */
export function requireTimeout(method: string, name: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== "number") throw wrongType(method, name, "a number of milliseconds", value);
  if (!(value > 0)) {
    throw new RangeError(
      `${method}(): ${name} must be a number of milliseconds above 0, not ${value}`,
    );
  }
}

/**
 * The options of `SMTP.connect` checked (an object or undefined; `timeout`
 * as {@link requireTimeout} wants it; `chunkSize` a whole number of bytes
 * from 1 up), or `{}` when none were given.
 */
export function requireOptions<T extends { timeout?: number; chunkSize?: number }>(
  method: string,
  options?: T,
): T {
  if (options === undefined) return {} as T;
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw wrongType(method, "options", "an object", options);
  }
  requireTimeout(method, "options.timeout", options.timeout);
  const { chunkSize } = options;
  if (chunkSize !== undefined && !(Number.isSafeInteger(chunkSize) && chunkSize >= 1)) {
    if (typeof chunkSize !== "number") {
      throw wrongType(method, "options.chunkSize", "a number of bytes", chunkSize);
    }
    throw new RangeError(
      `${method}(): options.chunkSize must be a whole number of bytes from 1, not ${chunkSize}`,
    );
  }
  return options;
}

function wrongType(method: string, name: string, wanted: string, value: unknown): TypeError {
  const got = value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
  return new TypeError(`${method}(): ${name} must be ${wanted}, not ${got}`);
}
