/**
 * A small SMTP client that plays the part of Python's `smtplib` for the
 * book's listings, built on `Deno.connect` and `Deno.startTls`.
 *
 * Like Go's `net/smtp` it is one client type with one method per SMTP
 * command; the names are smtplib's (`ehlo`, `hasExtn`, `esmtpFeatures`,
 * `starttls`, `login`, `sendmail`, `quit`, `setDebugLevel`) so the book's
 * page and this file can be read side by side.
 *
 * @example
 * ```ts
 * import { SMTP } from "./lib/smtp.ts";
 *
 * const connection = await SMTP.connect("localhost:2525");
 * await connection.sendmail("me@example.com", ["you@example.com"], "Subject: hi\n\nHello\n");
 * await connection.quit();
 * ```
 * @module
 */

import { decodeBase64, encodeBase64, mechanisms, PREFERRED_MECHANISMS } from "./auth.ts";
import type { Mechanism } from "./auth.ts";
import { encodeData } from "./data.ts";
import {
  NetworkError,
  SMTPAuthenticationError,
  SMTPConnectError,
  SMTPDataError,
  SMTPException,
  SMTPHeloError,
  SMTPNotSupportedError,
  SMTPRecipientsRefused,
  SMTPResponseException,
  SMTPSenderRefused,
  SMTPServerDisconnected,
} from "./errors.ts";
import type { SMTPReply } from "./errors.ts";
import { type Reply, ReplyReader } from "./reply.ts";
import { pyBytesRepr, pyRepr } from "./repr.ts";

export * from "./errors.ts";

/** The port SMTP servers listen on. */
export const SMTP_PORT = 25;

/** The port for SMTP over implicit TLS (RFC 8314 submissions, smtplib's `SMTP_SSL_PORT`). */
export const IMPLICIT_TLS_PORT = 465;

/** More 334 challenges than this in one AUTH exchange is an error. */
const MAX_CHALLENGES = 5;

/**
 * How long to wait, in milliseconds, for each step. The reply timeouts are
 * RFC 5321 section 4.5.3.2's; connecting and the TLS handshake have none
 * there, so they get a minute.
 */
export const DEFAULT_TIMEOUTS = {
  connect: 60_000,
  greeting: 300_000,
  command: 300_000,
  dataStart: 120_000,
  dataBlock: 180_000,
  dataEnd: 600_000,
  tlsHandshake: 60_000,
} as const;

/** Opens a TCP connection; tests pass a mock here. */
export type Dialer = (
  hostname: string,
  port: number,
  signal: AbortSignal,
) => Promise<Deno.TcpConn>;

/** Upgrades a connection to TLS; tests pass a mock here. */
export type TlsUpgrader = (
  conn: Deno.TcpConn,
  options: Deno.StartTlsOptions,
) => Promise<Deno.Conn>;

/** Opens a TLS connection from the first byte; tests pass a mock here. */
export type TlsDialer = (
  hostname: string,
  port: number,
  caCerts: string[] | undefined,
  signal: AbortSignal,
) => Promise<Deno.TlsConn>;

/** Options for {@link SMTP.connect}. */
export interface SMTPOptions {
  /** The name sent with EHLO and HELO; by default this end's address literal. */
  localHostname?: string;
  /** One timeout in milliseconds for every step, instead of the defaults. */
  timeout?: number;
  /** Extra CA certificates (PEM) to trust for STARTTLS. */
  caCerts?: string[];
  /** The transcript level from the start (see {@link SMTP.setDebugLevel}). */
  debugLevel?: number;
  /** Where the transcript goes, one line per call; stderr by default. */
  debugOutput?: (line: string) => void;
  /** Replaces `Deno.connect`. */
  dial?: Dialer;
  /** Replaces `Deno.startTls`. */
  startTls?: TlsUpgrader;
  /**
   * Implicit TLS from the first byte (smtplib's `SMTP_SSL`): `Deno.connectTls`,
   * chain and host name checked, `caCerts` honoured; port 465 when the server
   * string names none.
   */
  tls?: boolean;
  /**
   * TLS or nothing (RFC 3207 section 4): before any AUTH or MAIL the session
   * must be under TLS. `ehloOrHeloIfNeeded()` upgrades by itself (EHLO,
   * STARTTLS, EHLO); if STARTTLS is not offered or the upgrade fails, the
   * connection is closed and nothing more is sent. `mail()` and `auth()`
   * refuse on a plain connection.
   */
  requireTls?: boolean;
  /**
   * RFC 2920: when the server lists PIPELINING, `sendmail` writes MAIL, every
   * RCPT and DATA in one write, then reads the replies in order.
   */
  pipelining?: boolean;
  /** Replaces `Deno.connectTls` for `tls: true`. */
  dialTls?: TlsDialer;
}

type Step = keyof typeof DEFAULT_TIMEOUTS;

const encoder = new TextEncoder();

/**
 * Splits `host`, `host:port` or `[v6address]:port` into host name and port,
 * as smtplib does (a bare IPv6 address with several colons is a host).
 */
export function parseServer(server: string): { host: string; port: number } {
  let host = server;
  let port = String(SMTP_PORT);
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(server);
  if (bracketed) {
    host = bracketed[1];
    port = bracketed[2] ?? port;
  } else if (server.indexOf(":") === server.lastIndexOf(":") && server.includes(":")) {
    [host, port] = server.split(":");
  }
  const number = Number(port);
  if (!/^\d+$/.test(port) || number < 1 || number > 65535) {
    throw new NetworkError(`invalid port in server address ${pyRepr(server)}`);
  }
  if (host === "") throw new NetworkError(`no host in server address ${pyRepr(server)}`);
  return { host, port: number };
}

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

// deno-lint-ignore no-control-regex
const NON_ASCII = /[^\x00-\x7f]/;

/** An SMTP client connection, in the manner of smtplib's `SMTP` class. */
export class SMTP {
  /** The host name given to {@link SMTP.connect}, used to check TLS certificates. */
  readonly host: string;
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

  #conn: Deno.Conn | null;
  #reader: ReplyReader;
  #options: SMTPOptions;
  #utf8Commands = false;
  #tls = false;

  private constructor(
    conn: Deno.Conn,
    host: string,
    options: SMTPOptions,
  ) {
    this.#conn = conn;
    this.#reader = this.#readerFor(conn);
    this.host = host;
    this.#options = options;
    this.debugLevel = options.debugLevel ?? 0;
    this.localHostname = options.localHostname ?? addressLiteral(conn.localAddr);
  }

  /**
   * Connects to `server` (`host`, `host:port` or `[v6address]:port`; port 25
   * by default) and reads the greeting, which must be 220.
   */
  static async connect(server: string, options: SMTPOptions = {}): Promise<SMTP> {
    const { host, port } = parseServer(server);
    const timeout = options.timeout ?? DEFAULT_TIMEOUTS.connect;
    const dial: Dialer = options.dial ??
      ((hostname, port, signal) => Deno.connect({ hostname, port, signal }));
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeout);
    let conn: Deno.TcpConn;
    try {
      conn = await dial(host, port, controller.signal);
    } catch (error) {
      const why = controller.signal.aborted
        ? `timed out after ${seconds(timeout)}`
        : messageOf(error);
      throw new NetworkError(`Could not connect to ${server}: ${why}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
    // The payload goes in one write; QUIT right after it must not wait on Nagle.
    conn.setNoDelay(true);

    const connection = new SMTP(conn, host, options);
    connection.#debug("connect:", () => `(${pyRepr(host)}, ${port})`);
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
    return this.#tls;
  }

  /** Sets the transcript level: 0 off, 1 each line on stderr, 2 with time stamps. */
  setDebugLevel(level: number): void {
    this.debugLevel = level;
  }

  /** Sends a command and returns the reply, like smtplib's `docmd()`. */
  async docmd(cmd: string, args = ""): Promise<SMTPReply> {
    await this.#putcmd(cmd, args);
    const { code, message } = await this.#getreply("command");
    return [code, message];
  }

  /** Says EHLO and records the extensions the server lists. */
  async ehlo(name = ""): Promise<SMTPReply> {
    this.esmtpFeatures = new Map();
    await this.#putcmd("ehlo", name || this.localHostname);
    const { code, message } = await this.#getreply("command");
    this.ehloResp = message;
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
    await this.#putcmd("helo", name || this.localHostname);
    const { code, message } = await this.#getreply("command");
    this.heloResp = message;
    return [code, message];
  }

  /** Says EHLO, then HELO if EHLO is refused, unless one was said already. */
  async ehloOrHeloIfNeeded(): Promise<void> {
    if (this.heloResp !== null || this.ehloResp !== null) return;
    const [ehloCode] = await this.ehlo();
    if (ehloCode >= 200 && ehloCode <= 299) return;
    const [code, message] = await this.helo();
    if (!(code >= 200 && code <= 299)) throw new SMTPHeloError(code, message);
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

  /** Says `MAIL FROM:<sender>` with any ESMTP options. */
  async mail(sender: string, options: string[] = []): Promise<SMTPReply> {
    if (options.some((o) => o.toLowerCase() === "smtputf8") && this.hasExtn("smtputf8")) {
      this.#utf8Commands = true;
    }
    await this.#putcmd("mail", `FROM:${quoteaddr(sender)}${optionList(options)}`);
    const { code, message } = await this.#getreply("command");
    return [code, message];
  }

  /** Says `RCPT TO:<recipient>` with any ESMTP options. */
  async rcpt(recipient: string, options: string[] = []): Promise<SMTPReply> {
    await this.#putcmd("rcpt", `TO:${quoteaddr(recipient)}${optionList(options)}`);
    const { code, message } = await this.#getreply("command");
    return [code, message];
  }

  /**
   * Says DATA and, after 354, sends the message: line endings made CRLF,
   * lines starting with `.` dot-stuffed, ended by `.`, all in one write.
   * Throws `SMTPDataError` when DATA is not answered with 354.
   */
  data(msg: string | Uint8Array): Promise<SMTPReply> {
    return this.#data(encodeData(msg).payload);
  }

  async #data(payload: Uint8Array): Promise<SMTPReply> {
    await this.#putcmd("data");
    const start = await this.#getreply("dataStart");
    this.#debug("data:", () => `(${start.code}, ${pyBytesRepr(start.messageBytes)})`);
    if (start.code !== 354) {
      if (start.code === 421) this.close();
      throw new SMTPDataError(start.code, start.message);
    }
    this.#debug("send:", () => pyBytesRepr(payload));
    await this.#write(payload, "dataBlock");
    const end = await this.#getreply("dataEnd");
    this.#debug("data:", () => `(${end.code}, ${pyBytesRepr(end.messageBytes)})`);
    return [end.code, end.message];
  }

  /**
   * Upgrades the connection with STARTTLS (RFC 3207), checking the server's
   * certificate chain and host name. Everything learnt before, EHLO
   * included, is forgotten: say EHLO again afterwards.
   */
  async starttls(): Promise<SMTPReply> {
    await this.ehloOrHeloIfNeeded();
    if (!this.hasExtn("starttls")) {
      throw new SMTPNotSupportedError("STARTTLS extension not supported by server.");
    }
    const [code, message] = await this.docmd("STARTTLS");
    if (code !== 220) {
      if (code === 421) this.close();
      throw new SMTPResponseException(code, message, "STARTTLS refused");
    }
    if (this.#reader.buffered > 0) {
      // Bytes sent before the handshake could be read as if they came over
      // TLS (CVE-2011-0411): refuse rather than trust them.
      this.close();
      throw new SMTPException(
        "Server sent data after its 220 reply to STARTTLS, before the TLS handshake; " +
          "refusing to go on (possible command injection)",
      );
    }
    const conn = this.#connection() as Deno.TcpConn;
    const upgrade: TlsUpgrader = this.#options.startTls ?? Deno.startTls;
    // Until the upgrade resolves, a timeout or failure closes the plain connection.
    const tlsConn = await this.#withDeadline(
      "tlsHandshake",
      "during the TLS handshake",
      async () => {
        try {
          const tls = await upgrade(conn, { hostname: this.host, caCerts: this.#options.caCerts });
          this.#conn = tls; // the plain connection now belongs to TLS
          if ("handshake" in tls && typeof tls.handshake === "function") await tls.handshake();
          return tls;
        } catch (error) {
          this.close();
          throw new NetworkError(`TLS handshake with ${this.host} failed: ${messageOf(error)}`, {
            cause: error,
          });
        }
      },
    );
    this.#reader = this.#readerFor(tlsConn);
    this.#tls = true;
    this.#forgetEhlo();
    return [code, message];
  }

  /**
   * Logs in with AUTH, trying CRAM-MD5, PLAIN and LOGIN in that order among
   * those the server offers, as smtplib's `login()` does.
   */
  async login(user: string, password: string): Promise<SMTPReply> {
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
        if (!(error instanceof SMTPAuthenticationError)) throw error;
        lastError = error;
      }
    }
    throw lastError!;
  }

  /**
   * Runs one AUTH exchange. `answer` gives the initial response (round 0,
   * or null for none) and the answer to each 334 challenge.
   */
  async auth(mechanism: string, answer: Mechanism): Promise<SMTPReply> {
    const initial = answer(null, 0);
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
      reply = await this.#secretCommand(encodeBase64(answer(challenge, round) ?? ""));
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
   * recipient, DATA. Returns the recipients the server refused (when it
   * accepted at least one); throws when the sender, all recipients or the
   * message were refused.
   */
  async sendmail(
    fromAddr: string,
    toAddrs: string | string[],
    msg: string | Uint8Array,
    mailOptions: string[] = [],
    rcptOptions: string[] = [],
  ): Promise<Map<string, SMTPReply>> {
    const recipients = typeof toAddrs === "string" ? [toAddrs] : toAddrs;
    // Check every address before saying anything, so a bad one sends nothing.
    for (const address of [fromAddr, ...recipients]) quoteaddr(address);
    await this.ehloOrHeloIfNeeded();

    const encoded = encodeData(msg);
    const options: string[] = [];
    if (this.doesEsmtp && this.hasExtn("size")) options.push(`size=${encoded.size}`);
    options.push(...mailOptions);
    const international = [fromAddr, ...recipients].find((a) => NON_ASCII.test(a));
    if (international !== undefined) {
      if (!this.hasExtn("smtputf8")) {
        throw new SMTPNotSupportedError(
          `The address ${
            pyRepr(international)
          } is not ASCII and the server does not offer SMTPUTF8`,
        );
      }
      options.push("SMTPUTF8");
    }
    if (encoded.eightBit) {
      if (!this.hasExtn("8bitmime")) {
        throw new SMTPNotSupportedError(
          "The message is not ASCII and the server does not offer 8BITMIME",
        );
      }
      options.push("BODY=8BITMIME");
    }

    const [mailCode, mailMessage] = await this.mail(fromAddr, options);
    if (mailCode !== 250) {
      await this.#abort(mailCode);
      throw new SMTPSenderRefused(mailCode, mailMessage, fromAddr);
    }
    const refused = new Map<string, SMTPReply>();
    for (const recipient of recipients) {
      const reply = await this.rcpt(recipient, rcptOptions);
      if (reply[0] !== 250 && reply[0] !== 251) refused.set(recipient, reply);
      if (reply[0] === 421) {
        this.close();
        throw new SMTPRecipientsRefused(refused);
      }
    }
    if (refused.size === recipients.length) {
      await this.#abort(0);
      throw new SMTPRecipientsRefused(refused);
    }
    const [dataCode, dataMessage] = await this.#data(encoded.payload);
    if (dataCode !== 250) {
      await this.#abort(dataCode);
      throw new SMTPDataError(dataCode, dataMessage);
    }
    return refused;
  }

  /** Says QUIT, forgets the EHLO state and closes the connection. */
  async quit(): Promise<SMTPReply> {
    try {
      return await this.docmd("quit");
    } finally {
      this.#forgetEhlo();
      this.close();
    }
  }

  /** Closes the connection without QUIT; safe to call more than once. */
  close(): void {
    const conn = this.#conn;
    this.#conn = null;
    try {
      conn?.close();
    } catch {
      // Already closed by the other side or by a timeout.
    }
  }

  // ---- the plumbing below: commands out, replies in, with deadlines ----

  /** After a refusal: close on 421, else RSET (ignoring a lost connection). */
  async #abort(code: number): Promise<void> {
    if (code === 421) {
      this.close();
      return;
    }
    try {
      await this.rset();
    } catch (error) {
      if (!(error instanceof SMTPServerDisconnected)) throw error;
    }
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
    const secret = words.length - 1;
    const shown = words.map((word, i) => i === secret ? "********" : word).join(" ");
    await this.#putcmd(words.join(" "), "", shown);
    const { code, message } = await this.#getreply("command");
    return [code, message];
  }

  /** Writes `cmd args\r\n`, refusing CR or LF (and non-ASCII outside SMTPUTF8). */
  async #putcmd(cmd: string, args = "", shown?: string): Promise<void> {
    const line = args === "" ? cmd : `${cmd} ${args}`;
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
    this.#debug("send:", () => pyRepr(`${shown ?? line}\r\n`));
    await this.#write(encoder.encode(`${line}\r\n`), "command");
  }

  /** Reads one reply within the step's deadline, showing it in the transcript. */
  async #getreply(step: Step): Promise<Reply> {
    const reply = await this.#withDeadline(
      step,
      "waiting for the server's reply",
      () =>
        this.#reader.readReply((line) => this.#debug("reply:", () => pyBytesRepr(line))).catch(
          (error) => {
            this.close();
            throw error;
          },
        ),
    );
    this.#debug("reply:", () => `retcode (${reply.code}); Msg: ${pyBytesRepr(reply.messageBytes)}`);
    return reply;
  }

  /** Writes all of `bytes` within the step's deadline. */
  async #write(bytes: Uint8Array, step: Step): Promise<void> {
    const conn = this.#connection();
    await this.#withDeadline(step, "sending to the server", async () => {
      try {
        for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
      } catch (error) {
        this.close();
        throw new SMTPServerDisconnected(`Connection lost while sending: ${messageOf(error)}`);
      }
    });
  }

  /** Runs `work`, closing the connection if it takes longer than `step` allows. */
  async #withDeadline<T>(step: Step, what: string, work: () => Promise<T>): Promise<T> {
    const ms = this.#options.timeout ?? DEFAULT_TIMEOUTS[step];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.close();
    }, ms);
    try {
      return await work();
    } catch (error) {
      if (timedOut) {
        throw new NetworkError(`Timed out after ${seconds(ms)} ${what}`, { cause: error });
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  #readerFor(conn: Deno.Conn): ReplyReader {
    return new ReplyReader({
      read: async (buffer) => {
        try {
          return await conn.read(buffer);
        } catch (error) {
          throw new SMTPServerDisconnected(`Connection unexpectedly closed: ${messageOf(error)}`);
        }
      },
    });
  }

  #connection(): Deno.Conn {
    if (this.#conn === null) throw new SMTPServerDisconnected("please run connect() first");
    return this.#conn;
  }

  /**
   * One transcript line in smtplib's format, `label text`. The text is made
   * only when the transcript is on: the repr of a large message costs seconds.
   */
  #debug(label: string, text: () => string): void {
    if (this.debugLevel <= 0) return;
    const output = this.#options.debugOutput ?? ((line: string) => console.error(line));
    const stamp = this.debugLevel >= 2 ? `${timeOfDay()} ` : "";
    output(`${stamp}${label} ${text()}`);
  }
}

/** `[127.0.0.1]` or `[IPv6:::1]`: this end's address, for EHLO. */
function addressLiteral(addr: Deno.Addr): string {
  if (addr.transport !== "tcp" && addr.transport !== "udp") return "[127.0.0.1]";
  return addr.hostname.includes(":") ? `[IPv6:${addr.hostname}]` : `[${addr.hostname}]`;
}

function optionList(options: string[]): string {
  return options.length ? " " + options.join(" ") : "";
}

function seconds(ms: number): string {
  return `${ms / 1000} s`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Python's `datetime.now().time()`: `13:45:07.123456`. */
function timeOfDay(): string {
  const now = performance.timeOrigin + performance.now();
  const date = new Date(now);
  const micros = Math.floor((now % 1000) * 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${
    pad(micros, 6)
  }`;
}
