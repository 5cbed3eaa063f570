/**
 * Postfix's dialect for `smtp-server`: the one place that makes the
 * playground answer as the book's `mail.example.com` (a Postfix) does.
 *
 * `smtp-server` decides what to do; this module only decides how each reply
 * is worded. Every reply goes through {@link postfixReply}, which maps the
 * library's wording onto Postfix 3.7's (`250 2.1.0 Ok`, `250 2.0.0 Ok: queued
 * as ID`, the EHLO keywords in Postfix's order with VRFY and ETRN); VRFY and
 * ETRN get Postfix's handlers; and the refusals the playground makes itself
 * ({@link refusals}) carry Postfix's texts. A library upgrade that rewords a
 * reply falls through to the library's words, which the transcript test
 * (tests/playground_dialect_test.ts, against the chapter's page) catches.
 *
 * Measured against Postfix 3.7.11 (Debian 12): `ETRN` without a domain is
 * answered `500 Syntax: ETRN domain`, with no enhanced status code.
 *
 * @module
 */

import { SMTPServer, type SMTPServerOptions } from "smtp-server";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { Readable } from "node:stream";
import { type FailureSession, markOf, NO_FAILURES, type Step } from "./failures.ts";
import { RecordedConnection } from "./recording.ts";
import type { Recorder } from "./recorder.ts";
import type { ListenerName } from "./model.ts";
import type { Buffer } from "node:buffer";
import { oauthAuthCommand, withoutOAuth } from "./oauth.ts";

/** The EHLO keywords in the order Postfix lists them. */
export const POSTFIX_EHLO_ORDER = [
  "PIPELINING",
  "SIZE",
  "VRFY",
  "ETRN",
  "STARTTLS",
  "AUTH",
  "ENHANCEDSTATUSCODES",
  "8BITMIME",
  "DSN",
  "SMTPUTF8",
  "CHUNKING",
];

/** An SMTP refusal with its code; `message` starts with the enhanced status code. */
export type Refusal = Error & { responseCode: number };

/** Makes a refusal that `smtp-server` sends as `code message`. */
function refusal(responseCode: number, message: string): Refusal {
  return Object.assign(new Error(message), { responseCode });
}

/** Postfix's wording for the refusals the playground decides itself. */
export const refusals = {
  /** RCPT or VRFY for a local user who does not exist. */
  unknownUser: (address: string): Refusal =>
    refusal(
      550,
      `5.1.1 <${address}>: Recipient address rejected: User unknown in local recipient table`,
    ),
  /** RCPT or VRFY for a domain that is not ours (nothing is relayed). */
  relayDenied: (address: string): Refusal =>
    refusal(554, `5.7.1 <${address}>: Relay access denied`),
  /** A wrong user name or password. */
  authFailed: (): Refusal =>
    refusal(535, "5.7.8 Error: authentication failed: authentication failure"),
  /** A mailbox that could not be written (the message is in no mailbox). */
  writeError: (): Refusal => refusal(451, "4.3.0 Error: queue file write error"),
  /** A full disk (the message is in no mailbox). */
  noSpace: (): Refusal => refusal(452, "4.3.1 Insufficient system storage"),
};

/** What an injected failure's wording may name (playground/failures.ts). */
export interface FailureDetail {
  /** The address of MAIL or RCPT, or the name given to EHLO or HELO. */
  argument?: string;
  /** The client's address, as Postfix names an unknown client: `127.0.0.1`. */
  client?: string;
}

/**
 * The reply of an injected failure (`--fail STEP:CODE`): Postfix's own text
 * and enhanced code for that step and code where Postfix has one, else a
 * plain text of ours with an enhanced code of the code's class. A 421 names
 * the server, as Postfix's do.
 */
export function failureReply(step: string, code: number, detail: FailureDetail = {}): string {
  const who = `<${detail.argument ?? ""}>`;
  const client = `<unknown[${detail.client ?? "127.0.0.1"}]>`;
  const words: Record<string, Record<number, string>> = {
    connect: {
      421: `4.7.0 mail.example.com Error: too many connections from ${
        detail.client ?? "127.0.0.1"
      }`,
      521: "5.3.2 Service currently unavailable",
      550: "5.3.2 Service currently unavailable",
      554: `5.7.1 ${client}: Client host rejected: Access denied`,
    },
    ehlo: helloWords(who),
    helo: helloWords(who),
    ehlo2: helloWords(who),
    starttls: {
      454: "4.7.0 TLS not available due to local problem",
      501: "5.5.4 Syntax: STARTTLS",
      502: "5.5.1 Error: command not implemented",
      554: "5.5.1 Error: TLS already active",
    },
    auth: {
      454: "4.7.0 Temporary authentication failure: generic failure",
      501: "5.7.0 Authentication aborted",
      503: "5.5.1 Error: authentication not enabled",
      504: "5.5.4 Encryption required for requested authentication mechanism",
      535: "5.7.8 Error: authentication failed: authentication failure",
    },
    mail: {
      450: `4.1.8 ${who}: Sender address rejected: Domain not found`,
      451: `4.3.0 ${who}: Temporary lookup failure`,
      452: "4.3.1 Insufficient system storage",
      503: "5.5.1 Error: nested MAIL command",
      530: "5.7.0 Authentication required",
      550: `5.1.0 ${who}: Sender address rejected: User unknown in local recipient table`,
      552: "5.3.4 Message size exceeds fixed limit",
      553: `5.1.8 ${who}: Sender address rejected: Domain not found`,
      554: `5.7.1 ${who}: Sender address rejected: Access denied`,
    },
    rcpt: {
      450: `4.1.2 ${who}: Recipient address rejected: Domain not found`,
      451: `4.3.0 ${who}: Temporary lookup failure`,
      452: "4.5.3 Error: too many recipients",
      503: "5.5.1 Error: need MAIL command",
      550: `5.1.1 ${who}: Recipient address rejected: User unknown in local recipient table`,
      554: `5.7.1 ${who}: Relay access denied`,
    },
    data: {
      451: "4.3.0 Error: queue file write error",
      503: "5.5.1 Error: need RCPT command",
      554: "5.5.1 Error: no valid recipients",
    },
    message: {
      451: "4.3.0 Error: queue file write error",
      452: "4.3.1 Insufficient system storage",
      550: "5.7.1 Message content rejected",
      552: "5.3.4 Message size exceeds fixed limit",
      554: "5.7.1 Message content rejected",
    },
  };
  const text = words[step]?.[code];
  if (text) return text;
  if (code === 421) return "4.3.0 mail.example.com Error: service closing transmission channel";
  if (code === 500 || code === 502) return "5.5.2 Error: command not recognized";
  return `${Math.floor(code / 100)}.0.0 Error: ${step} failed on purpose (playground --fail)`;
}

/** Postfix's words for a refused EHLO or HELO name. */
function helloWords(who: string): Record<number, string> {
  return {
    450: `4.7.1 ${who}: Helo command rejected: Host not found`,
    451: `4.3.5 ${who}: Helo command rejected: Server configuration error`,
    501: `5.5.2 ${who}: Helo command rejected: invalid ip address`,
    504: `5.5.2 ${who}: Helo command rejected: need fully-qualified hostname`,
    550: `5.7.1 ${who}: Helo command rejected: Access denied`,
    554: `5.7.1 ${who}: Helo command rejected: Access denied`,
  };
}

/** What a reply's wording may depend on besides the reply itself. */
export interface ReplyContext {
  /** `smtp-server`'s context for the reply (`MAIL_FROM_OK`, ...), or false for none. */
  context?: string | false;
  /** Whether MAIL has been accepted in this transaction. */
  inTransaction: boolean;
  /** Whether AUTH may be offered now (after STARTTLS, or where plain-text AUTH is allowed). */
  authAllowed: boolean;
  /** The enhanced status code `smtp-server` would give this reply (`2.0.0`), or "". */
  enhancedCode: string;
}

const ENHANCED = /^\d\.\d{1,3}\.\d{1,3} /;

/**
 * Rewords one reply of `smtp-server` as Postfix words it; returns the code
 * and the lines to send, each already carrying its enhanced status code.
 */
export function postfixReply(
  code: number,
  data: string | string[] | null | undefined,
  reply: ReplyContext,
): [number, string | string[]] {
  if (Array.isArray(data)) {
    if (code === 250 && reply.context === false) {
      return [250, [data[0], ...ehloKeywords(data.slice(1), reply.authAllowed)]];
    }
    return [code, data];
  }
  const text = data ?? "";
  if (reply.context === false || ENHANCED.test(text)) return [code, text];
  const ok = {
    MAIL_FROM_OK: "2.1.0 Ok",
    RCPT_TO_OK: "2.1.5 Ok",
  }[reply.context ?? ""];
  if (code === 250 && ok) return [250, ok];
  if (code === 250 && reply.context === "DATA_OK") return [250, `2.0.0 ${text}`];
  if (code === 250 && (text === "OK" || text === "Flushed")) return [250, "2.0.0 Ok"];
  if (code === 552 && /exceeds fixed maximum message size/.test(text)) {
    return [552, "5.3.4 Message size exceeds fixed limit"];
  }
  if (code === 421 && text === "Timeout - closing connection") {
    return [421, "4.4.2 mail.example.com Error: timeout exceeded"];
  }
  if (code === 421 && /^Error: too many (unrecognized|unauthenticated) commands$/.test(text)) {
    return [421, "4.7.0 mail.example.com Error: too many errors"];
  }
  if (code === 503 && text === "Error: No identity changes permitted") {
    return [503, "5.5.1 Error: already authenticated"];
  }
  if (code === 214) return [500, "5.5.2 Error: command not recognized"]; // Postfix has no HELP
  if (code === 535 && text === "Error: Username and Password not accepted") {
    return [535, refusals.authFailed().message]; // XOAUTH2's, after its JSON challenge
  }
  if (code === 538) return [503, "5.5.1 Error: authentication not enabled"];
  if (code === 530) {
    return [
      530,
      reply.authAllowed
        ? "5.7.0 Authentication required"
        : "5.7.0 Must issue a STARTTLS command first",
    ];
  }
  if (code === 503 && text === "Error: need RCPT command" && reply.inTransaction) {
    return [554, "5.5.1 Error: no valid recipients"];
  }
  if (code === 501 && text === "Error: Bad sender address syntax") {
    return [501, "5.1.7 Bad sender address syntax"];
  }
  if (code === 501 && text === "Error: Bad recipient address syntax") {
    return [501, "5.1.3 Bad recipient address syntax"];
  }
  return [code, reply.enhancedCode ? `${reply.enhancedCode} ${text}` : text];
}

/** Keywords never offered: `smtp-server` has no BDAT (RFC 3030), whatever it may list. */
const NEVER_OFFERED = new Set(["CHUNKING", "BINARYMIME"]);

/**
 * The EHLO keywords in Postfix's order, with VRFY and ETRN, AUTH only where
 * allowed, and never CHUNKING or BINARYMIME.
 */
export function ehloKeywords(features: string[], authAllowed: boolean): string[] {
  const keyword = (line: string) => line.split(" ")[0].toUpperCase();
  const all = [...features, "VRFY", "ETRN"]
    .filter((line) => authAllowed || keyword(line) !== "AUTH")
    .filter((line) => !NEVER_OFFERED.has(keyword(line)));
  const rank = (line: string) => {
    const at = POSTFIX_EHLO_ORDER.indexOf(keyword(line));
    return at < 0 ? POSTFIX_EHLO_ORDER.length : at;
  };
  return all.sort((a, b) => rank(a) - rank(b));
}

/** The answer to `ETRN args` (Postfix without fast-flush domains refuses every domain). */
export function etrnReply(args: string[], inTransaction: boolean): [number, string] {
  if (inTransaction) return [503, "Error: MAIL transaction in progress"];
  if (args.length !== 1) return [500, "Syntax: ETRN domain"];
  const domain = args[0].replace(/^[@#]/, "");
  const hostname =
    /^(?=.{1,255}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/i;
  if (!hostname.test(domain) && !/^\[[0-9a-f.:]+\]$/i.test(domain)) {
    return [501, "Error: invalid parameter syntax"];
  }
  return [459, `<${domain}>: service unavailable`];
}

/** The answer to `VRFY argument`, given how RCPT would treat the address. */
export function vrfyReply(
  argument: string,
  checkRecipient: (address: string) => Refusal | null,
): [number, string] {
  if (argument === "") return [501, "5.5.4 Syntax: VRFY address"];
  const address = /<([^>]*)>/.exec(argument)?.[1] ?? argument;
  const problem = checkRecipient(address);
  if (problem) return [problem.responseCode, problem.message];
  return [252, `2.0.0 ${argument}`];
}

/** Options for {@link PostfixServer}: `smtp-server`'s, plus the recipient check VRFY uses. */
export interface PostfixServerOptions extends SMTPServerOptions {
  /** Why RCPT would refuse an address (also used by VRFY), or null. */
  checkRecipient: (address: string) => Refusal | null;
  /**
   * The failures of each new session (`--fail`, playground/failures.ts),
   * taken once as it connects; none by default.
   */
  failures?: () => FailureSession;
  /** Where every session is recorded (playground/recorder.ts); none by default. */
  recorder?: Recorder;
  /** Which listener this is, for the record. Default `book`. */
  listener?: ListenerName;
}

/**
 * An `smtp-server` whose every reply is worded as Postfix words it. Its
 * `connect()` does what the library's does (as of 3.21.6), with
 * a connection class of its own (Postfix's words, VRFY, ETRN) in place of the library's.
 */
export class PostfixServer extends SMTPServer {
  /** The recipient check VRFY uses. */
  readonly checkRecipient: (address: string) => Refusal | null;

  /** The failures of each new session. */
  readonly failures: () => FailureSession;

  /** Where every session is recorded, if anywhere. */
  readonly recorder?: Recorder;
  /** Which listener this is. */
  readonly listener: ListenerName;

  constructor(options: PostfixServerOptions) {
    super(options);
    this.checkRecipient = options.checkRecipient;
    this.recorder = options.recorder;
    this.listener = options.listener ?? "book";
    this.failures = options.failures ?? (() => NO_FAILURES.session(0));
    // The reply after the final dot may fail too: the connection decides before the message
    // reaches the mailboxes, so a failed one is stored nowhere.
    const onData = this.onData.bind(this);
    this.onData = (stream, session, callback) => {
      const connection = [...this.connections].find((c) => c.session === session);
      if (!(connection instanceof PostfixConnection)) return onData(stream, session, callback);
      connection.messageArrived(stream, (answer) => onData(stream, session, answer), callback);
    };
  }

  /**
   * The TLS handshake of the implicit-TLS listener, before there is a
   * connection: one that fails is recorded as a session with no lines.
   */
  override _upgrade(
    socket: Socket,
    callback: (error: Error | null, tlsSocket?: TLSSocket) => void,
  ): void {
    super._upgrade(socket, (error, tlsSocket) => {
      if (error && this.recorder) {
        this.recorder.start({
          address: (socket.remoteAddress ?? "").replace(/^::ffff:/, ""),
          port: socket.remotePort ?? 0,
          listener: this.listener,
          tls: false,
        }).end("tls-failed");
      }
      callback(error, tlsSocket);
    });
  }

  /** Takes over a new client connection (as `SMTPServer.connect`, with Postfix's words). */
  override connect(socket: Socket | TLSSocket, socketOptions?: unknown): void {
    // deno-lint-ignore no-explicit-any
    const connection = new PostfixConnection(this, socket, socketOptions as any);
    connection.failures = this.failures();
    connection.record = this.recorder?.start({
      address: connection.remoteAddress,
      port: connection.remotePort,
      listener: this.listener,
      tls: connection.secure,
    }) ?? null;
    this.connections.add(connection);
    connection.on("error", (error: Error) => this._onError(error));
    // deno-lint-ignore no-explicit-any
    connection.on("connect", (data: any) => this._onClientConnect(data));
    connection.init();
  }
}

/** smtp-server's answer to a message: an error, or the text of the 250. */
type DataCallback = Parameters<SMTPServer["onData"]>[2];

/** How a step goes on once the failure table has been asked (see `#failAt`). */
interface Outcomes {
  /** The step as normal. */
  go(): void;
  /** The step's failure reply instead. */
  reply(code: number, text: string): void;
  /** The step as normal, its reply `ms` later (default: `go` after `ms`). */
  slow?(ms: number): void;
  /** No reply, and the connection closed (default: closed now). */
  drop?(): void;
  /** No reply, ever (default: the idle timeout held off, nothing sent). */
  stall?(): void;
}

/** The step a command line reaches, and the argument a failure's words may name. */
function stepOf(line: string, afterStarttls: boolean): { step: Step; argument?: string } | null {
  const [verb = "", ...rest] = line.trim().split(/\s+/);
  const address = /<([^>]*)>/.exec(line)?.[1] ?? rest.join(" ").replace(/^(FROM|TO):/i, "");
  switch (verb.toUpperCase()) {
    case "EHLO":
      return { step: afterStarttls ? "ehlo2" : "ehlo", argument: rest.join(" ") };
    case "HELO":
      return { step: "helo", argument: rest.join(" ") };
    case "MAIL":
      return { step: "mail", argument: address };
    case "RCPT":
      return { step: "rcpt", argument: address };
    case "STARTTLS":
    case "AUTH":
    case "DATA":
    case "QUIT":
      return { step: verb.toLowerCase() as Step };
  }
  return null;
}

/** One client connection speaking Postfix's dialect. */
class PostfixConnection extends RecordedConnection {
  /** This session's failures, from the table current when it connected. */
  failures: FailureSession = NO_FAILURES.session(0);
  /** An AUTH failure to give at the end of the exchange, in place of its outcome. */
  #authFailure: [number, string] | null = null;
  /** The greeting was a refusal other than 421: only QUIT is answered as normal. */
  #refusedAtGreeting = false;

  /**
   * The one place that asks the failure table: does `step` fail this time,
   * and how? Then carries on, fails, stalls or drops as the table says.
   */
  #failAt(step: Step, argument: string | undefined, outcomes: Outcomes): void {
    const action = this.failures.at(step, step === "rcpt" ? argument : undefined);
    if (!action) return outcomes.go();
    this.record?.failure(markOf(step, action)); // the session's record says what was injected
    switch (action.kind) {
      case "slow":
        return outcomes.slow ? outcomes.slow(action.ms) : void setTimeout(outcomes.go, action.ms);
      case "drop":
        return outcomes.drop ? outcomes.drop() : this.close();
      case "stall":
        if (outcomes.stall) return outcomes.stall();
        this._handlerPending = true; // holds off smtp-server's idle timeout, and so its 421
        return;
      case "reply": {
        const detail = { argument, client: this.remoteAddress };
        return outcomes.reply(action.code, failureReply(step, action.code, detail));
      }
    }
  }

  /** The greeting, unless the table fails `connect`. */
  override _sendGreeting(): void {
    this.#failAt("connect", undefined, {
      go: () => super._sendGreeting(),
      reply: (code, text) => {
        this.#refusedAtGreeting = true;
        super.send(code, text, false); // a 421 closes the connection
      },
    });
  }

  /** A command, unless the table fails its step. */
  override _onCommand(command: Buffer, callback?: () => void): void {
    const line = (command ?? "").toString();
    const next = () => this._whenWritable(callback ?? (() => false));
    const dispatched = this._ready && !this._upgrading && !this._nextHandler;
    const found = dispatched ? stepOf(line, this.secure && !this._server.options.secure) : null;
    if (this.#refusedAtGreeting && dispatched && found?.step !== "quit") {
      super.send(503, "5.5.1 Error: refused at the greeting; only QUIT is answered", false);
      return next();
    }
    if (!found) return super._onCommand(command, callback);
    const { step, argument } = found;
    this.#failAt(step, argument, {
      go: () => super._onCommand(command, callback),
      reply: (code, text) => {
        if (step === "auth" && code !== 421) {
          // As Postfix does: the SASL exchange runs, then its outcome is the failure.
          this.#authFailure = [code, text];
          return super._onCommand(command, callback);
        }
        super.send(code, text, false); // a 421 closes the connection
        if (step === "quit") this.close();
        next();
      },
    });
  }

  /** The message is in (the final dot): stored and answered, unless the table fails `message`. */
  messageArrived(
    stream: Readable,
    deliver: (callback: DataCallback) => void,
    callback: DataCallback,
  ): void {
    this.#failAt("message", undefined, {
      go: () => deliver(callback),
      // smtp-server reads the rest of the message and answers once it has ended.
      reply: (code, text) => callback(refusal(code, text)),
      slow: (ms) => deliver((...args) => void setTimeout(() => callback(...args), ms)),
      drop: () => {
        stream.once("end", () => this.close());
        stream.resume();
      },
      stall: () => stream.resume(),
    });
  }

  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    if (this.#authFailure && code !== 334) {
      const [failureCode, text] = this.#authFailure;
      this.#authFailure = null;
      this.session.user = false; // whatever the exchange gave, it failed
      return super.send(failureCode, text, false);
    }
    const methods: string[] = this._server.options.authMethods ?? [];
    const loggedIn = Boolean(this.session.user) && methods.length > 0;
    if (code === 250 && context === false && Array.isArray(data) && loggedIn) {
      // smtp-server stops listing AUTH once the client has logged in; Postfix goes on.
      if (!data.some((line) => /^AUTH /i.test(line))) data = [...data, `AUTH ${methods.join(" ")}`];
    }
    // XOAUTH2 and OAUTHBEARER only under TLS: the book's plain EHLO stays the page's.
    if (code === 250 && context === false && Array.isArray(data) && !this.secure) {
      data = withoutOAuth(data);
    }
    const [postfixCode, lines] = postfixReply(code, data, {
      context,
      inTransaction: Boolean(this.session.envelope?.mailFrom),
      authAllowed: this.secure || Boolean(this._server.options.allowInsecureAuth),
      enhancedCode: this._getEnhancedStatusCode(code, context),
    });
    super.send(postfixCode, lines, false);
  }

  override handler_AUTH(command: Buffer, callback: () => void): void {
    if (!oauthAuthCommand(this, command, callback)) super.handler_AUTH(command, callback);
  }

  override handler_VRFY(command: { toString(): string }, callback: () => void): void {
    const argument = command.toString().trim().split(/\s+/).slice(1).join(" ");
    const [code, text] = vrfyReply(argument, (this._server as PostfixServer).checkRecipient);
    super.send(code, text, false);
    callback();
  }

  handler_ETRN(command: { toString(): string }, callback: () => void): void {
    const args = command.toString().trim().split(/\s+/).slice(1);
    const [code, text] = etrnReply(args, Boolean(this.session.envelope?.mailFrom));
    super.send(code, text, false);
    callback();
  }
}
