/**
 * Messages streamed from a file, for `deno task bench`: the helper sends a
 * file's `readable` (`sendmail(from, to, stream, ["SIZE=n"])`, as
 * `--message FILE` does) at 10 MB, 50 MB and 1 GB, beside the string limit
 * and the helper given the same message as a string, and with Nodemailer
 * streaming the same file (`raw: fs.createReadStream(file)`) as the peer.
 *
 * Memory is each sender's peak RSS during the send (its input already made,
 * see bench/senders.ts) over the same sender's run with the book's small
 * message. 10 and 50 MB run {@link RUNS} times with the senders
 * interleaved ("x string" is the median of per-run ratios to the string
 * limit); 1 GB runs {@link BIG_RUNS} time, and its "x string" is its MB/s
 * over the string limit's median MB/s at 50 MB (no string that long fits in
 * V8). The 1 GB file is the 50 MB message twenty times over.
 *
 * @module
 */

import { makeMessage, wirePayload } from "./message.ts";
import {
  fixed,
  median,
  peakKiB,
  runOk,
  senderCommand,
  type SenderName,
  type Sink,
  table,
  timed,
} from "./util.ts";

const RUNS = 3;
const BIG_RUNS = 1;
const MB = 1_000_000;
const MIB = 1024 * 1024;
const SIZES_MB = [10, 50];
const BIG_COPIES = 20; // of the 50 MB message: 1 GB
const SENDERS: SenderName[] = ["string", "helper", "helper-stream", "nodemailer-stream"];
const BIG_SENDERS: SenderName[] = ["helper-stream", "nodemailer-stream"];

/** One row of the stream table: a sender at one size, medians over its runs. */
export interface StreamRow {
  case: string;
  sender: string;
  messageBytes: number;
  seconds: number;
  mbPerSecond: number;
  ratioToString: number;
  peakRssMiB: number;
  overBaselineMiB: number;
  overMessage: number;
  sinkBytes: number;
  runs: number[];
}

/** A target, met or not. */
export interface StreamTarget {
  name: string;
  met: boolean;
  detail: string;
}

/** The heading printed above {@link streamTable}. */
export const STREAM_HEADING =
  `Streams: a message file sent as a stream, beside the string limit and the helper with a ` +
  `string (10 and 50 MB: median of ${RUNS} runs, x string a median of per-run ratios; 1 GB: ` +
  `${BIG_RUNS} run, x string against the string limit's MB/s at 50 MB; memory: peak RSS ` +
  `during the send over the sender's baseline):`;

/** One send: its seconds, the sender's peak RSS in KiB and the bytes the sink got. */
async function sendOnce(sink: Sink, command: string[], rssFile: string) {
  const result = await runOk(timed(command, rssFile));
  const figures = JSON.parse(result.stdout.trim().split("\n").at(-1)!);
  const received = await sink.next();
  return {
    seconds: figures.seconds as number,
    peakKiB: (figures.peakKiB ?? peakKiB(rssFile) ?? NaN) as number,
    bytes: received.bytes as number,
  };
}

/** Measures every size; byte counts the sink saw that differ from the expected go to `notes`. */
export async function measureStreams(
  sink: Sink,
  temp: string,
  bookFile: string,
  notes: string[],
): Promise<StreamRow[]> {
  const rssFile = `${temp}/rss-stream`;
  const baseline = new Map<SenderName, number>();
  for (const sender of SENDERS) {
    baseline.set(
      sender,
      (await sendOnce(sink, senderCommand(sender, sink.port, bookFile, 1), rssFile)).peakKiB,
    );
  }
  const rows: StreamRow[] = [];
  const measure = async (
    name: string,
    file: string,
    messageBytes: number,
    expected: (sender: SenderName) => number,
    senders: SenderName[],
    runs: number,
  ) => {
    const samples = new Map(senders.map((s) => [s, [] as Awaited<ReturnType<typeof sendOnce>>[]]));
    for (let i = 0; i < runs; i++) {
      for (const sender of senders) {
        samples.get(sender)!.push(
          await sendOnce(sink, senderCommand(sender, sink.port, file, 1), rssFile),
        );
      }
    }
    const stringTimes = samples.get("string")?.map((s) => s.seconds);
    const stringMBps = rows.find((r) => r.case === "50 MB" && r.sender === "string")?.mbPerSecond;
    for (const sender of senders) {
      const list = samples.get(sender)!;
      const bad = list.find((s) => s.bytes !== expected(sender));
      if (bad) {
        notes.push(
          `ERROR streams ${name} ${sender}: the sink got ${bad.bytes} bytes, expected ${
            expected(sender)
          }`,
        );
      }
      const times = list.map((s) => s.seconds);
      const seconds = median(times);
      const mbPerSecond = messageBytes / MB / seconds;
      const peak = median(list.map((s) => s.peakKiB)) / 1024;
      const over = peak - baseline.get(sender)! / 1024;
      rows.push({
        case: name,
        sender,
        messageBytes,
        seconds,
        mbPerSecond,
        ratioToString: stringTimes
          ? median(stringTimes.map((t, i) => t / times[i]))
          : mbPerSecond / (stringMBps ?? NaN),
        peakRssMiB: peak,
        overBaselineMiB: over,
        overMessage: over / (messageBytes / MIB),
        sinkBytes: list[0].bytes,
        runs: times,
      });
    }
  };

  let big: { message: string; wire: number } | null = null;
  for (const sizeMB of SIZES_MB) {
    const message = makeMessage(sizeMB * MB);
    const file = `${temp}/stream-${sizeMB}MB.txt`;
    Deno.writeTextFileSync(file, message);
    const wire = wirePayload(message).length;
    await measure(
      `${sizeMB} MB`,
      file,
      message.length,
      (sender) => sender === "string" ? message.length + 5 : wire,
      SENDERS,
      RUNS,
    );
    big = { message, wire };
    await Deno.remove(file);
  }
  // 1 GB: the 50 MB message again and again; each copy ends with LF, so its lines stay whole.
  const file = `${temp}/stream-1GB.txt`;
  const copy = new TextEncoder().encode(big!.message);
  {
    using out = await Deno.open(file, { write: true, create: true, truncate: true });
    for (let i = 0; i < BIG_COPIES; i++) {
      for (let at = 0; at < copy.length;) at += await out.write(copy.subarray(at));
    }
  }
  const bigBytes = copy.length * BIG_COPIES;
  const bigWire = (big!.wire - 3) * BIG_COPIES + 3;
  await measure("1 GB", file, bigBytes, () => bigWire, BIG_SENDERS, BIG_RUNS);
  await Deno.remove(file);
  return rows;
}

/** The stream table, in Markdown. */
export function streamTable(rows: StreamRow[]): string {
  return table(
    ["case", "sender", "wall s", "MB/s", "x string", "peak RSS MiB", "over base MiB", "x message"],
    rows.map((row) => [
      row.case,
      row.sender,
      fixed(row.seconds, 3),
      fixed(row.mbPerSecond, 1),
      fixed(row.ratioToString, 2),
      fixed(row.peakRssMiB, 1),
      fixed(row.overBaselineMiB, 1),
      fixed(row.overMessage, 2),
    ]),
    2,
  );
}

/** Issue 20's targets, from the stream table. */
export function streamTargets(rows: StreamRow[]): StreamTarget[] {
  const row = (name: string, sender: string) =>
    rows.find((r) => r.case === name && r.sender === sender)!;
  const helper = row("50 MB", "helper");
  const stream = row("50 MB", "helper-stream");
  const big = row("1 GB", "helper-stream");
  const peer = row("1 GB", "nodemailer-stream");
  return [
    {
      name: "throughput: helper with a 50 MB string at least 0.6 of the string limit",
      met: helper.ratioToString >= 0.6,
      detail: `${helper.ratioToString.toFixed(2)} (median of per-run ratios)`,
    },
    {
      name: "throughput: helper streaming 50 MB from a file at least 0.5 of the string limit",
      met: stream.ratioToString >= 0.5,
      detail: `${stream.ratioToString.toFixed(2)} (median of per-run ratios)`,
    },
    {
      name: "throughput: helper streaming 1 GB from a file at least 0.5 of the string limit",
      met: big.ratioToString >= 0.5,
      detail: `${big.ratioToString.toFixed(2)} (${big.mbPerSecond.toFixed(0)} MB/s against ` +
        `the string limit's MB/s at 50 MB); Nodemailer streaming: ` +
        `${peer.mbPerSecond.toFixed(0)} MB/s`,
    },
    {
      name: "memory: helper streaming 1 GB at most 64 MiB over the runtime's baseline",
      met: big.overBaselineMiB <= 64,
      detail: `${big.overBaselineMiB.toFixed(1)} MiB over (peak ${big.peakRssMiB.toFixed(1)} ` +
        `MiB); Nodemailer streaming: ${peer.overBaselineMiB.toFixed(1)} MiB over`,
    },
    {
      name: "memory: helper with a 50 MB string at most 1.5x the message over the baseline",
      met: helper.overMessage <= 1.5,
      detail: `${helper.overMessage.toFixed(2)}x (${helper.overBaselineMiB.toFixed(1)} MiB over)`,
    },
  ];
}
