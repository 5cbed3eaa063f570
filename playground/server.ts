/**
 * The playground: a small mail server on loopback that behaves like the
 * book's `mail.example.com`, so the five listings have something real to
 * talk to. The SMTP protocol itself is the npm package `smtp-server`; this
 * file only decides what it accepts and where the mail goes.
 *
 * - Greets and answers EHLO as `mail.example.com`; offers SIZE 10240000,
 *   PIPELINING, 8BITMIME, ENHANCEDSTATUSCODES, STARTTLS and
 *   AUTH PLAIN LOGIN CRAM-MD5.
 * - AUTH is offered before STARTTLS too (like Postfix with
 *   `smtpd_tls_auth_only = no`), because the book's `login.py` never says
 *   STARTTLS; the playground listens on loopback only, so the password does
 *   not cross a network. AUTH is optional: `simple.ts` sends without it.
 * - Local domains are `example.com` and `mail.example.com`. A known user's
 *   mail is appended to the mbox file of that name in the data folder; an
 *   unknown local user is refused at RCPT with 550; any other domain is
 *   refused with 554 "Relay access denied" (the playground relays nothing,
 *   logged in or not). A message over SIZE gets 552.
 * - A message is on disk (fsync) before its 250 is sent.
 *
 * @example
 * ```ts
 * import { startPlayground } from "./playground/server.ts";
 *
 * const playground = await startPlayground({ port: 0, dataDir: "/tmp/mail" });
 * console.log(`listening on ${playground.hostname}:${playground.port}`);
 * await playground.close();
 * ```
 * @module
 */

import { SMTPServer } from "smtp-server";
import type {
  SMTPServerAddress,
  SMTPServerAuthentication,
  SMTPServerAuthenticationResponse,
  SMTPServerDataStream,
  SMTPServerSession,
} from "smtp-server";
import type { AddressInfo } from "node:net";
import { ensureCertificates } from "./certs.ts";
import { appendMessage, concat } from "./mbox.ts";

/** The name the server gives itself, as the book's server does. */
export const SERVER_NAME = "mail.example.com";
/** The domains whose mail is delivered here. */
export const LOCAL_DOMAINS = ["example.com", "mail.example.com"];
/** The largest message accepted, in bytes (the book's server's SIZE). */
export const MAX_MESSAGE_SIZE = 10240000;
/** The book's user. */
export const DEFAULT_USERS: Record<string, string> = { brandon: "abc123" };
/** The default port: 25 needs root, so the submission-like 2525. */
export const DEFAULT_PORT = 2525;

/** Options for {@link startPlayground}. */
export interface PlaygroundOptions {
  /** The port to listen on; 0 picks a free one. Default 2525. */
  port?: number;
  /** The address to listen on: `127.0.0.1` (default) or `::1`. */
  hostname?: string;
  /** The folder for mailboxes and certificates; made if missing. Default `.playground`. */
  dataDir?: string;
  /** User names (lower case) and passwords. Default `{ brandon: "abc123" }`. */
  users?: Record<string, string>;
  /** Called with one line per delivery or refusal; silent by default. */
  log?: (line: string) => void;
  /** How long `close()` waits for open sessions before cutting them, in ms. Default 1000. */
  closeTimeout?: number;
}

/** A running playground. */
export interface Playground {
  /** The port it listens on. */
  port: number;
  /** The address it listens on. */
  hostname: string;
  /** The data folder. */
  dataDir: string;
  /** The CA certificate to trust for STARTTLS (`--cert` for tls.ts). */
  caPath: string;
  /** Whether the certificates were made at this start. */
  certificatesCreated: boolean;
  /** Stops listening and ends open sessions. */
  close(): Promise<void>;
}

/** An SMTP refusal with its reply code (smtp-server sends `responseCode`). */
function refusal(responseCode: number, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode });
}

/** Starts the playground mail server; resolves once it is listening. */
export async function startPlayground(options: PlaygroundOptions = {}): Promise<Playground> {
  const hostname = options.hostname ?? "127.0.0.1";
  const dataDir = options.dataDir ?? ".playground";
  const users = options.users ?? DEFAULT_USERS;
  const log = options.log ?? (() => {});
  await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const certificates = await ensureCertificates(dataDir);

  const server = new SMTPServer({
    name: SERVER_NAME,
    banner: "(Chapter 13 playground)",
    heloResponse: "%s", // "250-mail.example.com", as Postfix answers
    size: MAX_MESSAGE_SIZE,
    hideENHANCEDSTATUSCODES: false,
    hideSMTPUTF8: true, // the book's server does not offer it
    authMethods: ["PLAIN", "LOGIN", "CRAM-MD5"],
    authOptional: true,
    allowInsecureAuth: true,
    key: certificates.key,
    cert: certificates.cert,
    disableReverseLookup: true,
    logger: false,
    closeTimeout: options.closeTimeout ?? 1000,
    onAuth: (auth, _session, callback) => callback(...checkLogin(auth, users)),
    onRcptTo: (address, session, callback) => {
      const problem = checkRecipient(address, users);
      if (problem) {
        log(`refused ${address.address} from ${session.remoteAddress}: ${problem.message}`);
      }
      callback(problem ?? undefined);
    },
    onData: (stream, session, callback) => {
      receive(stream, session, dataDir, log).then(
        (reply) => callback(null, reply),
        (error) => {
          if ("responseCode" in error) return callback(error);
          // A disk problem: say so in the log, not to the client, and let it try again later.
          log(`delivery failed: ${error.message}`);
          callback(refusal(451, "Local error in processing; try again later"));
        },
      );
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? DEFAULT_PORT, hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // Errors on single connections (a client hanging up mid-handshake) are not fatal.
  server.on("error", (error: Error) => log(`connection error: ${error.message}`));
  const address = server.server.address() as AddressInfo;

  return {
    port: address.port,
    hostname,
    dataDir,
    caPath: certificates.caPath,
    certificatesCreated: certificates.created,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The result for smtp-server's `onAuth` callback: a user, or a 535 refusal. */
function checkLogin(
  auth: SMTPServerAuthentication,
  users: Record<string, string>,
): [Error | null, SMTPServerAuthenticationResponse?] {
  const username = auth.username ?? "";
  const expected = Object.hasOwn(users, username) ? users[username] : undefined;
  const ok = expected !== undefined &&
    (auth.method === "CRAM-MD5" ? auth.validatePassword(expected) : auth.password === expected);
  if (!ok) return [refusal(535, "Authentication credentials invalid")];
  return [null, { user: username }];
}

/** Why a recipient is refused, or null when it is a local user. */
function checkRecipient(
  address: SMTPServerAddress,
  users: Record<string, string>,
): (Error & { responseCode: number }) | null {
  const at = address.address.lastIndexOf("@");
  const domain = at < 0 ? "" : address.address.slice(at + 1).toLowerCase();
  const local = at < 0 ? address.address : address.address.slice(0, at);
  if (!LOCAL_DOMAINS.includes(domain)) {
    return refusal(554, `<${address.address}>: Relay access denied`);
  }
  if (!Object.hasOwn(users, local.toLowerCase())) {
    return refusal(550, `<${address.address}>: Recipient address rejected: User unknown`);
  }
  return null;
}

/** Reads one message and appends it to each recipient's mailbox; the 250 text. */
async function receive(
  stream: SMTPServerDataStream,
  session: SMTPServerSession,
  dataDir: string,
  log: (line: string) => void,
): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  if (stream.sizeExceeded) {
    // smtp-server answers 552 itself; this error is its fallback text.
    throw refusal(552, `Message exceeds fixed maximum message size ${MAX_MESSAGE_SIZE}`);
  }
  const message = concat(chunks); // bytes: 8BITMIME mail may be in any charset
  const queueId = crypto.randomUUID().replaceAll("-", "").slice(0, 10).toUpperCase();
  const sender = session.envelope.mailFrom ? session.envelope.mailFrom.address : "";
  const date = new Date();
  for (const recipient of session.envelope.rcptTo) {
    const user = recipient.address.slice(0, recipient.address.lastIndexOf("@")).toLowerCase();
    const header = receivedHeader(session, queueId, recipient.address, date);
    const trace = new TextEncoder().encode(`Return-Path: <${sender}>\n${header}`);
    await appendMessage(dataDir, user, sender, concat([trace, message]), date);
    log(`delivered ${queueId} from <${sender}> to ${user} (${message.length} bytes)`);
  }
  return `Ok: queued as ${queueId}`;
}

/** The `Received:` trace header (RFC 5321 section 4.4) this server adds. */
function receivedHeader(
  session: SMTPServerSession,
  queueId: string,
  recipient: string,
  date: Date,
): string {
  const client = session.remoteAddress.includes(":")
    ? `[IPv6:${session.remoteAddress}]`
    : `[${session.remoteAddress}]`;
  // ESMTP, plus S for TLS and A for AUTH (RFC 3848), as smtp-server counts them.
  const protocol = session.transmissionType.replace(/A$/, "") + (session.user ? "A" : "");
  return `Received: from ${session.hostNameAppearsAs || "unknown"} (${client})\n` +
    `\tby ${SERVER_NAME} (Chapter 13 playground) with ${protocol} id ${queueId}\n` +
    `\tfor <${recipient}>; ${rfc5322Date(date)}\n`;
}

/** A date as RFC 5322 writes it, in UTC: `Sat, 28 Nov 2026 12:39:28 +0000`. */
export function rfc5322Date(date: Date): string {
  return date.toUTCString().replace("GMT", "+0000");
}
