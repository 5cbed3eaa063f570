/**
 * Where smtp-server's connection meets the recorder (playground/recorder.ts),
 * as Postfix's `smtpd_chat_query()` and `smtpd_chat_reply()` are the two
 * places every line of its smtpd passes:
 *
 * - in: every command line the parser hands on, before anything else sees it
 *   (the wrapped `oncommand` of each parser, the one after STARTTLS too);
 * - out: every write of a reply to the socket (`send`, whichever subclass
 *   method called it), exactly as written;
 * - the STARTTLS handshake (`upgrade`), the end of a message body (the reply
 *   after DATA's 354), and the end of the connection, with why it ended when
 *   the lines cannot tell (the idle timeout, a failed TLS handshake).
 *
 * playground/dialect.ts's connection extends {@link RecordedConnection}, so
 * its `super.send` calls pass through here too.
 *
 * @module
 */

import { SMTPConnection } from "smtp-server/lib/smtp-connection.js";
import type { SMTPServerSession } from "smtp-server";
import type { Buffer } from "node:buffer";
import type { SessionRecord } from "./recorder.ts";

/** The record of each session, for the code that has only smtp-server's session object. */
const records = new WeakMap<SMTPServerSession, SessionRecord>();

/** The connection of each recorded session, for the code that has only smtp-server's session. */
const connections = new WeakMap<SMTPServerSession, RecordedConnection>();

/** The record of `session`, if it is being recorded. */
export function recordOf(session: SMTPServerSession): SessionRecord | undefined {
  return records.get(session);
}

/** Notes that the message `session` is receiving was stored as `id` (its first copy). */
export function storedAs(session: SMTPServerSession, id: string): void {
  connections.get(session)?.stored(id);
}

/** A connection whose every line in and out is recorded, once {@link record} is given. */
export class RecordedConnection extends SMTPConnection {
  #record: SessionRecord | null = null;
  /** The message being received (DATA said, its reply not yet sent), and the id it is stored as. */
  #message: { parser: { dataBytes: number }; id: string | null } | null = null;
  #timingOut = false;

  /** Starts recording this connection into `record`. */
  set record(record: SessionRecord | null) {
    this.#record = record;
    if (record) {
      records.set(this.session, record);
      connections.set(this.session, this);
    }
  }

  /** The record, if any. */
  get record(): SessionRecord | null {
    return this.#record;
  }

  /** The message now being received was stored as `id` (the first recipient's copy). */
  stored(id: string): void {
    if (this.#message) this.#message.id = id;
  }

  override _createParser(): ReturnType<SMTPConnection["_createParser"]> {
    // Runs from SMTPConnection's constructor too, before this class's fields exist.
    const parser = super._createParser();
    const dispatch = parser.oncommand;
    parser.oncommand = (command, callback) => {
      this.#record?.client(
        (command ?? "").toString(),
        this.secure,
        Boolean(this._nextHandler),
      );
      dispatch.call(parser, command, callback);
    };
    return parser;
  }

  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    const record = this.#record;
    if (!record) return super.send(code, data, context);
    if (this.#message && code !== 354) {
      record.message(this.#message.id, this.#message.parser.dataBytes);
      this.#message = null;
    }
    if (this.#timingOut && code === 421) this.#why = "timeout";
    const socket = this._socket;
    const write = socket.write;
    // deno-lint-ignore no-explicit-any
    socket.write = ((payload: any, ...rest: any[]) => {
      record.server(String(payload).replace(/\r\n$/, ""), this.secure);
      return write.call(socket, payload, ...rest);
    }) as typeof socket.write;
    try {
      super.send(code, data, context);
    } finally {
      socket.write = write;
    }
  }

  override handler_DATA(command: Buffer, callback: () => void): void {
    const parser = this._parser;
    super.handler_DATA(command, callback);
    if (this._dataStream && parser) this.#message ??= { parser, id: null };
  }

  override upgrade(callback: () => void, secureCallback?: () => void): void {
    super.upgrade(callback, () => {
      this.#record?.tls();
      secureCallback?.();
    });
  }

  override _onTimeout(): void {
    this.#timingOut = true;
    try {
      super._onTimeout();
    } finally {
      this.#timingOut = false;
    }
  }

  #why: "timeout" | "tls-failed" | null = null;

  override _onClose(): void {
    const record = this.#record;
    if (record && record.open) {
      if (this.#message) {
        // The client left mid-message: its bytes so far, stored nowhere.
        record.message(null, this.#message.parser.dataBytes);
        this.#message = null;
      }
      record.end(this._upgrading ? "tls-failed" : this.#why);
    }
    super._onClose();
  }
}
