/**
 * The playground: a small mail server on loopback that behaves like the
 * book's `mail.example.com`, so the five listings have something real to
 * talk to. The SMTP protocol itself is the npm package `smtp-server`; this
 * file only decides what it accepts and where the mail goes.
 *
 * - Greets and answers EHLO as `mail.example.com`, and words every reply as
 *   the book's Postfix does (playground/dialect.ts): EHLO offers PIPELINING,
 *   SIZE 10240000, VRFY, ETRN, STARTTLS, AUTH PLAIN LOGIN CRAM-MD5,
 *   ENHANCEDSTATUSCODES, 8BITMIME and DSN, in that order.
 * - AUTH is offered before STARTTLS too (like Postfix with
 *   `smtpd_tls_auth_only = no`), because the book's `login.py` never says
 *   STARTTLS; the playground listens on loopback only, so the password does
 *   not cross a network. AUTH is optional: `simple.ts` sends without it.
 * - Provider mode adds two listeners as a mail provider has them: implicit
 *   TLS (like 465) and submission (like 587: STARTTLS first, AUTH only after
 *   it); on both, MAIL without AUTH is refused with 530.
 * - Local domains are `example.com` and `mail.example.com`. A known user's
 *   mail is appended to the mbox file of that name in the data folder; an
 *   unknown local user is refused at RCPT with 550; any other domain is
 *   refused with 554 "Relay access denied" (the playground relays nothing,
 *   logged in or not). A message over SIZE gets 552, and what follows the
 *   limit is read and dropped, not kept.
 * - A message is on disk (fsync) in every recipient's mailbox before its 250
 *   is sent, or in none: when a mailbox cannot be written (a full disk), the
 *   mailboxes already written are cut back to what they were and the answer
 *   is 451 (452 for a full disk), so a retry duplicates nothing.
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

import type {
  SMTPServerAddress,
  SMTPServerAuthentication,
  SMTPServerAuthenticationResponse,
  SMTPServerDataStream,
  SMTPServerOptions,
  SMTPServerSession,
} from "smtp-server";
import type { AddressInfo } from "node:net";
import { ensureCertificates } from "./certs.ts";
import { concat, deliver } from "./mbox.ts";
import { PostfixServer, type Refusal, refusals } from "./dialect.ts";
import { FileMailroom, removeRaw, saveRaw } from "./mailroom.ts";
import { DEFAULT_KEEP, Recorder } from "./recorder.ts";
import { storedAs } from "./recording.ts";
import type { WebServer } from "./web.ts";
import { failureControl, type FailureTable, NO_FAILURES } from "./failures.ts";
import { checkToken, DEFAULT_TOKENS, OAUTH2_METHODS } from "./oauth.ts";

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
/** Provider mode's implicit-TLS port by default (a provider's 465). */
export const DEFAULT_TLS_PORT = 2465;
/**
 * Provider mode's submission port by default (a provider's 587). Not 2587: the
 * project's Postfix set-up (tests/interop/postfix.sh) listens there.
 */
export const DEFAULT_SUBMISSION_PORT = 2527;

/** The book's three mechanisms, then XOAUTH2 and OAUTHBEARER, offered under TLS only (oauth.ts). */
const AUTH_METHODS = ["PLAIN", "LOGIN", "CRAM-MD5", ...OAUTH2_METHODS] as SMTPServerOptions[
  "authMethods"
];

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
  /**
   * User names (lower case) and OAuth 2.0 practice tokens for XOAUTH2 and
   * OAUTHBEARER, offered under TLS only. Default `{ brandon: "ya29.playground" }`.
   */
  tokens?: Record<string, string>;
  /** Called with one line per delivery or refusal; silent by default. */
  log?: (line: string) => void;
  /** How long `close()` waits for open sessions before cutting them, in ms. Default 1000. */
  closeTimeout?: number;
  /**
   * Provider mode: besides the book's listener, one with TLS from the first
   * byte (like port 465) and a submission one (like 587) where STARTTLS comes
   * first and AUTH is offered only after it. On both, MAIL needs AUTH.
   * Ports default to 2465 and 2527; 0 picks free ones.
   */
  provider?: { tlsPort?: number; submissionPort?: number };
  /**
   * The web port (the JSON API, playground/web.ts) on the same host; 0 picks
   * a free one. Off when not given.
   */
  web?: { port: number };
  /**
   * How many sessions to keep recorded in `sessions/` (playground/recorder.ts),
   * the oldest dropped whole; 0 records none. Default 1000.
   */
  keepSessions?: number;
  /** How long a silent client is waited for before the 421, in ms. Default 60000 (smtp-server's). */
  idleTimeout?: number;
  /** The failures to inject (`--fail`, playground/failures.ts); none by default. */
  failures?: FailureTable;
  /** Whether the book's listener offers STARTTLS (default true; `--no-starttls`). */
  starttls?: boolean;
  /** The SIZE the book's listener offers and enforces, in bytes (default 10240000; `--size`; 0: no SIZE). */
  size?: number;
  /**
   * The AUTH mechanisms the book's listener offers (default PLAIN, LOGIN,
   * CRAM-MD5, and the OAuth 2.0 ones under TLS; `--auth-methods`); empty: no
   * AUTH at all.
   */
  authMethods?: string[];
}

/** A running playground. */
export interface Playground {
  /** The port it listens on. */
  port: number;
  /** Provider mode's implicit-TLS port, when provider mode is on. */
  tlsPort?: number;
  /** Provider mode's submission port, when provider mode is on. */
  submissionPort?: number;
  /** The address it listens on. */
  hostname: string;
  /** The data folder. */
  dataDir: string;
  /** The CA certificate to trust for STARTTLS (`--cert` for tls.ts). */
  caPath: string;
  /** Whether the certificates were made at this start. */
  certificatesCreated: boolean;
  /** The mail and sessions, as the web API reads them. */
  mailroom: FileMailroom;
  /** The web port's address (`http://127.0.0.1:8025/`), when it is on. */
  webUrl?: string;
  /** The web port, when it is on. */
  webPort?: number;
  /** The record of every session, unless `keepSessions` is 0. */
  recorder?: Recorder;
  /** Stops listening and ends open sessions. */
  close(): Promise<void>;
  /**
   * The failures injected (none when absent); a table set here applies to the
   * sessions that connect after it, never to one already running.
   */
  failures?: FailureTable;
}

/** How one listener treats TLS and AUTH. */
type Listener = "book" | "tls" | "submission";

/** Starts the playground mail server; resolves once it is listening. */
export async function startPlayground(options: PlaygroundOptions = {}): Promise<Playground> {
  const hostname = options.hostname ?? "127.0.0.1";
  const dataDir = options.dataDir ?? ".playground";
  const users = options.users ?? DEFAULT_USERS;
  const tokens = options.tokens ?? DEFAULT_TOKENS;
  const log = options.log ?? (() => {});
  await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const certificates = await ensureCertificates(dataDir);
  const mailroom = new FileMailroom(dataDir, Object.keys(users));
  const keep = options.keepSessions ?? DEFAULT_KEEP;
  const recorder = keep > 0 ? await Recorder.open(dataDir, keep) : undefined;
  if (recorder) mailroom.setSessions(recorder);
  let failures = options.failures ?? NO_FAILURES;
  let sessions = 0;

  const make = (listener: Listener) =>
    new PostfixServer(
      {
        name: SERVER_NAME,
        banner: "(Chapter 13 playground)",
        heloResponse: "%s", // "250-mail.example.com", as Postfix answers
        size: listener === "book"
          ? Math.min(options.size ?? MAX_MESSAGE_SIZE, MAX_MESSAGE_SIZE)
          : MAX_MESSAGE_SIZE,
        // Without STARTTLS the command is unknown too, as on a server that has no TLS.
        hideSTARTTLS: listener === "book" && options.starttls === false,
        disabledCommands: listener === "book"
          ? [
            ...options.starttls === false ? ["STARTTLS"] : [],
            ...options.authMethods?.length === 0 ? ["AUTH"] : [],
          ]
          : [],
        failures: () => failures.session(++sessions),
        recorder,
        listener,
        maxRecipients: 1000, // Postfix's smtpd_recipient_limit: 452 4.5.3 past it
        hideENHANCEDSTATUSCODES: false,
        hideDSN: false, // the book's server offers DSN
        hideSMTPUTF8: true, // the book's server does not offer it
        authMethods: listener === "book" && options.authMethods?.length
          ? options.authMethods as SMTPServerOptions["authMethods"]
          : AUTH_METHODS,
        // The book's listener: AUTH optional and offered before STARTTLS too (login.ts never
        // says STARTTLS). A provider's: AUTH required, and only under TLS.
        authOptional: listener === "book",
        allowInsecureAuth: listener === "book",
        secure: listener === "tls",
        key: certificates.key,
        cert: certificates.cert,
        disableReverseLookup: true,
        logger: false,
        closeTimeout: options.closeTimeout ?? 1000,
        socketTimeout: options.idleTimeout,
        checkRecipient: (address) => checkRecipient(address, users),
        onAuth: (auth, _session, callback) =>
          callback(
            ...(OAUTH2_METHODS.includes(auth.method)
              ? checkToken(auth, tokens)
              : checkLogin(auth, users)),
          ),
        onRcptTo: (address: SMTPServerAddress, session, callback) => {
          const problem = checkRecipient(address.address, users);
          if (problem) {
            log(`refused ${address.address} from ${session.remoteAddress}: ${problem.message}`);
          }
          callback(problem ?? undefined);
        },
        onData: (stream, session, callback) => {
          receive(stream, session, { dataDir, log, mailroom }).then(
            (reply) => callback(null, reply),
            (error) => {
              if ("responseCode" in error) return callback(error);
              if (error instanceof ClientGone) {
                log(`client left mid-message, nothing delivered: ${error.message}`);
                return callback(refusals.writeError()); // to a closed connection: not sent
              }
              // A disk problem: say so in the log, not to the client; no mailbox holds the
              // message, so the client may try again later.
              log(`delivery failed, nothing delivered: ${error.message}`);
              callback(
                (error as { code?: string }).code === "ENOSPC"
                  ? refusals.noSpace()
                  : refusals.writeError(),
              );
            },
          );
        },
      },
    );

  const servers: PostfixServer[] = [];
  let web: WebServer | undefined;
  const close = () =>
    Promise.all([
      web?.close(),
      ...servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
    ]).then(() => {});
  const listen = async (listener: Listener, port: number) => {
    const server = make(listener);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, hostname, () => {
        server.off("error", reject);
        resolve();
      });
    });
    servers.push(server);
    // Errors on single connections (a client hanging up mid-handshake) are not fatal.
    server.on("error", (error: Error) => log(`connection error: ${error.message}${hint(error)}`));
    return (server.server.address() as AddressInfo).port;
  };

  try {
    const port = await listen("book", options.port ?? DEFAULT_PORT);
    const provider = options.provider && {
      tlsPort: await listen("tls", options.provider.tlsPort ?? DEFAULT_TLS_PORT),
      submissionPort: await listen(
        "submission",
        options.provider.submissionPort ?? DEFAULT_SUBMISSION_PORT,
      ),
    };
    if (options.web) {
      const { startWeb } = await import("./web.ts"); // only when the web port is on
      web = await startWeb(mailroom, {
        hostname,
        port: options.web.port,
        failures: failureControl(() => failures, (table) => failures = table, {
          starttls: options.starttls !== false,
          auth: options.authMethods?.length !== 0,
        }),
      });
    }
    return {
      port,
      ...provider,
      hostname,
      dataDir,
      caPath: certificates.caPath,
      certificatesCreated: certificates.created,
      mailroom,
      recorder,
      webUrl: web?.url,
      webPort: web?.port,
      close,
      get failures() {
        return failures;
      },
      set failures(table: FailureTable | undefined) {
        failures = table ?? NO_FAILURES;
      },
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * A word on a connection error whose cause the reader could not guess. Python's
 * smtplib, given `host:port` in one string (the book's `tls.py 127.0.0.1:2525`),
 * sends all of it as the TLS server name. Postfix (OpenSSL) ignores a name it
 * cannot use; Deno's TLS (rustls) refuses the handshake, and no server can
 * strip the name on the way in, because both ends hash the ClientHello into
 * the handshake. Passing the host alone (port 25, or `SMTP(host, port)`) sends
 * no such name.
 */
function hint(error: Error): string {
  if (!error.message.includes("ServerNameMustContainOneHostName")) return "";
  return " (the client sent a TLS server name that is not a host name, as Python's smtplib " +
    "does when given host:port in one string; Postfix ignores it, this server cannot)";
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
  if (!ok) return [refusals.authFailed()];
  return [null, { user: username }];
}

/** Why mail for `address` is refused, or null when it is a local user (no domain: local). */
export function checkRecipient(address: string, users: Record<string, string>): Refusal | null {
  const at = address.lastIndexOf("@");
  const domain = at < 0 ? LOCAL_DOMAINS[0] : address.slice(at + 1).toLowerCase();
  const local = at < 0 ? address : address.slice(0, at);
  if (!LOCAL_DOMAINS.includes(domain)) return refusals.relayDenied(address);
  if (!Object.hasOwn(users, local.toLowerCase())) return refusals.unknownUser(address);
  return null;
}

/**
 * Reads one message and puts it in every recipient's mailbox, or in none;
 * resolves to the 250 text. Past the size limit the rest is read and
 * dropped, so memory stays bounded by the limit whatever the client sends;
 * smtp-server then answers 552.
 */
async function receive(
  stream: SMTPServerDataStream,
  session: SMTPServerSession,
  { dataDir, log, mailroom }: {
    dataDir: string;
    log: (line: string) => void;
    mailroom: FileMailroom;
  },
): Promise<string> {
  let chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      size += chunk.length;
      if (size <= MAX_MESSAGE_SIZE) chunks.push(chunk);
      else chunks = [];
    }
  } catch (error) {
    throw new ClientGone((error as Error).message);
  }
  // A message cut short is never delivered, even if the stream ended quietly.
  if (!stream.readableEnded) throw new ClientGone("the message ended early");
  if (stream.sizeExceeded || size > MAX_MESSAGE_SIZE) {
    log(`refused a message of ${size} bytes: over SIZE ${MAX_MESSAGE_SIZE}`);
    // smtp-server answers 552 itself; this is its fallback.
    throw Object.assign(new Error("5.3.4 Message size exceeds fixed limit"), { responseCode: 552 });
  }
  const message = concat(chunks); // bytes: 8BITMIME mail may be in any charset
  const queueId = newQueueId();
  const sender = session.envelope.mailFrom ? session.envelope.mailFrom.address : "";
  const date = new Date();
  const deliveries = session.envelope.rcptTo.map((recipient) => {
    const user = recipient.address.slice(0, recipient.address.lastIndexOf("@")).toLowerCase();
    const header = receivedHeader(session, queueId, recipient.address, date);
    const trace = new TextEncoder().encode(`Return-Path: <${sender}>\n${header}`);
    return { user, sender, message: concat([trace, message]) };
  });
  await saveRaw(dataDir, queueId, message);
  try {
    await deliver(dataDir, deliveries, date);
  } catch (error) {
    await removeRaw(dataDir, queueId);
    throw error;
  }
  storedAs(session, `${queueId}.${deliveries[0].user}`);
  mailroom.delivered(queueId, deliveries.map(({ user }) => user)).catch(() => {});
  for (const { user } of deliveries) {
    log(`delivered ${queueId} from <${sender}> to ${user} (${message.length} bytes)`);
  }
  return `Ok: queued as ${queueId}`;
}

/** The client left in the middle of the message: nothing is delivered, nobody to answer. */
class ClientGone extends Error {}

/** A queue id as Postfix's short ids look: ten upper-case hex digits. */
export function newQueueId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(5));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("").toUpperCase();
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
