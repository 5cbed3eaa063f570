/**
 * What the replies to MAIL, each RCPT and DATA mean for one message, as
 * smtplib's `sendmail()` judges them. The client feeds the replies in order,
 * whether it got them one command at a time or after one pipelined write
 * (RFC 2920), and asks at the end whether the message may go.
 *
 * @example
 * ```ts
 * const envelope = new Envelope("a@example.com", ["b@example.com"]);
 * envelope.take([250, "ok"]); // MAIL: true, go on
 * envelope.take([550, "no such user"]); // RCPT: false, every recipient refused
 * envelope.failure(); // SMTPRecipientsRefused
 * ```
 * @module
 */

import {
  SMTPDataError,
  type SMTPException,
  SMTPRecipientsRefused,
  type SMTPReply,
  SMTPSenderRefused,
} from "./errors.ts";

/** The replies to one message's MAIL, RCPTs and DATA, and what they mean. */
export class Envelope {
  /** The sender, as given to `sendmail`. */
  readonly sender: string;
  /** The recipients, as given to `sendmail`. */
  readonly recipients: string[];
  /** Each refused recipient with the server's reply. */
  readonly refused: Map<string, SMTPReply> = new Map();
  #senderReply: SMTPReply | null = null;
  #dataReply: SMTPReply | null = null;
  #taken = 0;
  #closing = false;
  #data: boolean;

  /**
   * An envelope from `sender` to `recipients`, no reply seen yet. With
   * `data: false` (the message goes by BDAT, RFC 3030) no DATA reply is
   * expected: the envelope is MAIL and the RCPTs.
   */
  constructor(sender: string, recipients: string[], { data = true } = {}) {
    this.sender = sender;
    this.recipients = recipients;
    this.#data = data;
  }

  /** How many replies are expected: MAIL, each RCPT, and DATA unless `data: false`. */
  get size(): number {
    return this.recipients.length + (this.#data ? 2 : 1);
  }

  /** True when DATA was answered 354: the server now waits for the message. */
  get dataStarted(): boolean {
    return this.#dataReply?.[0] === 354;
  }

  /** True after a 421: the server has closed; nothing more may be read or written. */
  get closing(): boolean {
    return this.#closing;
  }

  /**
   * Takes the next reply (MAIL's first, then each RCPT's, then DATA's).
   * Returns false when the transaction cannot go on: a command sent one at
   * a time should not be followed by the next.
   */
  take(reply: SMTPReply): boolean {
    const index = this.#taken++;
    const [code] = reply;
    if (code === 421) this.#closing = true;
    if (index === 0) {
      this.#senderReply = reply;
      return code === 250 && this.recipients.length > 0;
    }
    if (index <= this.recipients.length) {
      if (code !== 250 && code !== 251) this.refused.set(this.recipients[index - 1], reply);
      return code !== 421 && this.refused.size < this.recipients.length;
    }
    this.#dataReply = reply;
    return code === 354;
  }

  /**
   * Why the message may not go, in the order smtplib checks: the sender,
   * the recipients, DATA. Null when the server waits for the message (or,
   * with `data: false`, when a recipient was accepted).
   */
  failure(): SMTPException | null {
    const sender = this.#senderReply;
    if (sender === null || sender[0] !== 250) {
      return new SMTPSenderRefused(...(sender ?? [-1, "no reply"]), this.sender);
    }
    const recipientClosing = this.#closing && this.#dataReply === null;
    if (recipientClosing || this.refused.size === this.recipients.length) {
      return new SMTPRecipientsRefused(this.refused);
    }
    if (!this.#data) return null;
    const data = this.#dataReply;
    if (data === null || data[0] !== 354) return new SMTPDataError(...(data ?? [-1, "no reply"]));
    return null;
  }
}
