/**
 * What the playground's tests and the listings' tests share
 * (playground_test.ts, playground_dialect_test.ts, playground_faults_test.ts,
 * listings_test.ts): a fresh playground in-process (`withPlayground`) or as
 * a subprocess, for a test that kills it or reads its memory
 * (`withPlaygroundProcess`); raw command lines over a socket (`rawSession`);
 * and a listing run as a reader types it (`runListing`).
 *
 * @module
 */

import { type Playground, startPlayground } from "../playground/server.ts";
import { serverArgument } from "../playground/main.ts";
import { readMailbox } from "../playground/mbox.ts";
import { type PlaygroundChild, spawnPlayground } from "../playground/process.ts";

/** The project's folder: the listings and playground/main.ts, as the README runs them. */
export const PROJECT = new URL("..", import.meta.url);

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Runs `body` against a fresh playground on a free port, then stops it and
 * removes its folder (a `dataDir` given is kept).
 */
export async function withPlayground(
  body: (playground: Playground, server: string) => Promise<void>,
  dataDir?: string,
): Promise<void> {
  const dir = dataDir ?? await Deno.makeTempDir({ prefix: "playground-test-" });
  const playground = await startPlayground({ port: 0, dataDir: dir, closeTimeout: 200 });
  try {
    await body(playground, serverArgument(playground.hostname, playground.port));
  } finally {
    await playground.close();
    if (!dataDir) await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Runs `body` against a fresh playground in provider mode on free ports
 * (with `tokens` for OAuth 2.0, if given), handing it the CA's PEM too.
 */
export async function withProvider(
  body: (playground: Playground, caCerts: string[]) => Promise<void>,
  tokens?: Record<string, string>,
): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "playground-provider-test-" });
  const playground = await startPlayground({
    port: 0,
    dataDir,
    closeTimeout: 200,
    provider: { tlsPort: 0, submissionPort: 0 },
    ...(tokens ? { tokens } : {}),
  });
  try {
    await body(playground, [await Deno.readTextFile(playground.caPath)]);
  } finally {
    await playground.close();
    await Deno.remove(dataDir, { recursive: true });
  }
}

/** The `with ...` protocols (ESMTP, ESMTPSA, ...) of the messages in brandon's mailbox. */
export async function protocols(dataDir: string): Promise<string[]> {
  return (await readMailbox(dataDir, "brandon")).map((m) => / with (\w+) id /.exec(m.text)![1]);
}

/** A playground started as `deno run ... playground/main.ts --port 0 --data DIR --quiet`. */
export interface PlaygroundProcess {
  child: Deno.ChildProcess;
  /** Where it listens, as its "listening on" line says (127.0.0.1:PORT). */
  server: string;
  port: number;
  /** Its fresh data folder. */
  dataDir: string;
  /** What it printed on stdout when it came up: the banner, to its "Read the mail" line. */
  banner: string;
}

/**
 * Runs `body` against a playground in a subprocess (given `args` too), once
 * it has printed its banner. Afterwards sends it `stop` (unless it is gone
 * already), waits for it and removes its folder.
 */
export async function withPlaygroundProcess(
  body: (playground: PlaygroundProcess) => Promise<void>,
  options: { prefix: string; stop: "SIGTERM" | "SIGKILL"; args?: string[] },
): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: options.prefix });
  let playground: PlaygroundChild | undefined;
  try {
    playground = await spawnPlayground([
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--allow-write",
      "playground/main.ts",
      "--port",
      "0",
      "--data",
      dataDir,
      "--quiet",
      "--web-port",
      "0",
      ...options.args ?? [],
    ], { cwd: PROJECT });
    const { child, server, port, banner } = playground;
    await body({ child, server, port, dataDir, banner });
  } finally {
    await playground?.stop(options.stop);
    await Deno.remove(dataDir, { recursive: true });
  }
}

/** Sends raw command lines, one at a time; returns the greeting and each reply, CRLFs and all. */
export async function rawSession(port: number, commands: string[]): Promise<string[]> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const replies: string[] = [];
  let buffered = "";
  const buffer = new Uint8Array(65536);
  const readReply = async () => {
    while (!/(^|\r\n)\d{3} [^\r\n]*\r\n$/.test(buffered)) {
      const n = await conn.read(buffer);
      if (n === null) throw new Error(`closed; had ${JSON.stringify(buffered)}`);
      buffered += decoder.decode(buffer.subarray(0, n));
    }
    replies.push(buffered);
    buffered = "";
  };
  try {
    await readReply();
    for (const command of commands) {
      await conn.write(encoder.encode(command + "\r\n"));
      await readReply();
    }
  } finally {
    conn.close();
  }
  return replies;
}

/** What a listing run gave. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `deno run -N [denoOptions] script args...` in the project folder, with
 * `stdin` typed in and `env` added to the environment.
 */
export async function runListing(
  denoOptions: string[],
  script: string,
  args: string[],
  stdin = "",
  env: Record<string, string> = {},
): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-N", ...denoOptions, script, ...args],
    cwd: PROJECT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...env },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(encoder.encode(stdin));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}
