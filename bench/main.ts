/**
 * `deno task bench`: how close the helper's `sendmail` comes to what the
 * machine can do, and how it compares with Python's smtplib and Nodemailer,
 * in three tables from one run:
 *
 * - throughput: 1, 10 and 50 MB messages, and 1,000 recipients, sent to a
 *   sink server (bench/sink.ts) on 127.0.0.1 from one child process per
 *   send, so each sender's peak memory is its own (`/usr/bin/time`). The
 *   senders: the wire limit and the string limit (bench/send_raw.ts), the
 *   helper (bench/send_helper.ts; at 1,000 recipients also pipelined),
 *   smtplib (bench/send_smtplib.py) and Nodemailer (bench/send_nodemailer.mjs). {@link RUNS} runs each,
 *   senders interleaved; the median counts, and a ratio between two
 *   senders is the median of the per-run ratios.
 * - latency: round trips through a delaying proxy (bench/latency.ts);
 * - start-up: simple.ts against a bare script and simple.py (bench/startup.ts);
 * - the playground's own throughput, several clients at once, with every
 *   session recorded and with recording off (bench/playground.ts).
 *
 * Prints the tables, a PASS or MISS line per target, the total time, and
 * writes the same figures to bench/results.json. Stops by itself within
 * {@link DEADLINE_MS}.
 *
 * @module
 */

import { BDAT_HEADING, bdatTable, measureBdat } from "./bdat.ts";
import { measureStreams, STREAM_HEADING, streamTable, streamTargets } from "./stream.ts";
import { COUNTS, type LatencyRow, measureLatency, RTT_MS } from "./latency.ts";
import { bookMessage, makeMessage, wirePayload } from "./message.ts";
import { FROM } from "./senders.ts";
import { BARE, measureStartup, type StartupRow } from "./startup.ts";
import {
  measurePlayground,
  PLAYGROUND_HEADING,
  playgroundTable,
  playgroundTarget,
} from "./playground.ts";
import {
  fixed,
  hasTime,
  here,
  killAll,
  median,
  peakKiB,
  python,
  runOk,
  senderCommand,
  type SenderName,
  Sink,
  table,
  timed,
} from "./util.ts";

const RUNS = 3;
const LATENCY_ROUNDS = 5;
const STARTUP_ROUNDS = 21;
const SIZES_MB = [1, 10, 50];
const MB = 1_000_000;
const MIB = 1024 * 1024;
const RECIPIENTS = 1000;
const DEADLINE_MS = 600_000;

const SENDERS: SenderName[] = ["wire", "string", "helper", "smtplib", "nodemailer"];
/** The recipients case adds the pipelined helper. */
const RCPT_SENDERS: SenderName[] = [
  ...SENDERS.slice(0, 3),
  "helper-pipelined",
  ...SENDERS.slice(3),
];

/** What one send measured. */
interface Sample {
  seconds: number;
  writes?: number;
  peakRssKiB?: number;
  sinkBytes: number;
  sinkBusySeconds: number;
}

/** One row of the throughput table: a sender in one case, medians over its runs. */
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

/** A target, met or not. */
interface Target {
  name: string;
  met: boolean;
  detail: string;
}

/** The median over the runs of `a[i] / b[i]`: runs side by side share the machine's mood. */
function ratio(a: number[], b: number[]): number {
  return median(a.map((value, i) => value / b[i]));
}

/** Runs one send under /usr/bin/time and collects its figures and the sink's. */
async function send(sink: Sink, command: string[], rssFile: string): Promise<Sample> {
  const result = await runOk(timed(command, rssFile));
  const figures = JSON.parse(result.stdout.trim().split("\n").at(-1)!);
  const received = await sink.next();
  return {
    seconds: figures.seconds,
    writes: figures.writes,
    // The sender's own figure (its peak since its input was made), else the whole process's.
    peakRssKiB: figures.peakKiB ?? peakKiB(rssFile),
    sinkBytes: received.bytes,
    sinkBusySeconds: received.busySeconds,
  };
}

/**
 * The throughput table's rows: each runtime's baseline memory with the
 * book's message, then every size and the recipients case, {@link RUNS}
 * runs each with the senders interleaved. Byte counts the sink saw that
 * differ from the expected go to `notes`.
 */
async function measureThroughput(
  sink: Sink,
  temp: string,
  bookFile: string,
  notes: string[],
): Promise<Row[]> {
  const rssFile = `${temp}/rss`;
  const rows: Row[] = [];
  const book = Deno.readTextFileSync(bookFile);
  const bookWire = `${temp}/book.wire`;
  Deno.writeFileSync(bookWire, wirePayload(book));
  const baselineKiB = new Map<SenderName, number>();
  for (const sender of RCPT_SENDERS) {
    const file = sender === "wire" ? bookWire : bookFile;
    const sample = await send(sink, senderCommand(sender, sink.port, file, 1), rssFile);
    baselineKiB.set(sender, sample.peakRssKiB ?? NaN);
  }

  const measureCase = async (
    name: string,
    message: string,
    textFile: string,
    wireFile: string,
    count: number,
    senders: SenderName[],
  ) => {
    const samples = new Map<SenderName, Sample[]>(senders.map((s) => [s, []]));
    for (let i = 0; i < RUNS; i++) {
      for (const sender of senders) {
        const file = sender === "wire" ? wireFile : textFile;
        const command = senderCommand(sender, sink.port, file, count);
        samples.get(sender)!.push(await send(sink, command, rssFile));
      }
    }
    // The string limit sends the text as it is, plus CRLF . CRLF.
    const wireBytes = Deno.statSync(wireFile).size;
    const times = (sender: SenderName) => samples.get(sender)!.map((s) => s.seconds);
    for (const sender of senders) {
      const list = samples.get(sender)!;
      const expected = sender === "string" ? message.length + 5 : wireBytes;
      if (list.some((s) => s.sinkBytes !== expected)) {
        notes.push(
          `ERROR ${name} ${sender}: the sink got ${list[0].sinkBytes} bytes, ` +
            `expected ${expected}`,
        );
      }
      const seconds = median(times(sender));
      const peak = median(list.map((s) => s.peakRssKiB ?? NaN)) / 1024;
      rows.push({
        case: name,
        sender,
        messageBytes: message.length,
        seconds,
        // A tiny message to many recipients: the time says more than MB/s.
        mbPerSecond: count > 1 ? undefined : message.length / MB / seconds,
        ratioToString: ratio(times("string"), times(sender)),
        ratioToWire: ratio(times("wire"), times(sender)),
        peakRssMiB: peak,
        overBaselineMiB: peak - baselineKiB.get(sender)! / 1024,
        writes: list[0].writes === undefined ? undefined : median(list.map((s) => s.writes!)),
        sinkBytes: list[0].sinkBytes,
        sinkBusyShare: median(list.map((s) => s.sinkBusySeconds / s.seconds)),
        runs: list.map((s) => s.seconds),
      });
    }
  };

  for (const sizeMB of SIZES_MB) {
    const message = makeMessage(sizeMB * MB);
    const textFile = `${temp}/message-${sizeMB}MB.txt`;
    const wireFile = `${temp}/message-${sizeMB}MB.wire`;
    Deno.writeTextFileSync(textFile, message);
    Deno.writeFileSync(wireFile, wirePayload(message));
    await measureCase(`${sizeMB} MB`, message, textFile, wireFile, 1, SENDERS);
  }
  await measureCase(`${RECIPIENTS} rcpts`, book, bookFile, bookWire, RECIPIENTS, RCPT_SENDERS);
  return rows;
}

function throughputTable(rows: Row[]): string {
  return table(
    ["case", "sender", "wall s", "MB/s", "x string", "x wire", "peak RSS MiB", "over base MiB"]
      .concat("writes"),
    rows.map((row) => [
      row.case,
      row.sender,
      fixed(row.seconds, 3),
      fixed(row.mbPerSecond, 1),
      fixed(row.ratioToString, 2),
      fixed(row.ratioToWire, 2),
      fixed(row.peakRssMiB, 1),
      fixed(row.overBaselineMiB, 1),
      row.writes === undefined ? "-" : String(row.writes),
    ]),
    2,
  );
}

function latencyTable(rows: LatencyRow[]): string {
  const header = ["client", ...COUNTS.map((n) => `${n} rcpt${n === 1 ? "" : "s"}`)];
  const text = table(
    header,
    rows.map((row) => [
      row.quit ? row.client : `${row.client} *`,
      ...COUNTS.map((n) => `${row.rtt[n].toFixed(1)} RTT`),
    ]),
  );
  const noQuit = rows.some((row) => !row.quit)
    ? "\n\n\\* sends no QUIT: closes after the message's reply, so one round trip fewer"
    : "";
  const late = rows.flatMap((row) => row.late);
  const proxyNote = `\n\nThe proxy's own lateness (past ${RTT_MS / 2} ms, summed over a ` +
    `session's chunks): median ${median(late).toFixed(2)} RTT, at most ` +
    `${Math.max(...late).toFixed(2)} RTT per session`;
  return text + noQuit + proxyNote;
}

function startupTable(rows: StartupRow[]): string {
  return table(
    ["command", "median ms", "x bare", "x python3", "peak RSS MiB"],
    rows.map((row) => [
      row.command,
      (row.seconds * 1000).toFixed(1),
      row.ratioToBare.toFixed(2),
      row.ratioToPython.toFixed(2),
      fixed(row.peakRssMiB, 1),
    ]),
  );
}

/** Every target of issues 10 and before, met or missed, from the three tables. */
function targets(rows: Row[], latency: LatencyRow[], startup: StartupRow[]): Target[] {
  const list: Target[] = [];
  const row = (name: string, sender: string) =>
    rows.find((r) => r.case === name && r.sender === sender)!;
  const big = `${SIZES_MB.at(-1)} MB`;
  const helperBig = row(big, "helper");
  for (const [other, times] of [["smtplib", 5], ["nodemailer", 3]] as const) {
    const speed = ratio(row(big, other).runs, helperBig.runs);
    list.push({
      name: `throughput: helper at ${big} at least ${times}x ${other}`,
      met: speed >= times,
      detail: `${speed.toFixed(2)}x (median of per-run ratios)`,
    });
  }
  const overMessage = helperBig.overBaselineMiB! / (helperBig.messageBytes / MIB);
  list.push({
    name: `memory: helper at ${big} at most 2.5x the message over the runtime's baseline`,
    met: overMessage <= 2.5,
    detail: `${fixed(overMessage, 2)}x (${fixed(helperBig.overBaselineMiB, 1)} MiB over)`,
  });
  list.push({
    name: `throughput: helper at ${big} at least 0.8 of the string limit`,
    met: helperBig.ratioToString! >= 0.8,
    detail: `${helperBig.ratioToString!.toFixed(2)} of the string limit, ` +
      `${helperBig.ratioToWire!.toFixed(2)} of the wire limit`,
  });
  // Linear: the time per MB at 50 MB is no worse than at 10 MB (1 MB is fixed costs).
  const perMB = SIZES_MB.map((sizeMB) => row(`${sizeMB} MB`, "helper").seconds / sizeMB);
  list.push({
    name: "throughput: helper time grows linearly from 10 to 50 MB",
    met: perMB.at(-1)! <= 1.25 * perMB.at(-2)!,
    detail: "ms per MB at " +
      SIZES_MB.map((size, i) => `${size} MB: ${(perMB[i] * 1000).toFixed(2)}`).join(", "),
  });
  const pipelined = latency.find((r) => r.client === "helper (pipelined)")!;
  for (const count of COUNTS) {
    list.push({
      name: `latency: pipelined helper at most 5 RTT to ${count} recipient${count > 1 ? "s" : ""}`,
      met: pipelined.rtt[count] <= 5,
      detail: `${pipelined.rtt[count].toFixed(2)} RTT`,
    });
  }
  const simple = startup.find((r) => r.command.includes("simple.ts"))!;
  const py = startup.find((r) => r.command.includes("simple.py"))!;
  list.push({
    name: "start-up: simple.ts at most 1.3x the bare script",
    met: simple.ratioToBare <= 1.3,
    detail: `${simple.ratioToBare.toFixed(2)}x (median of per-round ratios)`,
  });
  list.push({
    name: "start-up: simple.ts faster than python3 simple.py",
    met: simple.ratioToPython < 1,
    detail: `${simple.ratioToPython.toFixed(2)}x (${(simple.seconds * 1000).toFixed(1)} ms ` +
      `against ${(py.seconds * 1000).toFixed(1)} ms)`,
  });
  return list;
}

async function versions(): Promise<string> {
  const py = (await runOk([python, "--version"])).stdout.trim().replace("Python ", "");
  const node = (await runOk(["node", "--version"])).stdout.trim().replace(/^v/, "");
  const pkg = JSON.parse(Deno.readTextFileSync(`${here}../node_modules/nodemailer/package.json`));
  return `Deno ${Deno.version.deno}, Python ${py} (${python}), Node.js ${node}, ` +
    `Nodemailer ${pkg.version}`;
}

async function main(): Promise<number> {
  const started = new Date();
  const clock = performance.now();
  const temp = await Deno.makeTempDir({ prefix: "smtp-bench-" });
  const sink = new Sink();
  try {
    await sink.start();
    const notes: string[] = [];
    const bookFile = `${temp}/book.txt`;
    Deno.writeTextFileSync(bookFile, bookMessage(["reader@example.com"], FROM));

    const phases: Record<string, number> = {};
    const phase = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
      const from = performance.now();
      const result = await work();
      phases[name] = (performance.now() - from) / 1000;
      return result;
    };
    const rows = await phase("throughput", () => measureThroughput(sink, temp, bookFile, notes));
    const bdat = await phase("bdat", () => measureBdat(sink, temp, notes));
    const streams = await phase("streams", () => measureStreams(sink, temp, bookFile, notes));
    const latency = await phase(
      "latency",
      () => measureLatency(sink.port, bookFile, LATENCY_ROUNDS),
    );
    for (let i = 0; i < LATENCY_ROUNDS * latency.length * COUNTS.length; i++) await sink.next();
    const startup = await phase(
      "start-up",
      () => measureStartup(sink, STARTUP_ROUNDS, `${temp}/rss`),
    );
    const playground = await phase("playground", () => measurePlayground(notes));
    const goals = [
      ...targets(rows, latency, startup),
      ...streamTargets(streams),
      playgroundTarget(playground),
    ];
    const seconds = (performance.now() - clock) / 1000;

    const wireBig = rows.find((r) => r.case === `${SIZES_MB.at(-1)} MB` && r.sender === "wire")!;
    const sinkNote = `sink check: the wire limit reached ${wireBig.mbPerSecond!.toFixed(0)} MB/s ` +
      `at ${wireBig.case}, the sink busy scanning for ` +
      `${(wireBig.sinkBusyShare! * 100).toFixed(0)}% of that transfer`;
    const machine = `${navigator.hardwareConcurrency} cores, ${
      (Deno.systemMemoryInfo().total / 2 ** 30).toFixed(0)
    } GiB`;
    const software = await versions();

    console.log(`SMTP sending benchmark, ${started.toISOString().slice(0, 10)}, ${machine}`);
    console.log(software);
    console.log(
      `\nThroughput (median of ${RUNS} runs; x string, x wire: medians of per-run ratios; ` +
        `1 MB = 10^6 bytes):\n`,
    );
    console.log(throughputTable(rows));
    console.log(`\n${sinkNote}`);
    console.log(`\n${BDAT_HEADING}\n`);
    console.log(bdatTable(bdat));
    console.log(`\n${STREAM_HEADING}\n`);
    console.log(streamTable(streams));
    console.log(
      `\nLatency: round trips (${RTT_MS} ms each) from connecting to QUIT's reply, ` +
        `through the delaying proxy (median of ${LATENCY_ROUNDS} rounds):\n`,
    );
    console.log(latencyTable(latency));
    console.log(
      `\nStart-up: spawn to exit, sending the book's message to the sink ` +
        `(${STARTUP_ROUNDS} interleaved rounds; ratios are medians of per-round ratios):\n`,
    );
    console.log(startupTable(startup));
    console.log(`\n${PLAYGROUND_HEADING}\n`);
    console.log(playgroundTable(playground));
    console.log("");
    for (const note of notes) console.log(note);
    for (const goal of goals) {
      console.log(`${goal.met ? "PASS" : "MISS"} ${goal.name}: ${goal.detail}`);
    }
    if (!hasTime) console.log("/usr/bin/time is missing: no memory figures");
    const split = Object.entries(phases).map(([name, s]) => `${name} ${s.toFixed(1)} s`);
    console.log(`\nThe bench took ${seconds.toFixed(1)} s (${split.join(", ")}).`);
    console.log("The same figures: bench/results.json");

    const results = {
      date: started.toISOString(),
      machine,
      software,
      seconds,
      phases,
      runs: RUNS,
      rows,
      bdat,
      streams,
      latency: { rttMs: RTT_MS, rounds: LATENCY_ROUNDS, rows: latency },
      startup: { rounds: STARTUP_ROUNDS, baseline: BARE, rows: startup },
      playground,
      targets: goals,
      sink: sinkNote,
      notes,
    };
    Deno.writeTextFileSync(`${here}results.json`, JSON.stringify(results, null, 2) + "\n");
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
