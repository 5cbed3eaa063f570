/**
 * BDAT against DATA, for `deno task bench`: the helper sends the same
 * 10 MB and 50 MB messages to the sink (which lists CHUNKING) by DATA and
 * by BDAT (RFC 3030), with 1 MiB and 64 KiB chunks, one chunk at a time
 * and pipelined, each send in its own process under `/usr/bin/time`.
 * {@link RUNS} runs each, the senders interleaved; the time is the median,
 * and "x DATA" the median of the per-run ratios (DATA's time over this
 * sender's: above 1 is faster than DATA).
 *
 * The sink's byte count is checked against what each way must carry: the
 * dot-stuffed payload with its final `.` line for DATA, the message with
 * CRLF line endings and nothing more for BDAT.
 *
 * @module
 */

import { encodeData } from "../lib/data.ts";
import { makeMessage, wirePayload } from "./message.ts";
import { deno, fixed, here, median, peakKiB, runOk, type Sink, table, timed } from "./util.ts";

const RUNS = 5;
const SIZES_MB = [10, 50];
const MB = 1_000_000;

/** The ways to send: a name and send_helper.ts's mode arguments. */
const WAYS: [string, string[]][] = [
  ["DATA", []],
  ["BDAT 1 MiB", ["chunking"]],
  ["BDAT 64 KiB", [`chunking=${64 * 1024}`]],
  ["BDAT 1 MiB pipelined", ["pipelining", "chunking"]],
  ["BDAT 64 KiB pipelined", ["pipelining", `chunking=${64 * 1024}`]],
];

/** One row of the BDAT table: a way of sending one size, medians over its runs. */
export interface BdatRow {
  case: string;
  way: string;
  seconds: number;
  mbPerSecond: number;
  ratioToData: number;
  peakRssMiB?: number;
  writes: number;
  sinkBytes: number;
  runs: number[];
}

/** Measures every way at every size; byte counts the sink saw that differ go to `notes`. */
export async function measureBdat(sink: Sink, temp: string, notes: string[]): Promise<BdatRow[]> {
  const rssFile = `${temp}/rss-bdat`;
  const rows: BdatRow[] = [];
  for (const sizeMB of SIZES_MB) {
    const message = makeMessage(sizeMB * MB);
    const file = `${temp}/bdat-${sizeMB}MB.txt`;
    Deno.writeTextFileSync(file, message);
    const expected = (way: string) =>
      way === "DATA"
        ? wirePayload(message).length
        : encodeData(message, { dotStuff: false }).payload.length;
    const samples = new Map(WAYS.map(([way]) => [way, [] as Record<string, number>[]]));
    for (let i = 0; i < RUNS; i++) {
      for (const [way, modes] of WAYS) {
        const command = [
          deno,
          "run",
          "--allow-net=127.0.0.1",
          `--allow-read=${file}`,
          `${here}send_helper.ts`,
          String(sink.port),
          file,
          "1",
          ...modes,
        ];
        const result = await runOk(timed(command, rssFile));
        const figures = JSON.parse(result.stdout.trim().split("\n").at(-1)!);
        const received = await sink.next();
        if (received.bytes !== expected(way)) {
          notes.push(
            `ERROR BDAT ${sizeMB} MB ${way}: the sink got ${received.bytes} bytes, ` +
              `expected ${expected(way)}`,
          );
        }
        samples.get(way)!.push({
          seconds: figures.seconds,
          writes: figures.writes,
          peakKiB: peakKiB(rssFile) ?? NaN,
          bytes: received.bytes,
        });
      }
    }
    const times = (way: string) => samples.get(way)!.map((s) => s.seconds);
    for (const [way] of WAYS) {
      const list = samples.get(way)!;
      const seconds = median(times(way));
      rows.push({
        case: `${sizeMB} MB`,
        way,
        seconds,
        mbPerSecond: message.length / MB / seconds,
        ratioToData: median(times("DATA").map((data, i) => data / times(way)[i])),
        peakRssMiB: median(list.map((s) => s.peakKiB)) / 1024,
        writes: median(list.map((s) => s.writes)),
        sinkBytes: list[0].bytes,
        runs: times(way),
      });
    }
  }
  return rows;
}

/** The BDAT table, in the README's form. */
export function bdatTable(rows: BdatRow[]): string {
  return table(
    ["case", "way", "wall s", "MB/s", "x DATA", "peak RSS MiB", "writes"],
    rows.map((row) => [
      row.case,
      row.way,
      fixed(row.seconds, 3),
      fixed(row.mbPerSecond, 1),
      fixed(row.ratioToData, 2),
      fixed(row.peakRssMiB, 1),
      String(row.writes),
    ]),
    2,
  );
}

/** The heading printed above {@link bdatTable}. */
export const BDAT_HEADING = `BDAT against DATA: the helper to the sink (median of ${RUNS} runs; ` +
  "x DATA: median of per-run ratios, DATA's time over this way's):";
