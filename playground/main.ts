/**
 * `deno task playground`: runs the playground mail server until Ctrl-C and
 * says how to try each listing against it.
 *
 * ```sh
 * deno task playground                      # 127.0.0.1:2525, mail in .playground/
 * deno task playground --port 2600 --host ::1 --user alice:secret
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DEFAULT_PORT, DEFAULT_USERS, type Playground, startPlayground } from "./server.ts";

const USAGE =
  "usage: deno task playground [--port N] [--host 127.0.0.1|::1] [--data DIR] [--user name:password]...";

const HELP = [
  USAGE,
  "",
  "A mail server on loopback that plays the book's mail.example.com.",
  `  --port N              the port to listen on (default ${DEFAULT_PORT}; 0 for any free one)`,
  "  --host ADDRESS        127.0.0.1 (default) or ::1",
  "  --data DIR            mailboxes and certificates (default .playground)",
  "  --user NAME:PASSWORD  one more user who gets mail and may log in (repeatable;",
  "                        brandon:abc123 is always there)",
  "  --quiet               do not log each delivery",
  "  -h, --help            show this help",
];

/** The server address as the listings take it: `127.0.0.1:2525` or `[::1]:2525`. */
export function serverArgument(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

/** The commands that run each listing against a playground, as a reader types them. */
export function listingCommands(server: string, caPath: string, user = "brandon"): string[] {
  const addresses = `sender@example.com ${user}@example.com`;
  return [
    `deno run -N simple.ts ${server} ${addresses}`,
    `deno run -N ehlo.ts ${server} ${addresses}`,
    `deno run -N debug.ts ${server} ${addresses}`,
    `deno run -N login.ts ${server} ${addresses}`,
    `deno run -N --cert ${caPath} tls.ts ${server} ${addresses}`,
  ];
}

/** What the server prints when it is up: what it offers and what to try. */
export function banner(playground: Playground, users: Record<string, string>): string[] {
  const server = serverArgument(playground.hostname, playground.port);
  const [user, password] = Object.entries(users)[0];
  return [
    `Playground mail server "mail.example.com" listening on ${server}`,
    "  offers SIZE 10240000, PIPELINING, 8BITMIME, ENHANCEDSTATUSCODES, STARTTLS,",
    "  and AUTH PLAIN LOGIN CRAM-MD5 (before STARTTLS too, for login.ts)",
    `  users: ${Object.entries(users).map(([u, p]) => `${u}/${p}`).join(", ")}` +
    ` at example.com and mail.example.com; mail goes to ${playground.dataDir}/<user>`,
    `  TLS: trust the CA ${playground.caPath}` +
    (playground.certificatesCreated ? " (made just now)" : "") + ` with --cert`,
    "Try each listing, in another terminal" +
    ` (login.ts asks for a user name and password: ${user}, ${password}):`,
    ...listingCommands(server, playground.caPath, user).map((command) => `  ${command}`),
    `Read the mail with: deno task mail ${user}   (Ctrl-C stops the server)`,
  ];
}

/** Reads `--user name:password` values; throws on a malformed one. */
export function parseUsers(values: string[]): Record<string, string> {
  const users = { ...DEFAULT_USERS };
  for (const value of values) {
    const match = /^([a-z0-9][a-z0-9._-]*):(.+)$/i.exec(value);
    if (!match) throw new Error(`--user takes name:password (a plain user name), not ${value}`);
    users[match[1].toLowerCase()] = match[2];
  }
  return users;
}

/** Runs the server until SIGINT or SIGTERM; resolves to the exit status. */
export async function main(args: string[]): Promise<number> {
  let options;
  try {
    const { values } = parseArgs({
      args,
      options: {
        port: { type: "string", default: String(DEFAULT_PORT) },
        host: { type: "string", default: "127.0.0.1" },
        data: { type: "string", default: ".playground" },
        user: { type: "string", multiple: true, default: [] },
        quiet: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      HELP.forEach((line) => console.log(line));
      return 0;
    }
    const port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port > 65535) throw new Error("--port takes 0 to 65535");
    if (!["127.0.0.1", "::1", "localhost"].includes(values.host)) {
      throw new Error("--host takes 127.0.0.1 or ::1: the playground stays on loopback");
    }
    const hostname = values.host === "localhost" ? "127.0.0.1" : values.host;
    const users = parseUsers(values.user);
    const log = values.quiet
      ? undefined
      : (line: string) => console.log(`${new Date().toISOString().slice(11, 19)} ${line}`);
    options = { port, hostname, dataDir: values.data, users, log };
  } catch (error) {
    console.error(`playground: ${(error as Error).message}`);
    console.error(USAGE);
    return 2;
  }

  let playground: Playground;
  try {
    playground = await startPlayground(options);
  } catch (error) {
    console.error(`playground: could not start: ${(error as Error).message}`);
    if ((error as { code?: string }).code === "EADDRINUSE") {
      console.error("(is a playground already running? try another --port)");
    } else if (error instanceof Deno.errors.NotCapable) {
      console.error("(the task may only write to .playground/; for another --data folder run");
      console.error(
        " deno run --allow-net=127.0.0.1,[::1] --allow-read --allow-write=DIR " +
          "playground/main.ts --data DIR)",
      );
    }
    return 1;
  }
  banner(playground, options.users).forEach((line) => console.log(line));

  await new Promise<void>((resolve) => {
    const stop = () => {
      Deno.removeSignalListener("SIGINT", stop);
      if (Deno.build.os !== "windows") Deno.removeSignalListener("SIGTERM", stop);
      resolve();
    };
    Deno.addSignalListener("SIGINT", stop);
    if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", stop);
  });
  console.log("Stopping; mail already accepted is on disk.");
  await playground.close();
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
