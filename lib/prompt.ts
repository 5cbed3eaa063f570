/**
 * The prompts of `login.ts`: Python's `input()` and `getpass()` for Deno,
 * reading stdin line by line, with the password not echoed on a terminal
 * and Ctrl-C ending the listing as a shell expects.
 *
 * @module
 */

/** Exit status after Ctrl-C, as a shell reports a program ended by SIGINT. */
export const EXIT_INTERRUPTED = 130;

/** Ctrl-C at a prompt; the listing exits with {@link EXIT_INTERRUPTED}. */
export class Interrupted extends Error {
  /** Builds the error. */
  constructor() {
    super("interrupted (Ctrl-C)");
    this.name = "Interrupted";
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
let stdinBuffer = new Uint8Array(0);

/** Reads one line from stdin (without its ending), or null at end of input. */
async function readStdinLine(): Promise<string | null> {
  const chunk = new Uint8Array(4096);
  while (true) {
    const lf = stdinBuffer.indexOf(0x0a);
    if (lf >= 0) {
      const line = stdinBuffer.subarray(0, lf);
      stdinBuffer = stdinBuffer.slice(lf + 1);
      return decoder.decode(line).replace(/\r$/, "");
    }
    const n = await Deno.stdin.read(chunk);
    if (n === null) {
      if (stdinBuffer.length === 0) return null;
      const rest = decoder.decode(stdinBuffer);
      stdinBuffer = new Uint8Array(0);
      return rest;
    }
    const joined = new Uint8Array(stdinBuffer.length + n);
    joined.set(stdinBuffer);
    joined.set(chunk.subarray(0, n), stdinBuffer.length);
    stdinBuffer = joined;
  }
}

/**
 * Python's `input()`: the prompt on stdout, then a line from stdin. (Ctrl-C
 * on a terminal sends SIGINT here, which ends the process with 130.)
 */
export async function input(prompt: string): Promise<string | null> {
  Deno.stdout.writeSync(encoder.encode(prompt));
  return await readStdinLine();
}

/** What one byte typed at the password prompt (the terminal in raw mode) does. */
export type PasswordKey = "char" | "erase" | "enter" | "end" | "interrupt";

/**
 * Maps a byte typed in raw mode to what it does: Ctrl-C interrupts,
 * Ctrl-D on an empty line ends the input, Enter ends the password,
 * Backspace/Delete erases a character.
 */
export function passwordKey(byte: number, typedSoFar: number): PasswordKey {
  if (byte === 0x03) return "interrupt";
  if (byte === 0x04 && typedSoFar === 0) return "end";
  if (byte === 0x0d || byte === 0x0a) return "enter";
  if (byte === 0x7f || byte === 0x08) return "erase";
  return "char";
}

/**
 * Python's `getpass()`: on a terminal the prompt goes there and the typing
 * is not echoed; otherwise, as getpass falls back to, the prompt goes to
 * stderr and the password is the next line of stdin. Either way the prompt's
 * line is ended once the password is in, so that a later line on stderr (a
 * hint, a notice) starts a line of its own. Ctrl-C throws
 * {@link Interrupted}, after the terminal is set back.
 */
export async function getpass(prompt: string): Promise<string | null> {
  if (!Deno.stdin.isTerminal()) {
    Deno.stderr.writeSync(encoder.encode(prompt));
    const line = await readStdinLine();
    Deno.stderr.writeSync(encoder.encode("\n"));
    return line;
  }
  // Where the person can see it, even when stdout goes to a file.
  const screen = Deno.stdout.isTerminal() ? Deno.stdout : Deno.stderr;
  // Echo off before the prompt shows, or keys typed at once could be echoed (as getpass does).
  Deno.stdin.setRaw(true);
  screen.writeSync(encoder.encode(prompt));
  // A SIGINT from elsewhere (kill -INT) must not leave the terminal raw.
  const onSignal = () => {
    Deno.stdin.setRaw(false);
    screen.writeSync(encoder.encode("\n"));
    Deno.exit(EXIT_INTERRUPTED);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  const typed: number[] = [];
  const byte = new Uint8Array(1);
  try {
    while (true) {
      const n = await Deno.stdin.read(byte);
      const key = n === null ? "end" : passwordKey(byte[0], typed.length);
      if (key === "interrupt") throw new Interrupted();
      if (key === "end") return null;
      if (key === "enter") break;
      if (key === "erase") {
        // Erase one character: its UTF-8 continuation bytes, then its first byte.
        while ((typed.at(-1)! & 0xc0) === 0x80) typed.pop();
        typed.pop();
      } else typed.push(byte[0]);
    }
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.stdin.setRaw(false);
    screen.writeSync(encoder.encode("\n"));
  }
  return decoder.decode(new Uint8Array(typed));
}

/** The environment variable `login.ts --oauth2` reads the token from. */
export const TOKEN_VARIABLE = "SMTP_OAUTH2_TOKEN";

/**
 * The OAuth 2.0 token for `login.ts --oauth2`: {@link TOKEN_VARIABLE} when
 * Deno may read it (`--allow-env=SMTP_OAUTH2_TOKEN`; asked with
 * `querySync`, so Deno never prompts) and it is set, else `ask` (a
 * no-echo prompt); null at end of input. Spaces around it are dropped: a
 * token holds none.
 */
export async function oauth2Token(
  ask: (prompt: string) => Promise<string | null>,
): Promise<string | null> {
  const permission = Deno.permissions.querySync({ name: "env", variable: TOKEN_VARIABLE });
  const value = permission.state === "granted" ? Deno.env.get(TOKEN_VARIABLE)?.trim() : undefined;
  if (value) return value;
  return (await ask("Enter OAuth 2.0 access token: "))?.trim() ?? null;
}
