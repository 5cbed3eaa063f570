/**
 * The error classes of the SMTP helper, named after Python's smtplib so the
 * book's `except smtplib.SMTPException` reads the same here.
 *
 * `NetworkError` plays the part of Python's `OSError` (`socket.error`): the
 * connection could not be made, timed out, or TLS failed.
 *
 * @module
 */

/** A reply as smtplib returns it: the code and the text of all its lines. */
export type SMTPReply = [code: number, message: string];

/** Formats a reply for an error message: `550 5.1.1 User unknown`. */
export function formatReply([code, message]: SMTPReply): string {
  return message === "" ? `${code}` : `${code} ${message.replaceAll("\n", " ")}`;
}

/** The base class of every SMTP error. */
export class SMTPException extends Error {
  /** Builds the error; its name is its class's, as Python's tracebacks show. */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The server does not offer what was asked for (an extension, SMTPUTF8). */
export class SMTPNotSupportedError extends SMTPException {
}

/** The connection closed, or was closed, before the exchange was over. */
export class SMTPServerDisconnected extends SMTPException {
}

/** The server answered with an error code; `code` and `smtpError` hold it. */
export class SMTPResponseException extends SMTPException {
  /** The reply code, or -1 where the reply was not a valid SMTP reply. */
  readonly code: number;
  /** The text of the reply. */
  readonly smtpError: string;

  /** Builds the error; `context` says what was refused. */
  constructor(code: number, smtpError: string, context?: string) {
    const reply = formatReply([code, smtpError]);
    super(context ? `${context}: ${reply}` : reply);
    this.code = code;
    this.smtpError = smtpError;
  }
}

/** MAIL FROM was refused. */
export class SMTPSenderRefused extends SMTPResponseException {
  /** The sender address that was refused. */
  readonly sender: string;

  /** Builds the error for the refused `sender`. */
  constructor(code: number, smtpError: string, sender: string) {
    super(code, smtpError, `Sender ${sender} refused`);
    this.sender = sender;
  }
}

/** Every recipient was refused (or the server closed with 421 during RCPT). */
export class SMTPRecipientsRefused extends SMTPException {
  /** Each refused recipient with the server's reply. */
  readonly recipients: Map<string, SMTPReply>;

  /** Builds the error from the refused recipients and their replies. */
  constructor(recipients: Map<string, SMTPReply>) {
    const list = [...recipients].map(([to, reply]) => `${to} (${formatReply(reply)})`);
    super(`Recipients refused: ${list.join(", ")}`);
    this.recipients = recipients;
  }
}

/** DATA, or the message sent after it, was refused. */
export class SMTPDataError extends SMTPResponseException {
  /** Builds the error from the server's reply. */
  constructor(code: number, smtpError: string) {
    super(code, smtpError, "Message data refused");
  }
}

/** The greeting was not 220. */
export class SMTPConnectError extends SMTPResponseException {
  /** Builds the error from the server's greeting. */
  constructor(code: number, smtpError: string) {
    super(code, smtpError, "Server refused the connection");
  }
}

/** Both EHLO and HELO were refused. */
export class SMTPHeloError extends SMTPResponseException {
  /** Builds the error from the HELO reply. */
  constructor(code: number, smtpError: string) {
    super(code, smtpError, "Server refused HELO");
  }
}

/** The server refused the user name and password. */
export class SMTPAuthenticationError extends SMTPResponseException {
}

/**
 * A failure below SMTP: unknown host, refused connection, timeout, TLS
 * handshake or certificate. Python raises `OSError` for these.
 */
export class NetworkError extends Error {
  /** Builds the error; `cause` keeps Deno's own error. */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NetworkError";
  }
}

/** True for the errors the book's scripts catch: SMTP and network errors. */
export function isSendError(
  error: unknown,
): error is SMTPException | NetworkError {
  return error instanceof SMTPException || error instanceof NetworkError;
}
