/**
 * How a listing opens its connection and ends it: connecting as the command
 * line asks (plain, `--tls`, or `--starttls` upgraded at once), with a
 * notice when the greeting is slow to come, and the QUIT after an accepted
 * message, whose failure is only a notice.
 *
 * @module
 */

import type { CommandLine, ScriptIO } from "./cli.ts";
import { dial, dialTls } from "./conn.ts";
import { explain, GREETING_NOTICE_MS, greetingNotice, hintBeforeConnecting } from "./hints.ts";
import { isSendError, SMTP, type SMTPOptions } from "./smtp.ts";

/**
 * Connects as the command line asks: plain, or with `--tls` TLS from the
 * first byte. With `--starttls` it also says EHLO, STARTTLS and EHLO at
 * once, before the listing's own steps, unless `upgradeNow` is false
 * (debug.ts shows those steps in its transcript; tls.ts says them its own
 * way). On failure, a hint may go to stderr before the error is thrown on.
 */
export async function openConnection(
  command: CommandLine,
  io: ScriptIO = {},
  upgradeNow = true,
): Promise<SMTP> {
  const printError = io.printError ?? console.error;
  for (const line of hintBeforeConnecting(command)) printError(`${command.prog}: ${line}`);
  const watch = watchGreeting(command.options, () => {
    printError(`${command.prog}: ${greetingNotice(command)}`);
  });
  let connection: SMTP | undefined;
  try {
    connection = await SMTP.connect(command.server, watch.options);
    watch.stop();
    if (upgradeNow && command.options.requireTls) await connection.ehloOrHeloIfNeeded();
    return connection;
  } catch (error) {
    watch.stop();
    connection?.close();
    explain(error, command, io, connection, watch.noticed);
    throw error;
  }
}

/**
 * `options` with diallers that, once connected, start a timer for the
 * greeting: after {@link GREETING_NOTICE_MS} without one, `onSilence` runs
 * (once) and the wait goes on. An `AbortSignal.timeout` with a listener, not
 * `setTimeout`, so the fast path pays for no timer (see `conn.ts`).
 */
function watchGreeting(
  options: SMTPOptions,
  onSilence: () => void,
): { options: SMTPOptions; stop(): void; readonly noticed: boolean } {
  let noticed = false;
  let stopped = false;
  let signal: AbortSignal | undefined;
  const notice = () => {
    noticed = true;
    onSilence();
  };
  const start = <T>(conn: T): T => {
    if (!stopped) {
      signal = AbortSignal.timeout(GREETING_NOTICE_MS);
      signal.addEventListener("abort", notice, { once: true });
    }
    return conn;
  };
  const plain = options.dial ?? dial;
  const tls = options.dialTls ?? dialTls;
  return {
    options: {
      ...options,
      dial: (hostname, port, abort) => plain(hostname, port, abort).then(start),
      dialTls: (hostname, port, caCerts, abort) => tls(hostname, port, caCerts, abort).then(start),
    },
    stop() {
      stopped = true;
      signal?.removeEventListener("abort", notice);
    },
    get noticed() {
      return noticed;
    },
  };
}

/**
 * Says QUIT once the server has accepted the message (250 to the end of
 * data). The message is the server's by then (RFC 5321 section 6.1), so a
 * QUIT that fails (the server hangs up, stays silent, resets) is a notice
 * on stderr, not a failure: the listing still exits 0, and a caller that
 * retries on failure does not send the message twice. With `--chunking`
 * and no CHUNKING on offer, a notice first says the message went by DATA.
 */
export async function quitAfterSending(
  command: CommandLine,
  connection: SMTP,
  io: ScriptIO = {},
): Promise<void> {
  if (command.options.chunking && !connection.hasExtn("chunking")) {
    (io.printError ?? console.error)(
      `${command.prog}: the server does not offer CHUNKING: the message went by DATA`,
    );
  }
  try {
    await connection.quit();
  } catch (error) {
    if (!isSendError(error)) throw error;
    (io.printError ?? console.error)(
      `${command.prog}: the server accepted the message but did not answer QUIT: ${error.message}`,
    );
  }
}
