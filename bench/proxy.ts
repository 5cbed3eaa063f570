/**
 * A delaying TCP proxy on loopback, to count round trips without netem:
 * every chunk read from either side is written to the other side
 * {@link DelayProxy.delayMs} later, in order, while reading goes on. With
 * 25 ms each way a command and its reply take one 50 ms round trip, and
 * pipelined commands share one. The TCP handshake is not delayed, and the
 * server's side of the first connection is opened as soon as the proxy is
 * made, so the server's accept does not count either: the greeting reaches
 * the client half a round trip after it connects.
 *
 * For each connection it notes when it accepted it and when it handed the
 * client the server's last reply: the time from connect to the reply to
 * QUIT (or to whatever reply came last, for a client that closes without
 * QUIT), the same for every client whatever its own clock says.
 *
 * ```ts
 * const proxy = new DelayProxy(2525, 25);
 * // ... a client connects to proxy.port and sends one message ...
 * console.log(proxy.sessions[0].lastReplySeconds);
 * proxy.close();
 * ```
 * @module
 */

/** One proxied connection's timing. */
export interface Session {
  /** When the proxy accepted the client (performance.now(), ms). */
  acceptedAt: number;
  /** Seconds from accepting the client to handing it the server's latest bytes. */
  lastReplySeconds?: number;
  /** Whether the client was handed a reply to QUIT (a line starting `221`). */
  quitReplied: boolean;
  /** The proxy's own lateness: milliseconds past due, summed over the chunks (both ways). */
  lateMs: number;
}

const QUIT_REPLY = /(^|\n)221[ -]/;

/** How early a timer is set before a chunk is due; the rest is waited out spinning. */
const SPIN_MS = 1;

/**
 * Resolves at `due` (a performance.now() time). A timer fires about half a
 * millisecond late on an idle machine, which over the nine hops of a
 * pipelined session would add time no client spent; so it is set
 * {@link SPIN_MS} early and the rest is spun out. (On a busy machine a
 * timer can fire several milliseconds late: each session reports the
 * proxy's lateness.)
 */
async function until(due: number): Promise<void> {
  const wait = due - performance.now() - SPIN_MS;
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  while (performance.now() < due) {
    // Spin: at most SPIN_MS, once per chunk.
  }
}

/** Listens on 127.0.0.1 (a free port) and forwards to 127.0.0.1:`upstreamPort` with a delay. */
export class DelayProxy {
  /** The port clients connect to. */
  readonly port: number;
  /** Every connection so far, in the order accepted. */
  readonly sessions: Session[] = [];
  /** The delay added to every chunk, each way, in milliseconds. */
  readonly delayMs: number;
  /** Resolves when the first client connects. */
  readonly connected: Promise<void>;
  #listener: Deno.TcpListener;
  #upstreamPort: number;
  #conns = new Set<Deno.TcpConn>();
  #closed = false;
  #onConnect = () => {};
  /** The server's side of the next connection, opened in advance. */
  #spare?: Promise<Deno.TcpConn>;

  constructor(upstreamPort: number, delayMs: number) {
    this.delayMs = delayMs;
    this.#upstreamPort = upstreamPort;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = this.#listener.addr.port;
    this.connected = new Promise((resolve) => this.#onConnect = resolve);
    this.#spare = this.#dial();
    this.#accept().catch(() => {}); // ends when closed
  }

  /** Connects to the server; the connection is closed with the proxy. */
  #dial(): Promise<Deno.TcpConn> {
    const server = Deno.connect({ hostname: "127.0.0.1", port: this.#upstreamPort }).then(
      (conn) => {
        if (this.#closed) {
          conn.close();
          throw new Error("the proxy is closed");
        }
        this.#conns.add(conn);
        conn.setNoDelay(true);
        return conn;
      },
    );
    server.catch(() => {}); // a failure shows where it is awaited
    return server;
  }

  async #accept(): Promise<void> {
    for await (const client of this.#listener) {
      const session: Session = { acceptedAt: performance.now(), quitReplied: false, lateMs: 0 };
      this.sessions.push(session);
      this.#onConnect();
      const server = this.#spare ?? this.#dial();
      this.#spare = undefined;
      this.#relay(client, server, session).catch(() => {});
    }
  }

  async #relay(
    client: Deno.TcpConn,
    upstream: Promise<Deno.TcpConn>,
    session: Session,
  ): Promise<void> {
    this.#conns.add(client);
    client.setNoDelay(true);
    let server: Deno.TcpConn | undefined;
    try {
      server = await upstream;
      const late = (ms: number) => session.lateMs += ms;
      await Promise.all([
        this.#forward(client, server, late),
        this.#forward(server, client, late, (text) => {
          session.lastReplySeconds = (performance.now() - session.acceptedAt) / 1000;
          session.quitReplied ||= QUIT_REPLY.test(text);
        }),
      ]);
    } finally {
      for (const conn of [client, server]) {
        if (!conn) continue;
        this.#conns.delete(conn);
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
    }
  }

  /**
   * Copies `from` to `to`, each chunk `delayMs` after it was read, in
   * order; tells `late` how late each chunk went, and `written` each
   * chunk's text once it is written. At the end of input the writing half
   * of `to` is shut once all is out.
   */
  async #forward(
    from: Deno.TcpConn,
    to: Deno.TcpConn,
    late: (ms: number) => void,
    written?: (text: string) => void,
  ): Promise<void> {
    const decoder = new TextDecoder();
    let queue = Promise.resolve();
    const deliver = async (chunk: Uint8Array, due: number) => {
      await until(due);
      late(performance.now() - due);
      for (let at = 0; at < chunk.length;) at += await to.write(chunk.subarray(at));
      written?.(decoder.decode(chunk));
    };
    try {
      while (true) {
        const buffer = new Uint8Array(65536);
        const n = await from.read(buffer);
        if (n === null) break;
        const due = performance.now() + this.delayMs;
        // A failed write (the other side gone) is dropped; reading ends soon after.
        queue = queue.then(() => deliver(buffer.subarray(0, n), due)).catch(() => {});
      }
    } finally {
      await queue;
      await to.closeWrite().catch(() => {});
    }
  }

  /** Stops listening and drops every connection still open. */
  close(): void {
    this.#closed = true;
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
    this.#conns.clear();
  }
}
