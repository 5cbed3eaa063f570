/**
 * `deno task bench`: how close the helper's `sendmail` comes to what the
 * machine can do, and how it compares with Python's smtplib and Nodemailer.
 *
 * Everything runs on 127.0.0.1 in one process tree: a sink server
 * (bench/sink.ts) and one child process per send, so each sender's peak
 * memory is its own (measured with `/usr/bin/time`). The senders:
 *
 * - wire limit: bench/send_raw.ts writing the prepared payload bytes;
 * - string limit: bench/send_raw.ts encoding the message string and writing it;
 * - helper: bench/send_helper.ts, lib/smtp.ts's `sendmail`;
 * - smtplib: bench/send_smtplib.py; Nodemailer: bench/send_nodemailer.mjs (Node.js).
 *
 * Each case runs {@link RUNS} times (senders interleaved) and the median
 * counts. Prints a table, the targets met or missed, and writes the same
 * figures to bench/results.json. Stops by itself within {@link DEADLINE_MS}.
 *
 * @module
 */

import { bookMessage, makeMessage, wirePayload } from "./message.ts";
import { FROM, recipients } from "./senders.ts";

const RUNS = 3;
const STARTUP_RUNS = 5;
const SIZES_MB = [1, 10, 50];
const MB = 1_000_000;
const RECIPIENTS = 1000;
const DEADLINE_MS = 280_000;
const CHILD_TIMEOUT_MS = 60_000;

const here = new URL(".", import.meta.url).pathname;
const root = new URL("..", import.meta.url).pathname;
const deno = Deno.execPath();
const children = new Set<Deno.ChildProcess>();
const hasTime = exists("/usr/bin/time");

type SenderName = "wire" | "string" | "helper" | "smtplib" | "nodemailer";

/** What one send measured. */
interface Sample {
  seconds: number;
  writes?: number;
  peakRssKiB?: number;
  sinkBytes: number;
  sinkBusySeconds: number;
}

/** One row of the results: a sender in one case, medians over its runs. */
interface Row {
  case: string;
  sender: string;
  messageBytes: number;
  seconds: number;
  mbPerSecond?: number;
  ratioToString?: number;
  ratioToWire?: number;
  peakRssMiB?: number;
  overBaselineMiB?: number;
  writes?: number;
  sinkBytes?: number;
  sinkBusyShare?: number;
  runs: number[];
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Kills every child still running; safe to call more than once. */
function killAll(): void {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
  children.clear();
}

/** Runs a command to its end (killed after the child timeout); stdout and wall time. */
async function run(
  command: string,
  args: string[],
): Promise<{ stdout: string; seconds: number; code: number; stderr: string }> {
  const started = performance.now();
  const child = new Deno.Command(command, {
    args,
    cwd: root,
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

/** The sink's output, one JSON record per line. */
class Sink {
  port = 0;
  #lines: AsyncIterator<string>;
  #child: Deno.ChildProcess;

  constructor() {
    this.#child = new Deno.Command(deno, {
      args: ["run", "--allow-net=127.0.0.1", `${here}sink.ts`],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    children.add(this.#child);
    this.#lines = lines(this.#child.stdout);
  }

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

/** The command line that sends `file` to `count` recipients with `sender`. */
function senderCommand(
  sender: SenderName,
  port: number,
  file: string,
  count: number,
  python: string,
): string[] {
  const common = [String(port), file, String(count)];
  const denoRun = [deno, "run", "--allow-net=127.0.0.1", `--allow-read=${file}`];
  switch (sender) {
    case "wire":
      return [...denoRun, `${here}send_raw.ts`, "wire", ...common];
    case "string":
      return [...denoRun, `${here}send_raw.ts`, "string", ...common];
    case "helper":
      return [...denoRun, `${here}send_helper.ts`, ...common];
    case "smtplib":
      return [python, `${here}send_smtplib.py`, ...common];
    case "nodemailer":
      return ["node", `${here}send_nodemailer.mjs`, ...common];
  }
}

/** Runs one send under /usr/bin/time and collects its figures and the sink's. */
async function send(
  sink: Sink,
  command: string[],
  rssFile: string,
): Promise<Sample> {
  const [program, ...args] = hasTime
    ? ["/usr/bin/time", "-f", "%M", "-o", rssFile, ...command]
    : command;
  const result = await run(program, args);
  if (result.code !== 0) {
    throw new Error(`${command.join(" ")} failed (${result.code}):\n${result.stderr}`);
  }
  const figures = JSON.parse(result.stdout.trim().split("\n").at(-1)!);
  const received = await sink.next();
  return {
    seconds: figures.seconds,
    writes: figures.writes,
    peakRssKiB: hasTime ? Number(Deno.readTextFileSync(rssFile).trim()) : undefined,
    sinkBytes: received.bytes,
    sinkBusySeconds: received.busySeconds,
  };
}

/** Real python3, not a version manager's shell-script shim (which adds start-up time). */
async function findPython(): Promise<string> {
  const { stdout } = await run("python3", ["-c", "import sys; print(sys.executable)"]);
  return stdout.trim() || "python3";
}

function fixed(value: number | undefined, digits: number): string {
  return value === undefined || Number.isNaN(value) ? "-" : value.toFixed(digits);
}

function table(rows: Row[]): string {
  const header = [
    "case",
    "sender",
    "wall s",
    "MB/s",
    "x string",
    "x wire",
    "peak RSS MiB",
    "over base MiB",
    "writes",
  ];
  const body = rows.map((row) => [
    row.case,
    row.sender,
    fixed(row.seconds, 3),
    fixed(row.mbPerSecond, 1),
    fixed(row.ratioToString, 2),
    fixed(row.ratioToWire, 2),
    fixed(row.peakRssMiB, 1),
    fixed(row.overBaselineMiB, 1),
    row.writes === undefined ? "-" : String(row.writes),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i].length)));
  const line = (cells: string[]) =>
    "| " + cells.map((cell, i) => i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))
      .join(" | ") +
    " |";
  const rule = "| " + widths.map((w, i) => i < 2 ? "-".repeat(w) : "-".repeat(w - 1) + ":")
    .join(" | ") +
    " |";
  return [line(header), rule, ...body.map(line)].join("\n");
}

async function main(): Promise<number> {
  const started = new Date();
  const temp = await Deno.makeTempDir({ prefix: "smtp-bench-" });
  const sink = new Sink();
  try {
    await sink.start();
    const python = await findPython();
    const senders: SenderName[] = ["wire", "string", "helper", "smtplib", "nodemailer"];
    const rows: Row[] = [];
    const notes: string[] = [];
    const rssFile = `${temp}/rss`;

    // The book's message: each runtime's baseline memory, and the recipients case.
    const bookFile = `${temp}/book.txt`;
    const book = bookMessage(["reader@example.com"], FROM);
    Deno.writeTextFileSync(bookFile, book);
    Deno.writeFileSync(`${temp}/book.wire`, wirePayload(book));
    const baselineKiB = new Map<SenderName, number>();
    for (const sender of senders) {
      const file = sender === "wire" ? `${temp}/book.wire` : bookFile;
      const sample = await send(sink, senderCommand(sender, sink.port, file, 1, python), rssFile);
      baselineKiB.set(sender, sample.peakRssKiB ?? NaN);
    }

    const addCase = (
      name: string,
      messageBytes: number,
      samples: Map<SenderName, Sample[]>,
      expectedBytes: Map<SenderName, number>,
    ) => {
      const medianOf = (sender: SenderName) => median(samples.get(sender)!.map((s) => s.seconds));
      for (const sender of senders) {
        const list = samples.get(sender)!;
        const seconds = medianOf(sender);
        const peak = median(list.map((s) => s.peakRssKiB ?? NaN)) / 1024;
        const sinkBytes = list[0].sinkBytes;
        if (list.some((s) => s.sinkBytes !== expectedBytes.get(sender))) {
          notes.push(
            `ERROR ${name} ${sender}: the sink got ${sinkBytes} bytes, ` +
              `expected ${expectedBytes.get(sender)}`,
          );
        }
        rows.push({
          case: name,
          sender,
          messageBytes,
          seconds,
          mbPerSecond: messageBytes / MB / seconds,
          ratioToString: medianOf("string") / seconds,
          ratioToWire: medianOf("wire") / seconds,
          peakRssMiB: peak,
          overBaselineMiB: peak - baselineKiB.get(sender)! / 1024,
          writes: list[0].writes === undefined ? undefined : median(list.map((s) => s.writes!)),
          sinkBytes,
          sinkBusyShare: median(list.map((s) => s.sinkBusySeconds / s.seconds)),
          runs: list.map((s) => s.seconds),
        });
      }
    };

    for (const sizeMB of SIZES_MB) {
      const message = makeMessage(sizeMB * MB);
      const payload = wirePayload(message);
      const textFile = `${temp}/message-${sizeMB}MB.txt`;
      const wireFile = `${temp}/message-${sizeMB}MB.wire`;
      Deno.writeTextFileSync(textFile, message);
      Deno.writeFileSync(wireFile, payload);
      const samples = new Map<SenderName, Sample[]>(senders.map((s) => [s, []]));
      for (let i = 0; i < RUNS; i++) {
        for (const sender of senders) {
          const file = sender === "wire" ? wireFile : textFile;
          const command = senderCommand(sender, sink.port, file, 1, python);
          samples.get(sender)!.push(await send(sink, command, rssFile));
        }
      }
      // The string limit sends the text as it is, plus CRLF . CRLF.
      const expected = new Map<SenderName, number>(
        senders.map((s) => [s, s === "string" ? message.length + 5 : payload.length]),
      );
      addCase(`${sizeMB} MB`, message.length, samples, expected);
    }

    // 1,000 recipients on the book's message.
    {
      const samples = new Map<SenderName, Sample[]>(senders.map((s) => [s, []]));
      for (let i = 0; i < RUNS; i++) {
        for (const sender of senders) {
          const file = sender === "wire" ? `${temp}/book.wire` : bookFile;
          const command = senderCommand(sender, sink.port, file, RECIPIENTS, python);
          samples.get(sender)!.push(await send(sink, command, rssFile));
        }
      }
      const wireBytes = wirePayload(book).length;
      const expected = new Map<SenderName, number>(
        senders.map((s) => [s, s === "string" ? book.length + 5 : wireBytes]),
      );
      addCase(`${RECIPIENTS} rcpts`, book.length, samples, expected);
      for (const row of rows.filter((r) => r.case === `${RECIPIENTS} rcpts`)) {
        row.mbPerSecond = undefined; // a tiny message: recipients per second say more
      }
    }

    // Start-up: the whole simple.ts against the book's simple.py, one process each.
    const server = `127.0.0.1:${sink.port}`;
    const startupCommands: Record<string, string[]> = {
      "simple.ts": [deno, "run", "-N", "simple.ts", server, FROM, recipients(1)[0]],
      "simple.py": [python, `${here}startup_smtplib.py`, server, FROM, recipients(1)[0]],
    };
    const startup: Record<string, Sample[]> = { "simple.ts": [], "simple.py": [] };
    for (let i = -1; i < STARTUP_RUNS; i++) { // run -1 warms the caches and is not counted
      for (const [name, command] of Object.entries(startupCommands)) {
        const [program, ...args] = hasTime
          ? ["/usr/bin/time", "-f", "%M", "-o", rssFile, ...command]
          : command;
        const result = await run(program, args);
        if (result.code !== 0) throw new Error(`${name} failed:\n${result.stderr}`);
        const received = await sink.next();
        if (i < 0) continue;
        startup[name].push({
          seconds: result.seconds,
          peakRssKiB: hasTime ? Number(Deno.readTextFileSync(rssFile).trim()) : undefined,
          sinkBytes: received.bytes,
          sinkBusySeconds: received.busySeconds,
        });
      }
    }
    const startupSeconds = (name: string) => median(startup[name].map((s) => s.seconds));
    for (const name of Object.keys(startup)) {
      rows.push({
        case: "start-up",
        sender: name,
        messageBytes: book.length,
        seconds: startupSeconds(name),
        ratioToString: undefined,
        ratioToWire: undefined,
        peakRssMiB: median(startup[name].map((s) => s.peakRssKiB ?? NaN)) / 1024,
        runs: startup[name].map((s) => s.seconds),
      });
    }

    // ---- the targets ----
    const row = (name: string, sender: string) =>
      rows.find((r) => r.case === name && r.sender === sender)!;
    const targets: { name: string; met: boolean; detail: string }[] = [];
    const big = `${SIZES_MB.at(-1)} MB`;
    const helperBig = row(big, "helper");
    targets.push({
      name: `helper at ${big} >= 0.8 of the string limit`,
      met: helperBig.ratioToString! >= 0.8,
      detail: `${helperBig.ratioToString!.toFixed(2)} of the string limit, ` +
        `${helperBig.ratioToWire!.toFixed(2)} of the wire limit`,
    });
    for (const other of ["smtplib", "nodemailer"]) {
      const them = row(big, other);
      targets.push({
        name: `helper ahead of ${other} at ${big}`,
        met: helperBig.seconds < them.seconds,
        detail: `${(them.seconds / helperBig.seconds).toFixed(2)}x ${other}'s speed`,
      });
    }
    for (const sizeMB of SIZES_MB) {
      const r = row(`${sizeMB} MB`, "helper");
      targets.push({
        name: `helper memory at ${sizeMB} MB within 3x the message over baseline`,
        met: !(r.overBaselineMiB! > 3 * r.messageBytes / 1024 / 1024),
        detail: `${fixed(r.overBaselineMiB, 1)} MiB over the baseline, ` +
          `${fixed(r.overBaselineMiB! / (r.messageBytes / 1024 / 1024), 2)}x the message`,
      });
    }
    // Linear: the time per MB at 50 MB is no worse than at 10 MB (1 MB is fixed costs).
    const perMB = SIZES_MB.map((sizeMB) => row(`${sizeMB} MB`, "helper").seconds / sizeMB);
    targets.push({
      name: "helper time grows linearly from 10 to 50 MB",
      met: perMB.at(-1)! <= 1.25 * perMB.at(-2)!,
      detail: "ms per MB at " +
        SIZES_MB.map((size, i) => `${size} MB: ${(perMB[i] * 1000).toFixed(2)}`).join(", "),
    });
    const startupRatio = startupSeconds("simple.ts") / startupSeconds("simple.py");
    targets.push({
      name: "start-up: simple.ts no slower than simple.py",
      met: startupRatio <= 1.0,
      detail: `ratio ${startupRatio.toFixed(2)} (${startupSeconds("simple.ts").toFixed(3)} s ` +
        `vs ${startupSeconds("simple.py").toFixed(3)} s)`,
    });

    const wireBig = row(big, "wire");
    const sinkNote = `sink check: the wire limit reached ${wireBig.mbPerSecond!.toFixed(0)} MB/s ` +
      `at ${big}, the sink busy scanning for ${(wireBig.sinkBusyShare! * 100).toFixed(0)}% ` +
      `of that transfer`;

    const machine = `${navigator.hardwareConcurrency} cores, ${
      (Deno.systemMemoryInfo().total / 2 ** 30).toFixed(0)
    } GiB`;
    console.log(
      `SMTP sending benchmark, ${started.toISOString().slice(0, 10)}, ${machine}, ` +
        `Deno ${Deno.version.deno}, ${RUNS} runs each (median); 1 MB = 10^6 bytes`,
    );
    console.log(table(rows));
    console.log("");
    console.log(sinkNote);
    for (const note of notes) console.log(note);
    for (const target of targets) {
      console.log(`${target.met ? "met   " : "MISSED"} ${target.name}: ${target.detail}`);
    }
    if (!hasTime) console.log("/usr/bin/time is missing: no memory figures");

    Deno.writeTextFileSync(
      `${here}results.json`,
      JSON.stringify(
        {
          date: started.toISOString(),
          machine,
          deno: Deno.version.deno,
          runs: RUNS,
          startupRuns: STARTUP_RUNS,
          rows,
          targets,
          sink: sinkNote,
          notes,
        },
        null,
        2,
      ) + "\n",
    );
    console.log(`\nThe same figures: bench/results.json`);
    return notes.length > 0 ? 1 : 0;
  } finally {
    killAll();
    await Deno.remove(temp, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const deadline = setTimeout(() => {
    console.error(`bench: still running after ${DEADLINE_MS / 1000} s; stopping`);
    killAll();
    Deno.exit(1);
  }, DEADLINE_MS);
  Deno.addSignalListener("SIGINT", () => {
    killAll();
    Deno.exit(130);
  });
  let status = 1;
  try {
    status = await main();
  } catch (error) {
    console.error(`bench: ${error instanceof Error ? error.stack : error}`);
  } finally {
    killAll();
    clearTimeout(deadline);
  }
  Deno.exit(status);
}
