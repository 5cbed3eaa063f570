/**
 * A small SMTP client that plays the part of Python's `smtplib` for the
 * book's listings, built on `Deno.connect`, `Deno.connectTls` and
 * `Deno.startTls`.
 *
 * Like Go's `net/smtp` it is one client type with one method per SMTP
 * command; the names are smtplib's (`ehlo`, `hasExtn`, `esmtpFeatures`,
 * `starttls`, `login`, `sendmail`, `quit`, `setDebugLevel`) so the book's
 * page and this file can be read side by side.
 *
 * From another project, import this file by its path (or URL) today, for
 * example from a folder beside a clone of this repository:
 * `import { SMTP } from "../fopnp-smtp/lib/smtp.ts";`, then
 * `deno run -N send.ts`. Once the package is published on JSR, the same is
 * `import { SMTP } from "jsr:@fopnp/smtp";`.
 *
 * Timeouts are in milliseconds here (`{ timeout: 30_000 }`); the listings'
 * `--timeout` is in seconds.
 *
 * @example Send one message
 * ```ts
 * import { SMTP } from "@fopnp/smtp"; // elsewhere: "jsr:@fopnp/smtp", or the path to lib/smtp.ts
 *
 * const connection = await SMTP.connect("localhost:2525");
 * await connection.sendmail("me@example.com", ["you@example.com"], "Subject: hi\n\nHello\n");
 * await connection.quit();
 * ```
 * @module
 */

import {
  decodeBase64,
  encodeBase64,
  type Mechanism,
  mechanisms,
  PREFERRED_MECHANISMS,
} from "./auth.ts";
import { requireMessage, requireOptions, requireString, requireStrings } from "./arguments.ts";
import * as chunking from "./bdat.ts";
import { addressLiteral, Connection, type Step } from "./conn.ts";
import { measureMessage } from "./data.ts";
import { Envelope } from "./envelope.ts";
import type { SMTPOptions } from "./options.ts";
import { mergeParams, NON_ASCII, ownMailParams, refuseUnoffered } from "./params.ts";
import { loginOAuth2, maskSecrets, type OAuth2Options } from "./oauth.ts";
import { maskAuthLine } from "./mask.ts";
import {
  formatReply,
  SMTPAuthenticationError,
  SMTPConnectError,
  SMTPDataError,
  SMTPException,
  SMTPHeloError,
  SMTPNotSupportedError,
  SMTPResponseException,
  SMTPServerDisconnected,
} from "./errors.ts";
import type { SMTPReply } from "./errors.ts";
import type { Reply } from "./reply.ts";
import { pyBytesRepr, pyRepr, timeOfDay } from "./repr.ts";
import { cancelMessage, isStream, type Message, writeMessage } from "./stream.ts";

export * from "./errors.ts";
export {
  DEFAULT_TIMEOUTS,
  type Dialer,
  IMPLICIT_TLS_PORT,
  MAX_TIMEOUT,
  parseServer,
  SMTP_PORT,
  type TlsDialer,
  type TlsUpgrader,
} from "./conn.ts";
export type { Mechanism } from "./auth.ts";
export type { Message } from "./stream.ts";
export type { SMTPOptions } from "./options.ts";
export type { OAuth2Options } from "./oauth.ts";
export { BDAT_CHUNK_SIZE } from "./bdat.ts";

/** More 334 challenges than this in one AUTH exchange is an error. */
const MAX_CHALLENGES = 5;

const encoder = new TextEncoder();

/** The lone `.` line that ends a DATA with no message (RFC 2920 section 3.1). */
const END_OF_DATA = encoder.encode(".\r\n");

/**
 * The bare address in angle brackets for MAIL and RCPT, as smtplib's
 * `quoteaddr()`: `Brandon <b@example.com>` becomes `<b@example.com>`, an
 * empty sender `<>`. CR, LF, `<` and `>` in the bare address are refused.
 */
export function quoteaddr(address: string): string {
  const trimmed = address.trim();
  // CR or LF first: trim() would turn "\r\n" into "", the null sender.
  const hasLineBreak = /[\r\n]/.test(address);
  if (!hasLineBreak && (trimmed === "" || trimmed === "<>")) return "<>";
  const named = /<([^<>]*)>$/.exec(trimmed);
  const bare = (named ? named[1] : trimmed).trim();
  if (hasLineBreak || /[<>]/.test(bare) || bare === "") {
    throw new SMTPException(
      `Invalid address ${pyRepr(address)}: an address may not hold CR, LF, '<' or '>'`,
    );
  }
  return `<${bare}>`;
}

/** An SMTP client connection, in the manner of smtplib's `SMTP` class. */
export class SMTP {
  /** The host name given to {@link SMTP.connect}, used to check TLS certificates. */
  readonly host: string;
  /** The port connected to. */
  readonly port: number;
  /** The name sent with EHLO and HELO. */
  localHostname: string;
  /** The last EHLO reply's text, or null before EHLO. */
  ehloResp: string | null = null;
  /** The last HELO reply's text, or null before HELO. */
  heloResp: string | null = null;
  /** Whether the server answered EHLO with 250. */
  doesEsmtp = false;
  /** The extensions from the last EHLO: lower-cased keyword to parameters. */
  esmtpFeatures: Map<string, string> = new Map();
  /** The transcript level: 0 off, 1 lines, 2 lines with time stamps. */
  debugLevel = 0;

  #conn: Connection;
  #options: SMTPOptions;
  #utf8Commands = false;
  #binaryBody = false;
  #closedBy: Reply | null = null;
  /** Masked in the transcript: an OAuth 2.0 token and its initial response. */
  #secrets: string[] = [];

  private constructor(conn: Connection, options: SMTPOptions) {
    this.#conn = conn;
    this.host = conn.host;
    this.port = conn.port;
    this.#options = options;
    this.debugLevel = options.debugLevel ?? 0;
    this.localHostname = options.localHostname ?? addressLiteral(conn.localAddr);
  }

  /**
   * Connects to `server` (`host`, `host:port` or `[v6address]:port`; port 25
   * by default, 465 with `tls: true`) and reads the greeting, which must be 220.
   *
   * @example Implicit TLS on port 465 (smtplib's `SMTP_SSL`)
   * ```ts
   * const message = "Subject: hi\n\nHello\n";
   * const smtp = await SMTP.connect("smtp.example.com", { tls: true });
   * await smtp.login("me@example.com", Deno.env.get("SMTP_PASSWORD") ?? "");
   * await smtp.sendmail("me@example.com", ["you@example.com"], message);
   * await smtp.quit();
   * ```
   *
   * @example A provider's submission port 587: STARTTLS before the password, or nothing
   * ```ts
   * const message = "Subject: hi\n\nHello\n";
   * const smtp = await SMTP.connect("smtp.example.com:587", { requireTls: true });
   * // EHLO, STARTTLS, EHLO, then AUTH; a server without STARTTLS gets no password.
   * await smtp.login("me@example.com", Deno.env.get("SMTP_PASSWORD") ?? "");
   * await smtp.sendmail("me@example.com", ["you@example.com"], message);
   * await smtp.quit();
   * ```
   *
   * @example Pipelining (RFC 2920): the whole envelope in one round trip
   * ```ts
   * const recipients = ["a@example.com", "b@example.com", "c@example.com"];
   * const smtp = await SMTP.connect("localhost:2525", { pipelining: true });
   * const refused = await smtp.sendmail("me@example.com", recipients, "Subject: hi\n\nHello\n");
   * console.log(`refused: ${[...refused.keys()].join(", ") || "none"}`);
   * await smtp.quit();
   * ```
   *
   * @example A 421 at any step closes the connection and is thrown
   * ```ts
   * import { SMTP, SMTPResponseException } from "@fopnp/smtp";
   *
   * try {
   *   const smtp = await SMTP.connect("localhost:2525");
   *   await smtp.ehlo();
   * } catch (error) {
   *   if (error instanceof SMTPResponseException && error.code === 421) console.log(error.message);
   * }
   * ```
   */
  static async connect(server: string, options?: SMTPOptions): Promise<SMTP> {
    requireString("SMTP.connect", "server", server);
    options = requireOptions("SMTP.connect", options);
    const conn = await Connection.open(server, options);
    const connection = new SMTP(conn, options);
    connection.#debug("connect:", () => `(${pyRepr(conn.host)}, ${conn.port})`);
    const { code, message, messageBytes } = await connection.#getreply("greeting");
    connection.#debug("connect:", () => pyBytesRepr(messageBytes));
    if (code !== 220) {
      connection.close();
      throw new SMTPConnectError(code, message);
    }
    return connection;
  }

  /** True once the connection is under TLS (implicit, or after STARTTLS). */
  get isTls(): boolean {
    return this.#conn.isTls;
  }

  /** Sets the transcript level: 0 off, 1 each line on stderr, 2 with time stamps. */
  setDebugLevel(level: number): void {
    this.debugLevel = level;
  }

  /**
   * Sends a command and returns the reply, like smtplib's `docmd()`. A 421
   * reply (the server closing) is thrown, as by every command here.
   */
  async docmd(cmd: string, args = ""): Promise<SMTPReply> {
    await this.#putcmd(args === "" ? cmd : `${cmd} ${args}`);
    return this.#result(await this.#getreply("command"));
  }

  /** Says EHLO and records the extensions the server lists. */
  async ehlo(name = ""): Promise<SMTPReply> {
    this.esmtpFeatures = new Map();
    await this.#putcmd(`ehlo ${name || this.localHostname}`);
    const reply = await this.#getreply("command");
    this.ehloResp = reply.message;
    const [code, message] = this.#result(reply);
    if (code !== 250) return [code, message];
    this.doesEsmtp = true;
    for (const line of message.split("\n").slice(1)) {
      const oldStyleAuth = /^auth=(.*)$/i.exec(line);
      const keyword = /^([A-Za-z0-9][A-Za-z0-9-]*) ?/.exec(line);
      if (oldStyleAuth) {
        this.#addAuth(oldStyleAuth[1]);
      } else if (keyword) {
        const feature = keyword[1].toLowerCase();
        const params = line.slice(keyword[1].length).trim();
        if (feature === "auth") this.#addAuth(params);
        else this.esmtpFeatures.set(feature, params);
      }
    }
    return [code, message];
  }

  /** Says HELO, for servers that do not know EHLO. */
  async helo(name = ""): Promise<SMTPReply> {
    await this.#putcmd(`helo ${name || this.localHostname}`);
    const reply = await this.#getreply("command");
    this.heloResp = reply.message;
    return this.#result(reply);
  }

  /**
   * Says EHLO, then HELO if EHLO is refused, unless one was said already.
   * With `requireTls`, also upgrades a plain connection with STARTTLS and
   * says EHLO again, or closes it and throws.
   */
  async ehloOrHeloIfNeeded(): Promise<void> {
    await this.#greet();
    if (this.#options.requireTls && !this.isTls) {
      if (!this.hasExtn("starttls")) this.#refuse("the server does not offer STARTTLS");
      try {
        await this.starttls();
      } catch (error) {
        this.close();
        throw error;
      }
      await this.#greet();
    }
  }

  /** Whether the last EHLO listed the extension `name` (any case). */
  hasExtn(name: string): boolean {
    return this.esmtpFeatures.has(name.toLowerCase());
  }

  /** Says NOOP. */
  noop(): Promise<SMTPReply> {
    return this.docmd("noop");
  }

  /** Says RSET, ending the mail transaction. */
  rset(): Promise<SMTPReply> {
    return this.docmd("rset");
  }

  /**
   * Says `MAIL FROM:<sender>` with any ESMTP options. An option the helper
   * knows (`SMTPUTF8`, `BODY=`, `SIZE=`, `RET=`, `ENVID=`, `REQUIRETLS`)
   * whose extension the server did not offer is refused with
   * `SMTPNotSupportedError` before anything is sent.
   */
  async mail(sender: string, options?: string[]): Promise<SMTPReply> {
    requireString("mail", "sender", sender);
    requireStrings("mail", "options", options);
    this.#requireTlsFor("MAIL");
    refuseUnoffered("MAIL", options ?? [], (extension) => this.hasExtn(extension));
    await this.#putcmd(this.#mailCommand(sender, options ?? []));
    return this.#result(await this.#getreply("command"));
  }

  /**
   * Says `RCPT TO:<recipient>` with any ESMTP options; as with {@link mail},
   * a known option (`NOTIFY=`, `ORCPT=`) the server did not offer is refused.
   */
  async rcpt(recipient: string, options?: string[]): Promise<SMTPReply> {
    requireString("rcpt", "recipient", recipient);
    requireStrings("rcpt", "options", options);
    refuseUnoffered("RCPT", options ?? [], (extension) => this.hasExtn(extension));
    await this.#putcmd(rcptCommand(recipient, options ?? []));
    return this.#result(await this.#getreply("command"));
  }

  /**
   * Says DATA and, after 354, sends the message: line endings made CRLF,
   * lines starting with `.` dot-stuffed, ended by `.`, written in pieces of
   * at most 2 MiB (1 MiB of input; a small message in one write). A stream is
   * read a chunk at a time, each once the socket took the one before (see
   * {@link SMTP.sendmail} for what a failure does to it). Throws
   * `SMTPDataError` when DATA is not answered with 354 (the stream is then
   * cancelled unread), or on 421.
   */
  async data(msg: Message): Promise<SMTPReply> {
    requireMessage("data", "msg", msg);
    try {
      // RFC 3030 section 3: a BINARYMIME message goes by BDAT only.
      if (this.#binaryBody) throw new SMTPNotSupportedError("BODY=BINARYMIME needs BDAT, not DATA");
      await this.#putcmd("data");
      const [code, message] = await this.#dataStartReply();
      if (code !== 354) throw new SMTPDataError(code, message);
    } catch (error) {
      cancelMessage(msg, error);
      throw error;
    }
    const end = await this.#sendData(msg);
    if (end.code === 421) throw new SMTPDataError(end.code, end.message);
    return [end.code, end.message];
  }

  /**
   * Sends the message as BDAT chunks (RFC 3030 CHUNKING), after {@link mail}
   * and {@link rcpt}: line endings made CRLF as {@link data} sends them, no
   * dot-stuffing (after MAIL with `BODY=BINARYMIME`, the bytes as they are),
   * each chunk waiting for its 250, the last `BDAT n LAST`. Returns the last
   * reply; throws `SMTPDataError` for one that is not 250 (no more chunks
   * are sent after it; say RSET), `SMTPNotSupportedError` without CHUNKING.
   * A stream is read a chunk at a time, as {@link SMTP.data} reads it.
   */
  async bdat(msg: Message): Promise<SMTPReply> {
    requireMessage("bdat", "msg", msg);
    if (!this.hasExtn("chunking")) {
      cancelMessage(msg, "no CHUNKING");
      throw new SMTPNotSupportedError("CHUNKING extension not supported by server.");
    }
    const [code, message] = (await this.#sendChunks(msg, this.#binaryBody))!;
    if (code !== 250) throw new SMTPDataError(code, message);
    return [code, message];
  }

  /**
   * Upgrades the connection with STARTTLS (RFC 3207), checking the server's
   * certificate chain and host name. Everything learnt before, EHLO
   * included, is forgotten: say EHLO again afterwards.
   */
  async starttls(): Promise<SMTPReply> {
    await this.#greet();
    if (!this.hasExtn("starttls")) {
      throw new SMTPNotSupportedError("STARTTLS extension not supported by server.");
    }
    await this.#putcmd("STARTTLS");
    const { code, message } = await this.#getreply("command");
    if (code !== 220) throw new SMTPResponseException(code, message, "STARTTLS refused");
    if (this.#conn.buffered > 0) {
      // Bytes sent before the handshake could be read as if they came over
      // TLS (CVE-2011-0411): refuse rather than trust them.
      this.close();
      throw new SMTPException(
        "Server sent data after its 220 reply to STARTTLS, before the TLS handshake; " +
          "refusing to go on (possible command injection)",
      );
    }
    await this.#conn.startTls();
    this.#forgetEhlo();
    return [code, message];
  }

  /**
   * Logs in with AUTH, trying CRAM-MD5, PLAIN and LOGIN in that order among
   * those the server offers, as smtplib's `login()` does.
   */
  async login(user: string, password: string): Promise<SMTPReply> {
    requireString("login", "user", user);
    requireString("login", "password", password);
    await this.ehloOrHeloIfNeeded();
    if (!this.hasExtn("auth")) {
      throw new SMTPNotSupportedError("SMTP AUTH extension not supported by server.");
    }
    const advertised = this.esmtpFeatures.get("auth")!.toUpperCase().split(/\s+/);
    const usable = PREFERRED_MECHANISMS.filter((m) => advertised.includes(m));
    if (usable.length === 0) {
      throw new SMTPException("No suitable authentication method found.");
    }
    const answers = mechanisms(user, password);
    let lastError: SMTPAuthenticationError | undefined;
    for (const mechanism of usable) {
      try {
        return await this.auth(mechanism, answers[mechanism]);
      } catch (error) {
        // After a 421 the server is gone: no next mechanism.
        if (!(error instanceof SMTPAuthenticationError) || error.code === 421) throw error;
        lastError = error;
      }
    }
    throw lastError!;
  }

  /**
   * Logs in with an OAuth 2.0 access token instead of a password (see
   * `oauth.ts`): OAUTHBEARER when listed, else XOAUTH2, else an
   * `SMTPNotSupportedError`. Only under TLS unless `allowPlaintext` (a plain
   * connection is closed, nothing sent). A refused token is an
   * `SMTPAuthenticationError` with the server's status in words. The token
   * shows as `********` in the transcript and in no error.
   *
   * @example Port 465 with a token from the environment
   * ```ts
   * const smtp = await SMTP.connect("smtp.gmail.com", { tls: true });
   * await smtp.loginOAuth2("me@gmail.com", Deno.env.get("SMTP_OAUTH2_TOKEN") ?? "");
   * ```
   */
  loginOAuth2(user: string, token: string, options?: OAuth2Options): Promise<SMTPReply> {
    return loginOAuth2(this, user, token, options, (secrets) => this.#secrets.push(...secrets));
  }

  /**
   * Runs one AUTH exchange. `answer` gives the initial response (round 0,
   * or null for none) and the answer to each 334 challenge.
   */
  async auth(mechanism: string, answer: Mechanism): Promise<SMTPReply> {
    this.#requireTlsFor("AUTH");
    const initial = await answer(null, 0);
    let reply = initial === null
      ? await this.docmd("AUTH", mechanism)
      : await this.#secretCommand("AUTH", mechanism, encodeBase64(initial));
    let round = initial === null ? 0 : 1;
    while (reply[0] === 334) {
      round++;
      const challenge = decodeBase64(reply[1]);
      if (challenge === null) {
        this.close();
        throw new SMTPException(`Malformed AUTH challenge from the server: ${pyRepr(reply[1])}`);
      }
      reply = await this.#secretCommand(encodeBase64(await answer(challenge, round) ?? ""));
      if (round > MAX_CHALLENGES) {
        this.close();
        throw new SMTPException(
          `Server AUTH mechanism infinite loop. Last response: ${reply[0]} ${reply[1]}`,
        );
      }
    }
    if (reply[0] === 235 || reply[0] === 503) return reply;
    throw new SMTPAuthenticationError(reply[0], reply[1]);
  }

  /**
   * Sends one message: EHLO or HELO if not said yet, MAIL, RCPT for each
   * recipient, DATA (with `pipelining`, in one write when the server lists
   * PIPELINING). Returns the recipients the server refused (when it
   * accepted at least one); throws when the sender, all recipients or the
   * message were refused.
   *
   * The helper adds `size=` (when the server lists SIZE), `SMTPUTF8` (when
   * an address on the wire is not ASCII) and `BODY=8BITMIME` (when the
   * message is not ASCII) to `mailOptions`, each option once; one the
   * server did not offer is refused before MAIL, as {@link mail} refuses.
   *
   * With `chunking` and CHUNKING on offer the message goes as BDAT chunks
   * (see {@link bdat}); `BODY=BINARYMIME` among `mailOptions` needs them.
   *
   * `msg` may be a `ReadableStream<Uint8Array>` (a file's `readable`, a
   * `fetch` body), sent in bounded memory: each chunk is read once the
   * socket took the one before. Its size is not known, so no `size=` is
   * added: pass `SIZE=n` in `mailOptions` to declare it. It cannot be
   * scanned for 8-bit bytes in advance, so `BODY=8BITMIME` is added
   * whenever the server offers 8BITMIME. On a failure:
   * - the sender, every recipient, or DATA refused (or any error before
   *   the message): the stream is cancelled unread;
   * - the connection lost while sending: the stream is cancelled, and the
   *   error says how many of the message's bytes had been sent;
   * - the stream itself errors: the connection is closed without the final
   *   `.`, so the server discards what it got, and the stream's error is
   *   thrown.
   *
   * By BDAT (`chunking`) a stream is read the same way, a chunk of at most
   * `chunkSize` bytes at a time; its failure closes the connection before
   * the LAST chunk, so the server discards what it got.
   */
  async sendmail(
    fromAddr: string,
    toAddrs: string | string[],
    msg: Message,
    mailOptions?: string[],
    rcptOptions?: string[],
  ): Promise<Map<string, SMTPReply>> {
    requireMessage("sendmail", "msg", msg);
    try {
      return await this.#sendmail(fromAddr, toAddrs, msg, mailOptions, rcptOptions);
    } catch (error) {
      cancelMessage(msg, error); // a stream not begun yet
      throw error;
    }
  }

  /** {@link sendmail}'s work; a stream it has begun reading it cancels itself. */
  async #sendmail(
    fromAddr: string,
    toAddrs: string | string[],
    msg: Message,
    mailOptions?: string[],
    rcptOptions?: string[],
  ): Promise<Map<string, SMTPReply>> {
    requireString("sendmail", "fromAddr", fromAddr);
    if (typeof toAddrs !== "string") requireStrings("sendmail", "toAddrs", toAddrs, false);
    requireStrings("sendmail", "mailOptions", mailOptions);
    requireStrings("sendmail", "rcptOptions", rcptOptions);
    const recipients = typeof toAddrs === "string" ? [toAddrs] : toAddrs;
    // Check every address before saying anything, so a bad one sends nothing.
    const onTheWire = [fromAddr, ...recipients].map(quoteaddr);
    await this.ehloOrHeloIfNeeded();

    const stream = isStream(msg);
    const { chunked, binary } = chunking.choose(
      this.#options,
      this.hasExtn("chunking"),
      mailOptions,
    );
    const measured = chunked
      ? chunking.chunkedFacts(msg, binary)
      : (stream ? null : measureMessage(msg));
    const offers = (extension: string) => this.hasExtn(extension);
    const own = ownMailParams(
      { measured, binary, addresses: onTheWire, esmtp: this.doesEsmtp },
      offers,
    );
    const options = mergeParams(own, mailOptions ?? []);

    this.#requireTlsFor("MAIL");
    refuseUnoffered("MAIL", options, offers);
    refuseUnoffered("RCPT", rcptOptions ?? [], offers);
    const commands = [
      this.#mailCommand(fromAddr, options),
      ...recipients.map((recipient) => rcptCommand(recipient, rcptOptions ?? [])),
      ...(chunked ? [] : ["data"]),
    ];
    for (const line of commands) this.#checkCommand(line);
    const envelope = new Envelope(fromAddr, recipients, { data: !chunked });
    const pipelined = this.#options.pipelining && this.hasExtn("pipelining");
    let chunksEnd: SMTPReply | null = null;
    if (chunked && pipelined) {
      chunksEnd = await this.#sendChunks(msg, binary, { commands, envelope });
    } else if (pipelined) {
      await this.#envelopeInOneWrite(commands, envelope);
    } else {
      await this.#envelopeOneByOne(commands, envelope);
    }
    const failure = envelope.failure();
    if (failure !== null) {
      // DATA accepted after all: end it at once with no message (RFC 2920 section 3.1).
      if (envelope.dataStarted) await this.#sendData(null);
      if (!(failure instanceof SMTPDataError)) await this.#abort();
      throw failure;
    }
    const [code, message] = !chunked
      ? this.#pair(await this.#sendData(msg))
      : chunksEnd ?? (await this.#sendChunks(msg, binary))!;
    if (code !== 250) {
      await this.#abort();
      throw new SMTPDataError(code, message);
    }
    return envelope.refused;
  }

  /** Says QUIT, forgets the EHLO state and closes the connection. */
  async quit(): Promise<SMTPReply> {
    try {
      await this.#putcmd("quit");
      const { code, message } = await this.#getreply("command");
      return [code, message];
    } finally {
      this.#forgetEhlo();
      this.close();
    }
  }

  /** Closes the connection without QUIT; safe to call more than once. */
  close(): void {
    this.#conn.close();
  }

  // ---- the plumbing below: commands out, replies in ----

  /** MAIL, RCPTs and DATA one at a time, stopping where the transaction cannot go on. */
  async #envelopeOneByOne(commands: string[], envelope: Envelope): Promise<void> {
    for (const line of commands) {
      await this.#putcmd(line);
      const reply = line === "data"
        ? await this.#dataStartReply()
        : this.#pair(await this.#getreply("command"));
      if (!envelope.take(reply)) return;
    }
  }

  /**
   * MAIL, RCPTs and DATA in one write (RFC 2920), the replies read in order
   * while the write goes on, so that a server answering before it has read
   * everything cannot deadlock with us. Stops reading at a 421.
   */
  async #envelopeInOneWrite(commands: string[], envelope: Envelope): Promise<void> {
    this.#checkOpen();
    for (const line of commands) this.#debug("send:", () => pyRepr(`${line}\r\n`));
    const bytes = encoder.encode(commands.map((line) => `${line}\r\n`).join(""));
    let writeError: unknown = null;
    const writing = this.#conn.write(bytes, "command").catch((error) => {
      writeError = error;
    });
    try {
      for (let i = 0; i < commands.length && !envelope.closing; i++) {
        envelope.take(
          i === commands.length - 1
            ? await this.#dataStartReply()
            : this.#pair(await this.#getreply("command")),
        );
      }
    } catch (error) {
      await writing; // the failure closed the connection, so the write ends too
      throw writeError ?? error;
    }
    await writing;
    if (writeError !== null && !envelope.closing) throw writeError;
  }

  /** DATA's reply, shown in the transcript as smtplib's `data:` line. */
  async #dataStartReply(): Promise<SMTPReply> {
    const start = await this.#getreply("dataStart");
    this.#debug("data:", () => `(${start.code}, ${pyBytesRepr(start.messageBytes)})`);
    return [start.code, start.message];
  }

  /**
   * Writes the message encoded (after 354), or with null just the `.` line,
   * and reads the reply to its end.
   */
  async #sendData(msg: Message | null): Promise<Reply> {
    const conn = this.#conn;
    const write = (bytes: Uint8Array) => {
      this.#debug("send:", () => pyBytesRepr(bytes));
      return conn.write(bytes, "dataBlock");
    };
    if (msg === null) {
      await write(END_OF_DATA);
    } else {
      await writeMessage(msg, {
        write,
        written: () => conn.bytesWritten,
        abort: () => this.close(),
      });
    }
    const end = await this.#getreply("dataEnd");
    this.#debug("data:", () => `(${end.code}, ${pyBytesRepr(end.messageBytes)})`);
    return end;
  }

  /** The message as BDAT chunks (lib/bdat.ts), through this connection and its transcript. */
  #sendChunks(
    msg: Message,
    binary: boolean,
    pipelined?: chunking.Sending["pipelined"],
  ): Promise<SMTPReply | null> {
    const conn = this.#conn;
    const wire: chunking.ChunkWire = {
      send: async (lines, chunk) => {
        this.#checkOpen();
        for (const line of lines) this.#debug("send:", () => pyRepr(`${line}\r\n`));
        if (chunk.length > 0) this.#debug("send:", () => pyBytesRepr(chunk));
        for (const bytes of chunking.frame(lines, chunk)) await conn.write(bytes, "dataBlock");
      },
      reply: async (step) => this.#pair(await this.#getreply(step)),
      written: () => conn.bytesWritten,
      abort: () => this.close(),
    };
    return chunking.sendMessage(wire, msg, {
      binary,
      chunkSize: this.#options.chunkSize,
      pipelined,
    });
  }

  /** After a refusal: RSET, unless the server has closed (421) or goes away. */
  async #abort(): Promise<void> {
    if (this.#conn.closed) return;
    try {
      await this.rset();
    } catch (error) {
      const closing = error instanceof SMTPResponseException && error.code === 421;
      if (!(error instanceof SMTPServerDisconnected) && !closing) throw error;
    }
  }

  /** EHLO, then HELO if EHLO is refused, unless one was said already. */
  async #greet(): Promise<void> {
    if (this.heloResp !== null || this.ehloResp !== null) return;
    const [ehloCode, ehloMessage] = await this.ehlo();
    if (ehloCode >= 200 && ehloCode <= 299) return;
    if (this.#options.requireTls && !this.isTls) {
      this.#refuse(
        `the server refused EHLO (${formatReply([ehloCode, ehloMessage])}), so no STARTTLS`,
      );
    }
    const [code, message] = await this.helo();
    if (!(code >= 200 && code <= 299)) throw new SMTPHeloError(code, message);
  }

  /** With `requireTls`, refuses `command` (closing the connection) unless under TLS. */
  #requireTlsFor(command: string): void {
    if (this.#options.requireTls && !this.isTls) {
      this.#refuse(`the connection is not under TLS: refusing to send ${command}`);
    }
  }

  /** Closes the connection and throws: `requireTls` cannot be met. */
  #refuse(why: string): never {
    this.close();
    throw new SMTPNotSupportedError(
      `TLS is required (requireTls), but ${why}; the connection is closed and nothing more was sent`,
    );
  }

  /** `mail FROM:<sender> options`; SMTPUTF8 lets the commands after it hold UTF-8. */
  #mailCommand(sender: string, options: string[]): string {
    this.#binaryBody = chunking.asksForBinary(options);
    if (options.some((o) => o.toLowerCase() === "smtputf8") && this.hasExtn("smtputf8")) {
      this.#utf8Commands = true;
    }
    return `mail FROM:${quoteaddr(sender)}${optionList(options)}`;
  }

  #addAuth(mechanisms: string): void {
    const known = this.esmtpFeatures.get("auth") ?? "";
    this.esmtpFeatures.set("auth", `${known} ${mechanisms}`);
  }

  #forgetEhlo(): void {
    this.ehloResp = null;
    this.heloResp = null;
    this.esmtpFeatures = new Map();
    this.doesEsmtp = false;
  }

  /**
   * An AUTH command or an answer to a challenge: the secret part shows in
   * the transcript as `********`.
   */
  async #secretCommand(...words: string[]): Promise<SMTPReply> {
    const line = words.join(" ");
    await this.#putcmd(line, maskAuthLine(line, words.length === 1));
    return this.#pair(await this.#getreply("command"));
  }

  /** Refuses a command that holds CR or LF (or non-ASCII outside SMTPUTF8). */
  #checkCommand(line: string): void {
    if (/[\r\n]/.test(line)) {
      throw new SMTPException(
        `Refusing to send a command that holds CR or LF: ${pyRepr(line)}`,
      );
    }
    if (NON_ASCII.test(line) && !this.#utf8Commands) {
      throw new SMTPNotSupportedError(
        `Refusing to send a non-ASCII command without SMTPUTF8: ${pyRepr(line)}`,
      );
    }
  }

  /** After the server's 421, says so rather than "please run connect() first". */
  #checkOpen(): void {
    if (this.#conn.closed && this.#closedBy !== null) {
      throw new SMTPServerDisconnected(
        `The server closed the connection with ${formatReply(this.#pair(this.#closedBy))}`,
      );
    }
  }

  /** Writes `line\r\n` (checked first); `shown` replaces it in the transcript. */
  async #putcmd(line: string, shown?: string): Promise<void> {
    this.#checkCommand(line);
    this.#checkOpen();
    this.#debug("send:", () => pyRepr(`${shown ?? line}\r\n`));
    await this.#conn.write(encoder.encode(`${line}\r\n`), "command");
  }

  /**
   * Reads one reply within the step's deadline, showing it in the
   * transcript. A 421 closes the connection at once: the server is going.
   */
  async #getreply(step: Step): Promise<Reply> {
    const reply = await this.#conn.readReply(
      step,
      (line) => this.#debug("reply:", () => pyBytesRepr(line)),
    );
    this.#debug("reply:", () => `retcode (${reply.code}); Msg: ${pyBytesRepr(reply.messageBytes)}`);
    if (reply.code === 421) {
      this.#closedBy = reply;
      this.close();
    }
    return reply;
  }

  /** A reply as smtplib returns it; a 421 (the server closing) is thrown instead. */
  #result(reply: Reply): SMTPReply {
    if (reply.code === 421) {
      throw new SMTPResponseException(
        reply.code,
        reply.message,
        "The server closed the connection",
      );
    }
    return [reply.code, reply.message];
  }

  #pair(reply: Reply): SMTPReply {
    return [reply.code, reply.message];
  }

  /**
   * One transcript line in smtplib's format, `label text`. The text is made
   * only when the transcript is on: the repr of a large message costs seconds.
   */
  #debug(label: string, text: () => string): void {
    if (this.debugLevel <= 0) return;
    const output = this.#options.debugOutput ?? ((line: string) => console.error(line));
    const stamp = this.debugLevel >= 2 ? `${timeOfDay()} ` : "";
    output(maskSecrets(`${stamp}${label} ${text()}`, this.#secrets));
  }
}

/** `rcpt TO:<recipient> options`. */
function rcptCommand(recipient: string, options: string[]): string {
  return `rcpt TO:${quoteaddr(recipient)}${optionList(options)}`;
}

function optionList(options: string[]): string {
  return options.length ? " " + options.join(" ") : "";
}
