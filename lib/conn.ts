/**
 * The connection under an SMTP session: dialling (plain TCP, or TLS from the
 * first byte), the STARTTLS upgrade, reading replies and writing bytes, each
 * within its step's deadline.
 *
 * This is the only file that knows how the connection was made; the SMTP
 * client above it reads replies and writes commands the same way on either.
 *
 * @example
 * ```ts
 * const conn = await Connection.open("localhost:2525", {});
 * const greeting = await conn.readReply("greeting");
 * conn.close();
 * ```
 * @module
 */

import { NetworkError, SMTPServerDisconnected } from "./errors.ts";
import { type Reply, ReplyReader } from "./reply.ts";
import { pyRepr } from "./repr.ts";

/** The port SMTP servers listen on. */
export const SMTP_PORT = 25;

/** The port for SMTP over implicit TLS (RFC 8314; smtplib's `SMTP_SSL_PORT`). */
export const IMPLICIT_TLS_PORT = 465;

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

/** A step of the session, each with its own deadline. */
export type Step = keyof typeof DEFAULT_TIMEOUTS;

/**
 * The longest timer the runtime keeps (2^31-1 ms, about 24.8 days): a longer
 * timeout is clamped to it rather than overflowing into a 1 ms timer.
 */
export const MAX_TIMEOUT = 2 ** 31 - 1;

/** Opens a TCP connection; tests pass a mock here. */
export type Dialer = (
  hostname: string,
  port: number,
  signal: AbortSignal,
) => Promise<Deno.TcpConn>;

/** Opens a TLS connection from the first byte; tests pass a mock here. */
export type TlsDialer = (
  hostname: string,
  port: number,
  caCerts: string[] | undefined,
  signal: AbortSignal,
) => Promise<Deno.TlsConn>;

/** Upgrades a connection to TLS; tests pass a mock here. */
export type TlsUpgrader = (
  conn: Deno.TcpConn,
  options: Deno.StartTlsOptions,
) => Promise<Deno.Conn>;

/** How to make the connection, and how long each step may take. */
export interface ConnectionOptions {
  /** One timeout in milliseconds for every step, instead of the defaults. */
  timeout?: number;
  /** Extra CA certificates (PEM) to trust for TLS. */
  caCerts?: string[];
  /** TLS from the first byte instead of plain TCP. */
  tls?: boolean;
  /** Replaces `Deno.connect`. */
  dial?: Dialer;
  /** Replaces the TLS dial (`Deno.connect` then `Deno.startTls`). */
  dialTls?: TlsDialer;
  /** Replaces `Deno.startTls`. */
  startTls?: TlsUpgrader;
}

/**
 * Splits `host`, `host:port` or `[v6address]:port` into host name and port,
 * as smtplib does (a bare IPv6 address with several colons is a host).
 * `defaultPort` is used when the string names none.
 */
export function parseServer(
  server: string,
  defaultPort: number = SMTP_PORT,
): { host: string; port: number } {
  let host = server;
  let port = String(defaultPort);
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

/** `host:port`, or `[v6address]:port`: a server as error messages (and the listings) write it. */
export function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** `[127.0.0.1]` or `[IPv6:::1]`: this end's address, for EHLO. */
export function addressLiteral(addr: Deno.Addr): string {
  if (addr.transport !== "tcp" && addr.transport !== "udp") return "[127.0.0.1]";
  return addr.hostname.includes(":") ? `[IPv6:${addr.hostname}]` : `[${addr.hostname}]`;
}

/** The timeout of `step` in milliseconds, clamped to what the runtime's timers allow. */
export function timeoutOf(step: Step, timeout?: number): number {
  const ms = timeout ?? DEFAULT_TIMEOUTS[step];
  if (Number.isNaN(ms)) return DEFAULT_TIMEOUTS[step];
  return Math.min(Math.max(ms, 0), MAX_TIMEOUT);
}

/** A connection to an SMTP server: replies in, bytes out, each step with a deadline. */
export class Connection {
  /** The host name dialled, used to check TLS certificates. */
  readonly host: string;
  /** The port dialled. */
  readonly port: number;
  #conn: Deno.Conn | null;
  #reader: ReplyReader;
  #options: ConnectionOptions;
  #tls: boolean;
  #written = 0;

  private constructor(
    conn: Deno.Conn,
    host: string,
    port: number,
    tls: boolean,
    options: ConnectionOptions,
  ) {
    this.#conn = conn;
    this.#reader = readerFor(conn);
    this.host = host;
    this.port = port;
    this.#tls = tls;
    this.#options = options;
  }

  /**
   * Dials `server` (`host`, `host:port` or `[v6address]:port`; port 25, or
   * 465 with `options.tls`), over TLS with `options.tls`: the handshake done
   * and the certificate's chain and host name checked.
   */
  static async open(server: string, options: ConnectionOptions): Promise<Connection> {
    const { host, port } = parseServer(server, options.tls ? IMPLICIT_TLS_PORT : SMTP_PORT);
    const ms = timeoutOf("connect", options.timeout);
    const controller = new AbortController();
    const timer = deadline(ms, () => controller.abort());
    const dialled = options.tls
      ? (options.dialTls ?? dialTls)(host, port, options.caCerts, controller.signal)
      : (options.dial ?? dial)(host, port, controller.signal);
    let conn: Deno.Conn;
    try {
      // A dialler that ignores the signal: a connection that comes too late is closed.
      conn = await Promise.race([dialled, aborted(controller.signal)]);
    } catch (error) {
      dialled.then((late) => closeQuietly(late), () => {});
      const why = controller.signal.aborted ? `timed out after ${seconds(ms)}` : messageOf(error);
      throw new NetworkError(`Could not connect to ${hostPort(host, port)}: ${why}`, {
        cause: error,
      });
    } finally {
      timer.cancel();
    }
    const connection = new Connection(conn, host, port, options.tls ?? false, options);
    if (options.tls) await connection.#handshake(conn as Deno.TlsConn);
    else (conn as Deno.TcpConn).setNoDelay(true); // QUIT after the payload must not wait on Nagle
    return connection;
  }

  /** True once the connection is under TLS (from the first byte, or after STARTTLS). */
  get isTls(): boolean {
    return this.#tls;
  }

  /** True once the connection is closed, by either side or by a deadline. */
  get closed(): boolean {
    return this.#conn === null;
  }

  /** This end's address (for the EHLO address literal). */
  get localAddr(): Deno.Addr {
    return this.#open().localAddr;
  }

  /** How many bytes the socket has taken since the connection was made. */
  get bytesWritten(): number {
    return this.#written;
  }

  /** How many bytes have been received but not yet read as a reply. */
  get buffered(): number {
    return this.#reader.buffered;
  }

  /**
   * Reads one reply within `step`'s deadline; `onLine` sees each raw line.
   * Any failure closes the connection. For the greeting, TLS bytes where
   * the reply should be (a server that expects TLS from the first byte)
   * are an `SMTPServerDisconnected` that says "this looks like TLS".
   */
  readReply(step: Step, onLine?: (line: Uint8Array) => void): Promise<Reply> {
    return this.#withDeadline(step, waitingFor(step), async () => {
      try {
        if (step === "greeting") looksLikeTls(await this.#reader.peek(2));
        return await this.#reader.readReply(onLine);
      } catch (error) {
        this.close();
        throw error;
      }
    });
  }

  /** Writes all of `bytes` within `step`'s deadline; a failure closes the connection. */
  async write(bytes: Uint8Array, step: Step): Promise<void> {
    const conn = this.#open();
    await this.#withDeadline(step, "sending to the server", async () => {
      try {
        for (let at = 0; at < bytes.length;) {
          const n = await conn.write(bytes.subarray(at));
          at += n;
          this.#written += n;
        }
      } catch (error) {
        this.close();
        throw new SMTPServerDisconnected(`Connection lost while sending: ${messageOf(error)}`);
      }
    });
  }

  /**
   * Upgrades to TLS (after the server's 220 to STARTTLS), checking the
   * certificate's chain and host name. A failure closes the connection.
   */
  async startTls(): Promise<void> {
    const conn = this.#open() as Deno.TcpConn;
    const upgrade: TlsUpgrader = this.#options.startTls ?? Deno.startTls;
    let tls: Deno.Conn;
    try {
      tls = await this.#withDeadline(
        "tlsHandshake",
        "during the TLS handshake",
        () => upgrade(conn, { hostname: this.host, caCerts: this.#options.caCerts }),
      );
    } catch (error) {
      // Deno.startTls has taken the plain connection over; close what is left.
      this.close();
      throw this.#handshakeError(error);
    }
    this.#conn = tls;
    this.#reader = readerFor(tls);
    this.#tls = true;
    if ("handshake" in tls && typeof tls.handshake === "function") {
      await this.#handshake(tls as Deno.TlsConn);
    }
  }

  /** Closes the connection; safe to call more than once. */
  close(): void {
    const conn = this.#conn;
    this.#conn = null;
    closeQuietly(conn);
  }

  /** Completes the TLS handshake within its deadline, or closes and throws a NetworkError. */
  async #handshake(conn: Deno.TlsConn): Promise<void> {
    try {
      await this.#withDeadline("tlsHandshake", "during the TLS handshake", () => conn.handshake());
    } catch (error) {
      this.close();
      throw this.#handshakeError(error);
    }
  }

  #handshakeError(error: unknown): Error {
    if (error instanceof NetworkError) return error; // the deadline's own
    return new NetworkError(
      `TLS handshake with ${hostPort(this.host, this.port)} failed: ${messageOf(error)}`,
      {
        cause: error,
      },
    );
  }

  /**
   * Runs `work`, closing the connection if it takes longer than `step`
   * allows. The timeout is thrown at once, whether or not the work notices
   * the close, so no step can hang.
   */
  async #withDeadline<T>(step: Step, what: string, work: () => Promise<T>): Promise<T> {
    const ms = timeoutOf(step, this.#options.timeout);
    let timer: Deadline | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = deadline(ms, () => {
        reject(new NetworkError(`Timed out after ${seconds(ms)} ${what}`));
        this.close();
      });
    });
    const working = work();
    working.catch(() => {}); // a failure after the timeout is the timeout's
    try {
      return await Promise.race([working, expired]);
    } finally {
      timer?.cancel();
    }
  }

  #open(): Deno.Conn {
    if (this.#conn === null) throw new SMTPServerDisconnected("please run connect() first");
    return this.#conn;
  }
}

/** The default {@link Dialer}: `Deno.connect`, abortable. */
export function dial(hostname: string, port: number, signal: AbortSignal): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname, port, signal });
}

/**
 * TLS from the first byte, as `Deno.connectTls` does, but over a TCP
 * connection that `signal` can abort: `Deno.connectTls` takes no signal, and
 * its pending connect (a DNS lookup or SYN that never answers) would keep
 * the program alive after the timeout. The handshake follows at once,
 * under its own deadline. The default {@link TlsDialer}.
 */
export async function dialTls(
  hostname: string,
  port: number,
  caCerts: string[] | undefined,
  signal: AbortSignal,
): Promise<Deno.TlsConn> {
  const tcp = await Deno.connect({ hostname, port, signal });
  tcp.setNoDelay(true);
  return Deno.startTls(tcp, { hostname, caCerts });
}

/** A timer that can be cancelled. */
interface Deadline {
  /** Stops the timer; its callback will not run. */
  cancel(): void;
}

/**
 * Runs `onExpiry` after `ms` unless cancelled first. Built on
 * `AbortSignal.timeout` rather than `setTimeout`: a program's first
 * `setTimeout` costs Deno about 12 ms of start-up, the signal well under 1 ms.
 * The listener holds the timer; removing it lets the program exit at once.
 */
function deadline(ms: number, onExpiry: () => void): Deadline {
  const signal = AbortSignal.timeout(ms);
  signal.addEventListener("abort", onExpiry, { once: true });
  return { cancel: () => signal.removeEventListener("abort", onExpiry) };
}

/** A promise that rejects when `signal` aborts. */
function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

function readerFor(conn: Deno.Conn): ReplyReader {
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

function closeQuietly(conn: Deno.Conn | null): void {
  try {
    conn?.close();
  } catch {
    // Already closed by the other side or by a timeout.
  }
}

/** Throws when `head` starts like a TLS record (handshake 0x16 or alert 0x15, version 3.x). */
function looksLikeTls(head: Uint8Array): void {
  if ((head[0] === 0x15 || head[0] === 0x16) && head[1] === 0x03) {
    throw new SMTPServerDisconnected(
      `The server sent a TLS record (0x${head[0].toString(16)} 0x03) where its SMTP greeting ` +
        "should be: this looks like TLS from the first byte (implicit TLS)",
    );
  }
}

function waitingFor(step: Step): string {
  return step === "greeting"
    ? "waiting for the server's greeting"
    : "waiting for the server's reply";
}

/** `0.05 s`: a timeout as the error messages show it. */
export function seconds(ms: number): string {
  return `${ms / 1000} s`;
}

/** The message of an error, or the thing thrown as text. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
