/**
 * A scriptable hostile SMTP server for fault-injection tests.
 *
 * It listens on 127.0.0.1 (port 0) and runs a script for each connection.
 * The script decides every byte: it can send anything, split a reply into
 * many writes or glue several into one, wait, stall, close, reset, and
 * upgrade to TLS with any certificate. Everything the client sends is
 * recorded, so a test can check that nothing went out after a failure.
 *
 * @example
 * ```ts
 * await using server = startServer(async (s) => {
 *   await s.send("554 go away\r\n");
 * });
 * // ... run a client against server.port ...
 * const [session] = await server.finished();
 * session.receivedText(); // "" : the client sent nothing back
 * ```
 * @module
 */

import net from "node:net";
import type { KeyPair } from "./certs.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** How long a session waits for the client before giving up on it. */
const CLIENT_PATIENCE_MS = 15_000;

/** What a script does with one connection. */
export type Script = (session: Session) => Promise<void>;

/** Thrown inside a script when the client closed or the wait ran out. */
export class ClientGone extends Error {
  override name = "ClientGone";
}

/** One client connection and what it sent. */
export class Session {
  #conn: Deno.Conn;
  #unread: Uint8Array = new Uint8Array(0);
  #received: Uint8Array[] = [];
  #closed = false;
  /** Raw bytes the client sent after STARTTLS began (TLS records). */
  rawAfterTls: Uint8Array[] = [];
  /** The TLS handshake's error on the server's side, if it failed. */
  tlsError: Error | null = null;
  #cleanups: (() => void)[] = [];

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Everything the client sent, decrypted after STARTTLS, as one string. */
  receivedText(): string {
    return decoder.decode(concat(this.#received));
  }

  /** The lines the client sent (CRLF removed). A partial last line is kept. */
  receivedLines(): string[] {
    const text = this.receivedText();
    if (text === "") return [];
    const lines = text.split("\r\n");
    if (lines.at(-1) === "") lines.pop();
    return lines;
  }

  /**
   * Sends `data` in one write, or split: `pieces` writes of about equal
   * size (use the byte length for one byte per write), `gapMs` apart.
   */
  async send(data: string | Uint8Array, pieces = 1, gapMs = 1): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    const size = Math.max(1, Math.ceil(bytes.length / pieces));
    for (let at = 0; at < bytes.length; at += size) {
      if (at > 0 && gapMs > 0) await delay(gapMs);
      await writeAll(this.#conn, bytes.subarray(at, at + size));
    }
  }

  /** Reads the client's next line (without CRLF). Throws ClientGone at EOF. */
  async readLine(): Promise<string> {
    while (true) {
      const lf = this.#unread.indexOf(0x0a);
      if (lf >= 0) {
        const line = this.#unread.subarray(0, lf + 1);
        this.#unread = this.#unread.slice(lf + 1);
        return decoder.decode(line).replace(/\r?\n$/, "");
      }
      const chunk = await this.#readChunk();
      if (chunk === null) throw new ClientGone("client closed the connection");
      this.#unread = concat([this.#unread, chunk]);
    }
  }

  /** Reads a line and checks that it matches `pattern`; returns it. */
  async expect(pattern: RegExp): Promise<string> {
    const line = await this.readLine();
    if (!pattern.test(line)) throw new Error(`expected ${pattern}, client sent ${line}`);
    return line;
  }

  /** Reads a line and answers it with `reply`. */
  async answer(pattern: RegExp, reply: string): Promise<void> {
    await this.expect(pattern);
    await this.send(reply);
  }

  /** Reads the DATA payload up to and including the `.` line. */
  async readData(): Promise<string> {
    const lines: string[] = [];
    while (true) {
      const line = await this.readLine();
      if (line === ".") return lines.join("\r\n");
      lines.push(line);
    }
  }

  /** Says nothing more; keeps recording until the client closes. */
  async stall(): Promise<void> {
    while (await this.#readChunk() !== null) { /* recorded by #readChunk */ }
  }

  /**
   * Never answers the TLS handshake the client starts after STARTTLS: its
   * bytes go to `rawAfterTls`, not to the lines it sent, until it closes.
   */
  async ignoreTls(): Promise<void> {
    const buffer = new Uint8Array(65536);
    while (true) {
      let n: number | null;
      try {
        n = await withTimeout(this.#conn.read(buffer), CLIENT_PATIENCE_MS);
      } catch {
        n = null;
      }
      if (n === null) return;
      this.rawAfterTls.push(buffer.slice(0, n));
    }
  }

  /** Closes the connection cleanly (FIN). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const cleanup of this.#cleanups) cleanup();
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  /**
   * Answers STARTTLS's 220 (already sent) by taking the server's half of a
   * TLS handshake with `keys`. Deno cannot start TLS on an accepted socket,
   * so the raw bytes are relayed to a TLS listener of our own and the script
   * goes on over the connection that listener accepts. Returns false (and
   * sets `tlsError`) when the handshake fails.
   */
  async startTls(keys: KeyPair): Promise<boolean> {
    const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...keys });
    const port = (listener.addr as Deno.NetAddr).port;
    const [relay, tls] = await Promise.all([
      Deno.connect({ hostname: "127.0.0.1", port }),
      listener.accept(),
    ]);
    listener.close();
    const raw = this.#conn;
    if (this.#unread.length) await writeAll(relay, this.#unread);
    this.#unread = new Uint8Array(0);
    this.#cleanups.push(() => {
      for (const c of [relay, raw]) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
    });
    // Client to TLS listener, recording the raw bytes; and back.
    pump(raw, relay, (chunk) => this.rawAfterTls.push(chunk.slice()));
    pump(relay, raw, () => {});
    this.#conn = tls;
    try {
      await withTimeout(tls.handshake(), CLIENT_PATIENCE_MS);
      return true;
    } catch (error) {
      this.tlsError = error as Error;
      return false;
    }
  }

  async #readChunk(): Promise<Uint8Array | null> {
    if (this.#closed) return null;
    const buffer = new Uint8Array(65536);
    let n: number | null;
    try {
      n = await withTimeout(this.#conn.read(buffer), CLIENT_PATIENCE_MS);
    } catch {
      n = null; // reset by the client, or the wait ran out
    }
    if (n === null) return null;
    const chunk = buffer.slice(0, n);
    this.#received.push(chunk);
    return chunk;
  }
}

/** A running hostile server. */
export interface HostileServer extends AsyncDisposable {
  /** The port it listens on, on 127.0.0.1. */
  port: number;
  /** `127.0.0.1:PORT`, as the scripts take it. */
  address: string;
  /**
   * Stops accepting, waits for each session's script to end and for its
   * client to close, and returns the sessions in order.
   */
  finished(): Promise<Session[]>;
  /** Errors thrown by scripts (other than ClientGone). */
  errors: Error[];
}

/**
 * Starts a server on 127.0.0.1, port 0, running `script` for each
 * connection. After the script returns, the session keeps recording what
 * the client sends until the client closes (or 15 s pass), then closes.
 * With `tls`, it speaks TLS from the first byte (implicit TLS, as on port
 * 465) with that certificate; a failed handshake ends the session.
 */
export function startServer(script: Script, options: { tls?: KeyPair } = {}): HostileServer {
  const listener = options.tls
    ? Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...options.tls })
    : Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const sessions: Session[] = [];
  const running: Promise<void>[] = [];
  const errors: Error[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      const session = new Session(conn);
      sessions.push(session);
      running.push((async () => {
        try {
          if ("handshake" in conn) {
            try {
              await withTimeout(conn.handshake(), CLIENT_PATIENCE_MS);
            } catch (error) {
              session.tlsError = error as Error;
              return;
            }
          }
          await script(session);
          await session.stall();
        } catch (error) {
          if (!(error instanceof ClientGone) && !isConnectionError(error)) {
            errors.push(error as Error);
          }
        } finally {
          session.close();
        }
      })());
    }
  })().catch(() => {});
  const finished = async () => {
    try {
      listener.close();
    } catch { /* closed already */ }
    await accepting;
    await Promise.all(running);
    return sessions;
  };
  return {
    port,
    address: `127.0.0.1:${port}`,
    errors,
    finished,
    async [Symbol.asyncDispose]() {
      await finished();
    },
  };
}

/**
 * A server that greets, reads `lines` lines, then resets the connection
 * (RST, not FIN). Deno's own sockets cannot do that, so this one is a
 * `node:net` server. `finished()` returns every line received.
 */
export function startResettingServer(
  greeting: string,
  lines: number,
): Promise<{ address: string; finished: () => Promise<string[]> }> {
  const received: string[] = [];
  const done: Promise<void>[] = [];
  const server = net.createServer((socket) => {
    let text = "";
    done.push(
      new Promise((resolve) => {
        socket.on("close", () => resolve());
        socket.on("error", () => {});
        socket.on("data", (chunk) => {
          text += chunk.toString("latin1");
          const complete = text.split("\r\n").slice(0, -1);
          if (complete.length >= lines) {
            received.push(...complete);
            socket.resetAndDestroy();
          }
        });
      }),
    );
    socket.write(greeting);
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      resolve({
        address: `127.0.0.1:${port}`,
        finished: async () => {
          server.close();
          await Promise.all(done);
          return received;
        },
      });
    });
  });
}

/**
 * A server that plays a whole well-behaved session (EHLO offering AUTH
 * PLAIN, AUTH accepted, MAIL, RCPT, DATA and the message accepted), then
 * resets the connection (RST) when a command matches `resetAt`. A
 * `node:net` server, like {@link startResettingServer}. `finished()`
 * returns every line received.
 */
export function startResetAtServer(
  resetAt: RegExp,
): Promise<{ address: string; finished: () => Promise<string[]> }> {
  const received: string[] = [];
  const done: Promise<void>[] = [];
  const server = net.createServer((socket) => {
    let text = "";
    let inData = false;
    const answer = (line: string): string | null => {
      if (inData) {
        if (line === ".") {
          inData = false;
          return "250 2.0.0 Ok: queued\r\n";
        }
        return null;
      }
      if (/^ehlo /i.test(line)) return "250-hostile.test\r\n250 AUTH PLAIN\r\n";
      if (/^AUTH /.test(line)) return "235 2.7.0 Authenticated\r\n";
      if (/^data$/i.test(line)) {
        inData = true;
        return "354 End data with <CR><LF>.<CR><LF>\r\n";
      }
      if (/^quit$/i.test(line)) return "221 2.0.0 Bye\r\n";
      return "250 2.1.0 Ok\r\n";
    };
    done.push(
      new Promise((resolve) => {
        socket.on("close", () => resolve());
        socket.on("error", () => {});
        socket.on("data", (chunk) => {
          text += chunk.toString("latin1");
          const lines = text.split("\r\n");
          text = lines.pop()!;
          for (const line of lines) {
            received.push(line);
            if (!inData && resetAt.test(line)) {
              socket.resetAndDestroy();
              return;
            }
            const reply = answer(line);
            if (reply !== null) socket.write(reply);
          }
        });
      }),
    );
    socket.write("220 hostile.test ESMTP\r\n");
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      resolve({
        address: `127.0.0.1:${port}`,
        finished: async () => {
          server.close();
          await Promise.all(done);
          return received;
        },
      });
    });
  });
}

function isConnectionError(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.NotConnected;
}

/** Copies `from` to `to` until either ends, showing each chunk to `seen`. */
async function pump(from: Deno.Conn, to: Deno.Conn, seen: (chunk: Uint8Array) => void) {
  const buffer = new Uint8Array(65536);
  try {
    while (true) {
      const n = await from.read(buffer);
      if (n === null) break;
      seen(buffer.subarray(0, n));
      await writeAll(to, buffer.subarray(0, n));
    }
  } catch { /* one side closed */ }
  try {
    to.close();
  } catch { /* closed already */ }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ClientGone(`no word from the client in ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Joins byte chunks into one array. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
