/**
 * The words beside a transcript: what each reply code means, and which call
 * of the client made each command, as the book's sequence diagram for
 * chapter 13 draws them (`smtplib.SMTP()` opens the connection and reads the
 * greeting, `sendmail()` says MAIL, RCPT and DATA). One table each; the
 * pages only look things up here.
 *
 * @module
 */

/**
 * A few words for each reply code a session may show (RFC 5321 section 4.2,
 * RFC 4954, RFC 3207). A key `"VERB code"` words the code as the answer to
 * that command (`"message"` stands for the body that DATA's 354 asked for),
 * in place of the code's general words.
 */
export const REPLY_CODES: Readonly<Record<string, string>> = {
  "EHLO 250": "done: the extensions the server offers follow",
  "STARTTLS 220": "ready: start the TLS handshake now",
  "message 250": "done: the message is accepted and queued",
  "211": "system status",
  "214": "help text",
  "220": "ready: the server's greeting",
  "221": "goodbye: the server closes the connection",
  "235": "logged in",
  "250": "done",
  "251": "not local: will forward",
  "252": "cannot check the user, but will try to deliver",
  "334": "go on: the server waits for the next part of the login",
  "354": "send the message, end it with a line holding only a dot",
  "421": "service not available: the server closes the connection",
  "432": "a password change is needed",
  "450": "mailbox busy: try again later",
  "451": "local error: try again later",
  "452": "not enough storage: try again later",
  "454": "temporary failure: TLS or login not available now",
  "455": "cannot take these parameters now",
  "500": "command not recognised",
  "501": "bad arguments",
  "502": "command not implemented",
  "503": "bad sequence of commands",
  "504": "parameter not implemented",
  "521": "this host accepts no mail",
  "523": "the message is too big for this login",
  "530": "log in first (or start TLS first)",
  "534": "this login mechanism is too weak",
  "535": "wrong user name or password",
  "538": "this login needs TLS",
  "550": "no such mailbox, or not allowed",
  "551": "not local: try another path",
  "552": "too much mail: over the size limit",
  "553": "mailbox name not allowed",
  "554": "transaction failed (relay refused, or message rejected)",
  "555": "MAIL or RCPT parameters not recognised",
};

/**
 * What a reply code means in a few words, as the answer to `answering` (a
 * command's verb, or `"message"`) when given; null for a code not in
 * {@link REPLY_CODES}.
 */
export function explainCode(code: string, answering?: string): string | null {
  return REPLY_CODES[`${answering} ${code}`] ?? REPLY_CODES[code] ?? null;
}

/**
 * The reply code a server line starts with (`"250"` from `"250-PIPELINING"`),
 * or null for a line that does not start with three digits.
 */
export function replyCode(line: string): string | null {
  return /^[2-5]\d\d(?:[ -]|$)/.test(line) ? line.slice(0, 3) : null;
}

/** Whether a server line continues a multi-line reply (`250-...`): its code is followed by `-`. */
export function continuesReply(line: string): boolean {
  return /^\d{3}-/.test(line);
}

/**
 * Which call of the client says each command: smtplib's names, which
 * `lib/smtp.ts` keeps. `sendmail()` says MAIL, RCPT and DATA (and EHLO
 * first when nobody has).
 */
export const COMMAND_CALLS: Readonly<Record<string, string>> = {
  EHLO: "ehlo()",
  HELO: "helo()",
  STARTTLS: "starttls()",
  AUTH: "login()",
  MAIL: "sendmail()",
  RCPT: "sendmail()",
  DATA: "sendmail()",
  BDAT: "sendmail()",
  RSET: "sendmail() after a refusal, or rset()",
  NOOP: "noop()",
  VRFY: "verify()",
  EXPN: "expn()",
  HELP: "help()",
  QUIT: "quit()",
};

/** The call that opens the connection and reads the greeting. */
export const GREETING_CALL = "SMTP.connect() / smtplib.SMTP()";

/** The call that answers a 334 challenge during AUTH. */
export const AUTH_ANSWER_CALL = COMMAND_CALLS.AUTH;

/** The command word of a client line (`"MAIL"` from `"MAIL FROM:<a@b>"`), upper-cased. */
export function commandVerb(line: string): string {
  return line.split(" ", 1)[0].toUpperCase();
}

/** The call that says a client line's command, or null for a command not in {@link COMMAND_CALLS}. */
export function commandCall(line: string): string | null {
  return COMMAND_CALLS[commandVerb(line)] ?? null;
}
