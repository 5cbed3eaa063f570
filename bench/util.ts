/**
 * What the benchmark's parts share: paths, running child processes (all
 * killed on the way out), the sink's records, the senders' command lines,
 * medians and Markdown tables.
 *
 * @module
 */

/** The bench/ directory, with a trailing slash. */
export const here = new URL(".", import.meta.url).pathname;
/** The project's root directory: every child runs there. */
export const root = new URL("..", import.meta.url).pathname;
/** The deno binary running this (never `npx`, whose start-up would be measured too). */
export const deno = Deno.execPath();
/** Whether `/usr/bin/time` is there to measure peak memory. */
export const hasTime = exists("/usr/bin/time");

const CHILD_TIMEOUT_MS = 60_000;
const children = new Set<Deno.ChildProcess>();

/** The programs that send a message file to the sink. */
export type SenderName =
  | "wire"
  | "string"
  | "helper"
  | "helper-pipelined"
  | "helper-stream"
  | "smtplib"
  | "nodemailer"
  | "nodemailer-stream";

/** Whether `path` exists. */
export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Kills every child still running; safe to call more than once. */
export function killAll(): void {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
  children.clear();
}

/** What a finished child did; `seconds` is from spawning it to its exit. */
export interface RunResult {
  stdout: string;
  stderr: string;
  seconds: number;
  code: number;
}

/**
 * Runs `command` in the project's root to its end (killed after a minute),
 * with DENO_NO_UPDATE_CHECK=1; its output and wall time.
 */
export async function run(command: string[]): Promise<RunResult> {
  const [program, ...args] = command;
  const started = performance.now();
  const child = new Deno.Command(program, {
    args,
    cwd: root,
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  children.add(child);
  const timer = setTimeout(() => child.kill("SIGKILL"), CHILD_TIMEOUT_MS);
  try {
    const output = await child.output();
    const seconds = (performance.now() - started) / 1000;
    const decoder = new TextDecoder();
    return {
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
      seconds,
      code: output.code,
    };
  } finally {
    clearTimeout(timer);
    children.delete(child);
  }
}

/** Runs `command` and throws, with its stderr, if it fails. */
export async function runOk(command: string[]): Promise<RunResult> {
  const result = await run(command);
  if (result.code !== 0) {
    throw new Error(`${command.join(" ")} failed (${result.code}):\n${result.stderr}`);
  }
  return result;
}

/** `command` under `/usr/bin/time`, which writes the peak RSS in KiB to `rssFile`. */
export function timed(command: string[], rssFile: string): string[] {
  return hasTime ? ["/usr/bin/time", "-f", "%M", "-o", rssFile, ...command] : command;
}

/** The peak RSS in KiB that `/usr/bin/time` wrote, if it ran. */
export function peakKiB(rssFile: string): number | undefined {
  return hasTime ? Number(Deno.readTextFileSync(rssFile).trim()) : undefined;
}

/** The sink (bench/sink.ts) in a child process, and its records, one per message. */
export class Sink {
  /** The port it listens on, once {@link Sink.start} has resolved. */
  port = 0;
  #lines: AsyncIterator<string>;

  constructor() {
    const child = new Deno.Command(deno, {
      args: ["run", "--allow-net=127.0.0.1", `${here}sink.ts`],
      env: { DENO_NO_UPDATE_CHECK: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    children.add(child);
    this.#lines = lines(child.stdout);
  }

  /** Waits until it listens. */
  async start(): Promise<void> {
    this.port = (await this.next()).port as number;
  }

  /** The next record, or an error if none comes within 10 seconds. */
  async next(): Promise<Record<string, number>> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("the sink reported nothing")), 10_000);
    });
    try {
      const { value, done } = await Promise.race([this.#lines.next(), timeout]);
      if (done) throw new Error("the sink stopped");
      return JSON.parse(value);
    } finally {
      clearTimeout(timer);
    }
  }
}

async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let pending = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    pending += text;
    let lf;
    while ((lf = pending.indexOf("\n")) !== -1) {
      yield pending.slice(0, lf);
      pending = pending.slice(lf + 1);
    }
  }
}

/** The system's Python, as the targets name it; else the first python3 on the PATH. */
export const python = exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

/** The command line that sends `file` to `count` recipients through 127.0.0.1:`port`. */
export function senderCommand(
  sender: SenderName,
  port: number,
  file: string,
  count: number,
): string[] {
  const common = [String(port), file, String(count)];
  // --allow-all and --expose-gc only to reset and read the peak-RSS mark (bench/senders.ts).
  const denoRun = [deno, "run", "--allow-all", "--v8-flags=--expose-gc"];
  switch (sender) {
    case "wire":
    case "string":
      return [...denoRun, `${here}send_raw.ts`, sender, ...common];
    case "helper":
      return [...denoRun, `${here}send_helper.ts`, ...common];
    case "helper-pipelined":
      return [...denoRun, `${here}send_helper.ts`, ...common, "pipelining"];
    case "helper-stream":
      return [...denoRun, `${here}send_helper.ts`, ...common, "stream"];
    case "smtplib":
      return [python, `${here}send_smtplib.py`, ...common];
    case "nodemailer":
      return ["node", "--expose-gc", `${here}send_nodemailer.mjs`, ...common];
    case "nodemailer-stream":
      return ["node", "--expose-gc", `${here}send_nodemailer.mjs`, ...common, "stream"];
  }
}

/** `value` with `digits` decimals, or `-` when there is none. */
export function fixed(value: number | undefined, digits: number): string {
  return value === undefined || Number.isNaN(value) ? "-" : value.toFixed(digits);
}

/** A Markdown table; the first `textColumns` columns are left-aligned, the rest right. */
export function table(header: string[], body: string[][], textColumns = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i].length)));
  const pad = (cell: string, i: number) =>
    i < textColumns ? cell.padEnd(widths[i]) : cell.padStart(widths[i]);
  const line = (cells: string[]) => `| ${cells.map(pad).join(" | ")} |`;
  const rule = `| ${
    widths.map((w, i) => i < textColumns ? "-".repeat(w) : "-".repeat(w - 1) + ":").join(" | ")
  } |`;
  return [line(header), rule, ...body.map(line)].join("\n");
}
