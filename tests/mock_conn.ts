/**
 * A scripted stand-in for the network: a mock `Deno.TcpConn` that plays the
 * server from a script and checks every byte the client writes, so the
 * helper and the five listings can be tested without a socket.
 *
 * A script is a list of lines and steps:
 *
 * ```ts
 * const server = new MockServer([
 *   "S: 220 mail.example.com ESMTP", // the server sends this text + CRLF
 *   "C: ehlo [127.0.0.1]", //           the client must send exactly this + CRLF
 *   "S: 250 mail.example.com",
 *   raw("25", 1), //                    raw bytes, here one byte per read
 *   EOF, //                             the server closes the connection
 * ]);
 * const connection = await SMTP.connect("mail.example.com", { dial: server.dial });
 * server.assertDone(); // every step played, nothing unexpected written
 * ```
 *
 * Consecutive server steps arrive together in one read, as one TCP segment
 * would (so bytes after a reply are seen as "already buffered"). When the
 * client writes something the script does not expect, or reads while the
 * script expects it to write, the call fails at once (never a hang) and
 * `assertDone()` reports the exact difference.
 *
 * @module
 */

import type { Dialer, TlsDialer, TlsUpgrader } from "../lib/smtp.ts";

/** One step of a scripted conversation. */
export type Step =
  | { kind: "server"; bytes: Uint8Array; chunk: number }
  | { kind: "client"; bytes: Uint8Array }
  | { kind: "eof" }
  | { kind: "stall" }
  | { kind: "tls" }
  | { kind: "tlsFails"; error: Error; atHandshake: boolean };

const encoder = new TextEncoder();

/** Bytes the server sends as they are (no CRLF added), `chunk` bytes per read at most. */
export function raw(bytes: string | Uint8Array, chunk = Infinity): Step {
  return {
    kind: "server",
    bytes: typeof bytes === "string" ? encoder.encode(bytes) : bytes,
    chunk,
  };
}

/** Bytes the client must send exactly (no CRLF added): a BDAT chunk cut mid-line. */
export function sent(bytes: string | Uint8Array): Step {
  return { kind: "client", bytes: typeof bytes === "string" ? encoder.encode(bytes) : bytes };
}

/** The server closes its side: reads return end of input from here on. */
export const EOF: Step = { kind: "eof" };

/** The server goes silent: a read never resolves until the client closes. */
export const STALL: Step = { kind: "stall" };

/** The client upgrades with STARTTLS here; the script goes on over the TLS mock. */
export const TLS: Step = { kind: "tls" };

/**
 * The TLS upgrade fails here. By default as `Deno.startTls` does for a bad
 * certificate: it gives a connection whose `handshake()`, reads and writes
 * reject. With `atHandshake: false` the upgrader itself rejects.
 */
export function tlsFails(
  message = "invalid peer certificate: UnknownIssuer",
  { atHandshake = true } = {},
): Step {
  return { kind: "tlsFails", error: new Deno.errors.InvalidData(message), atHandshake };
}

/** Turns `S: text` / `C: text` lines (or a block of them) and steps into steps. */
export function parseScript(script: (string | Step)[]): Step[] {
  const steps: Step[] = [];
  for (const item of script) {
    if (typeof item !== "string") {
      steps.push(item);
      continue;
    }
    for (const line of item.split("\n").map((l) => l.replace(/^\s+/, ""))) {
      if (line === "") continue;
      const match = /^([SC]): ?(.*)$/s.exec(line);
      if (!match) throw new Error(`mock script: a line must start with "S: " or "C: ": ${line}`);
      const bytes = encoder.encode(`${match[2]}\r\n`);
      steps.push(
        match[1] === "S" ? { kind: "server", bytes, chunk: Infinity } : {
          kind: "client",
          bytes,
        },
      );
    }
  }
  return steps;
}

/** Shows bytes readably in failure messages: JSON string of their Latin-1 text. */
export function show(bytes: Uint8Array): string {
  return JSON.stringify(latin1(bytes));
}

function latin1(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => String.fromCharCode(b)).join("");
}

function describe(step: Step | undefined): string {
  if (step === undefined) return "the end of the script";
  switch (step.kind) {
    case "server":
      return `the server to send ${show(step.bytes)}`;
    case "client":
      return `the client to send ${show(step.bytes)}`;
    default:
      return `a ${step.kind} step`;
  }
}

/** The options of a {@link MockServer}. */
export interface MockServerOptions {
  /** Give the connection the local address `::1` instead of `127.0.0.1`. */
  ipv6?: boolean;
  /** A shared event log, for checking the order of prints and writes. */
  events?: string[];
  /**
   * A read while the script expects the client to write waits for those
   * writes instead of failing at once: for a client that reads replies while
   * it is still writing (pipelined BDAT). The client's own timeout, or its
   * closing the connection, ends the wait.
   */
  patientReads?: boolean;
}

/**
 * Plays the server side of one connection from a script, and records what
 * the client did: where it dialled, what it wrote, how it upgraded to TLS.
 */
export class MockServer {
  /** The steps, played in order. */
  readonly steps: Step[];
  /** Index of the next step to play. */
  at = 0;
  /** Each `dial` call: where the client connected. */
  readonly dialed: { hostname: string; port: number }[] = [];
  /** Each TLS upgrade: the host name and CA certificates it was given. */
  readonly tlsUpgrades: { hostname?: string; caCerts?: string[] }[] = [];
  /** The bytes of every `write` call, in order, on every connection. */
  readonly writes: Uint8Array[] = [];
  /** `write "..."`, `close` and whatever the test adds, in order. */
  readonly events: string[];
  /** Everything that went against the script. */
  readonly failures: string[] = [];
  /** The connections handed out: the plain one, then the TLS one. */
  readonly conns: MockConn[] = [];

  #sentOfStep = 0; // bytes of the current server step already read
  #matchedOfStep = 0; // bytes of the current client step already written
  #options: MockServerOptions;
  #parked:
    | { conn: MockConn; buffer: Uint8Array; settle: (read: Promise<number | null>) => void }
    | null = null;

  /** A server that plays `script` (see the module doc for its form). */
  constructor(script: (string | Step)[], options: MockServerOptions = {}) {
    this.steps = parseScript(script);
    this.#options = options;
    this.events = options.events ?? [];
  }

  /** For `SMTPOptions.dial`: records the host and port, returns the mock connection. */
  dial: Dialer = (hostname, port, _signal) => {
    this.dialed.push({ hostname, port });
    if (this.conns.length > 0) this.#fail("the client dialled a second time");
    const conn = new MockConn(this, this.#options.ipv6 ?? false);
    this.conns.push(conn);
    return Promise.resolve(conn);
  };

  /** For `SMTPOptions.startTls`: expects a TLS step next; returns a second mock connection. */
  startTls: TlsUpgrader = (conn, options) => {
    this.tlsUpgrades.push({ hostname: options.hostname, caCerts: options.caCerts });
    const step = this.steps[this.at];
    if (conn !== this.current || this.current.closed) {
      return Promise.reject(this.#fail("startTls was given a connection that is not the open one"));
    }
    if (step?.kind !== "tls" && step?.kind !== "tlsFails") {
      return Promise.reject(this.#fail(`the client started TLS, expected ${describe(step)}`));
    }
    this.at++;
    // Deno.startTls takes the plain connection over, whatever happens next.
    this.current.upgraded = true;
    if (step.kind === "tlsFails" && !step.atHandshake) {
      this.current.closed = true;
      return Promise.reject(step.error);
    }
    const tlsConn = new MockConn(this, this.#options.ipv6 ?? false);
    if (step.kind === "tlsFails") tlsConn.handshakeError = step.error;
    this.conns.push(tlsConn);
    return Promise.resolve(tlsConn);
  };

  /**
   * For `SMTPOptions.dialTls` (implicit TLS): records the host, port and CA
   * certificates, returns a mock TLS connection. A `tlsFails` step first in
   * the script makes its handshake fail (or, with `atHandshake: false`, the
   * dial itself).
   */
  dialTls: TlsDialer = (hostname, port, caCerts, _signal) => {
    this.dialed.push({ hostname, port });
    this.tlsUpgrades.push({ hostname, caCerts });
    if (this.conns.length > 0) this.#fail("the client dialled a second time");
    const step = this.steps[this.at];
    if (step?.kind === "tlsFails") {
      this.at++;
      if (!step.atHandshake) return Promise.reject(step.error);
    }
    const conn = new MockConn(this, this.#options.ipv6 ?? false);
    if (step?.kind === "tlsFails") conn.handshakeError = step.error;
    this.conns.push(conn);
    return Promise.resolve(conn);
  };

  /** The connection in use: the TLS one after an upgrade. */
  get current(): MockConn {
    return this.conns[this.conns.length - 1];
  }

  /** Every byte the client wrote, as text (UTF-8). */
  get written(): string {
    const all = new Uint8Array(this.writes.reduce((n, w) => n + w.length, 0));
    let at = 0;
    for (const w of this.writes) {
      all.set(w, at);
      at += w.length;
    }
    return new TextDecoder().decode(all);
  }

  /** Throws unless every step was played and nothing went against the script. */
  assertDone(): void {
    const problems = [...this.failures];
    if (this.at < this.steps.length) {
      problems.push(`the script was not finished: next was ${describe(this.steps[this.at])}`);
    }
    if (problems.length > 0) throw new Error(`mock server:\n  ${problems.join("\n  ")}`);
  }

  #fail(message: string): Error {
    this.failures.push(message);
    return new MockScriptError(message);
  }

  /** A read on `conn`: the next server bytes, end of input, or a stall. */
  read(conn: MockConn, buffer: Uint8Array): Promise<number | null> {
    if (conn.closed) return Promise.reject(new Deno.errors.BadResource("Bad resource ID"));
    if (conn.handshakeError) return Promise.reject(conn.handshakeError);
    if (conn.upgraded) {
      return Promise.reject(this.#fail("the client read the plain connection after TLS"));
    }
    let filled = 0;
    while (filled < buffer.length) {
      const step = this.steps[this.at];
      if (step?.kind !== "server") break;
      // A byte-by-byte step is never joined with what comes before it.
      if (step.chunk !== Infinity && filled > 0) break;
      const left = step.bytes.subarray(this.#sentOfStep);
      const n = Math.min(left.length, buffer.length - filled, step.chunk);
      buffer.set(left.subarray(0, n), filled);
      filled += n;
      this.#sentOfStep += n;
      if (this.#sentOfStep === step.bytes.length) {
        this.at++;
        this.#sentOfStep = 0;
      }
      if (step.chunk !== Infinity) break;
    }
    if (filled > 0) return Promise.resolve(filled);

    const step = this.steps[this.at];
    if (step?.kind === "eof") {
      conn.ended = true;
      this.at++;
    }
    if (conn.ended) return Promise.resolve(null);
    if (step?.kind === "stall") {
      this.at++;
      return new Promise((_, reject) => conn.onClose.push(reject));
    }
    if (this.#options.patientReads && step?.kind === "client" && this.#parked === null) {
      return new Promise((resolve, reject) => {
        this.#parked = { conn, buffer, settle: (read) => read.then(resolve, reject) };
        conn.onClose.push(reject);
      });
    }
    return Promise.reject(this.#fail(`the client read, expected ${describe(step)}`));
  }

  /** A write on `conn`: checked byte for byte against the script's client steps. */
  write(conn: MockConn, bytes: Uint8Array): Promise<number> {
    if (conn.closed) return Promise.reject(new Deno.errors.BadResource("Bad resource ID"));
    if (conn.handshakeError) return Promise.reject(conn.handshakeError);
    const copy = bytes.slice();
    this.writes.push(copy);
    this.events.push(`write ${show(copy)}`);
    if (conn.upgraded) {
      return Promise.reject(
        this.#fail(`the client wrote ${show(copy)} on the plain connection after TLS`),
      );
    }
    if (conn.ended) {
      return Promise.reject(this.#fail(`the client wrote ${show(copy)} after the server closed`));
    }
    let done = 0;
    while (done < copy.length) {
      const step = this.steps[this.at];
      if (step?.kind !== "client") {
        return Promise.reject(
          this.#fail(`the client wrote ${show(copy.subarray(done))}, expected ${describe(step)}`),
        );
      }
      const expected = step.bytes.subarray(this.#matchedOfStep);
      const n = Math.min(expected.length, copy.length - done);
      const got = copy.subarray(done, done + n);
      if (got.some((b, i) => b !== expected[i])) {
        return Promise.reject(this.#fail(
          `the client wrote something else\n    expected: ${show(step.bytes)}\n    got:      ${
            show(
              new Uint8Array([
                ...step.bytes.subarray(0, this.#matchedOfStep),
                ...copy.subarray(done),
              ]),
            )
          }`,
        ));
      }
      done += n;
      this.#matchedOfStep += n;
      if (this.#matchedOfStep === step.bytes.length) {
        this.at++;
        this.#matchedOfStep = 0;
      }
    }
    const parked = this.#parked;
    if (parked !== null && this.steps[this.at]?.kind !== "client") {
      this.#parked = null;
      parked.settle(this.read(parked.conn, parked.buffer));
    }
    return Promise.resolve(copy.length);
  }
}

/** Thrown by the mock when the client goes against the script. */
export class MockScriptError extends Error {
  override name = "MockScriptError";
}

/** One mock connection of a {@link MockServer}; all it does is ask the server. */
export class MockConn implements Deno.TcpConn, Deno.TlsConn {
  /** Whether `close()` was called. */
  closed = false;
  /** Whether the server closed (EOF was played). */
  ended = false;
  /** Whether this plain connection was handed to TLS. */
  upgraded = false;
  /** Set on a TLS connection whose handshake fails. */
  handshakeError?: Error;
  /** Rejections of reads stalled until close. */
  onClose: ((error: Error) => void)[] = [];
  readonly localAddr: Deno.NetAddr;
  readonly remoteAddr: Deno.NetAddr;
  #server: MockServer;

  constructor(server: MockServer, ipv6: boolean) {
    this.#server = server;
    const hostname = ipv6 ? "::1" : "127.0.0.1";
    this.localAddr = { transport: "tcp", hostname, port: 40000 };
    this.remoteAddr = { transport: "tcp", hostname, port: 25 };
  }

  read(p: Uint8Array): Promise<number | null> {
    return this.#server.read(this, p);
  }

  write(p: Uint8Array): Promise<number> {
    return this.#server.write(this, p);
  }

  close(): void {
    if (this.closed) throw new Deno.errors.BadResource("Bad resource ID");
    this.closed = true;
    this.#server.events.push("close");
    // Deno rejects a pending read with Interrupted when the conn is closed.
    for (const reject of this.onClose.splice(0)) {
      reject(new Deno.errors.Interrupted("operation canceled"));
    }
  }

  handshake(): Promise<Deno.TlsHandshakeInfo> {
    if (this.handshakeError) return Promise.reject(this.handshakeError);
    return Promise.resolve({ alpnProtocol: null });
  }

  closeWrite(): Promise<void> {
    return Promise.resolve();
  }
  setNoDelay(): void {}
  setKeepAlive(): void {}
  ref(): void {}
  unref(): void {}
  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    throw new Error("the mock connection has no readable stream");
  }
  get writable(): WritableStream<Uint8Array<ArrayBufferLike>> {
    throw new Error("the mock connection has no writable stream");
  }
  [Symbol.dispose](): void {
    if (!this.closed) this.close();
  }
}

/** A `dial` that fails as `Deno.connect` does for a port nobody listens on. */
export const refusedDial: Dialer = () =>
  Promise.reject(new Deno.errors.ConnectionRefused("Connection refused (os error 111)"));

/** A `dial` that never connects: it waits for the helper's connect timeout. */
export const stallingDial: Dialer = (_hostname, _port, signal) =>
  new Promise((_, reject) =>
    signal.addEventListener("abort", () => reject(new Deno.errors.TimedOut("connection timed out")))
  );
