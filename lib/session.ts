/**
 * How a listing opens its connection and ends it: connecting as the command
 * line asks (plain, `--tls`, or `--starttls` upgraded at once), and the QUIT
 * after an accepted message, whose failure is only a notice.
 *
 * @module
 */

import type { CommandLine, ScriptIO } from "./cli.ts";
import { explain, hintBeforeConnecting } from "./hints.ts";
import { isSendError, SMTP } from "./smtp.ts";

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
  for (const line of hintBeforeConnecting(command)) {
    (io.printError ?? console.error)(`${command.prog}: ${line}`);
  }
  let connection: SMTP | undefined;
  try {
    connection = await SMTP.connect(command.server, command.options);
    if (upgradeNow && command.options.requireTls) await connection.ehloOrHeloIfNeeded();
    return connection;
  } catch (error) {
    connection?.close();
    explain(error, command, io, connection);
    throw error;
  }
}

/**
 * Says QUIT once the server has accepted the message (250 to the end of
 * data). The message is the server's by then (RFC 5321 section 6.1), so a
 * QUIT that fails (the server hangs up, stays silent, resets) is a notice
 * on stderr, not a failure: the listing still exits 0, and a caller that
 * retries on failure does not send the message twice.
 */
export async function quitAfterSending(
  command: CommandLine,
  connection: SMTP,
  io: ScriptIO = {},
): Promise<void> {
  try {
    await connection.quit();
  } catch (error) {
    if (!isSendError(error)) throw error;
    (io.printError ?? console.error)(
      `${command.prog}: the server accepted the message but did not answer QUIT: ${error.message}`,
    );
  }
}
