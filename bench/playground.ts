/**
 * The playground's own throughput, for `deno task bench`: {@link CLIENTS}
 * clients at once, each sending {@link MESSAGES} small messages over one
 * connection, to a playground in a subprocess (`playground/main.ts --no-web
 * --quiet`, a fresh data folder each run, started as the tests start one), with every session recorded (the
 * default) and with recording off (`--keep-sessions 0`). {@link RUNS} runs
 * each, the two interleaved; messages per second is the median, and the
 * ratio (on over off) the median of the per-run ratios. The target: at or
 * above 0.9, recording must not slow delivery.
 *
 * Every message is checked in its mailbox after each run (a count short is
 * a note, and the bench fails).
 *
 * Alone: `deno run --allow-net=127.0.0.1 --allow-run --allow-read --allow-write --allow-env
 * --allow-sys bench/playground.ts`.
 *
 * @module
 */

import { SMTP } from "../lib/smtp.ts";
import { readMailbox } from "../playground/mbox.ts";
import { bookMessage } from "./message.ts";
import { FROM } from "./senders.ts";
import { median, table } from "./util.ts";
import { withPlaygroundProcess } from "../tests/playground_run.ts";

const RUNS = 7;
/** How many clients send at once. */
export const CLIENTS = 10;
/** How many messages each client sends. */
export const MESSAGES = 20;

/** One way of running the playground: recording on or off. */
export interface PlaygroundRow {
  recording: "on" | "off";
  messagesPerSecond: number;
  /** Each run's messages per second, in run order. */
  runs: number[];
  /** On over off: the median of the per-run ratios (on's row only). */
  ratioToOff?: number;
}

/** The table's heading. */
export const PLAYGROUND_HEADING =
  `Playground: ${CLIENTS} clients at once, ${MESSAGES} messages each over one connection, ` +
  `each message fsynced before its 250 (median of ${RUNS} runs; x off: median of per-run ratios):`;

/** One run: every client's messages sent; resolves to messages per second. */
async function oneRun(recording: boolean, notes: string[]): Promise<number> {
  let rate = 0;
  await withPlaygroundProcess(async ({ port, dataDir }) => {
    const message = bookMessage(["brandon@example.com"], FROM);
    const clients = await Promise.all(
      Array.from({ length: CLIENTS }, () => SMTP.connect(`127.0.0.1:${port}`)),
    );
    const from = performance.now();
    await Promise.all(clients.map(async (smtp) => {
      for (let i = 0; i < MESSAGES; i++) {
        await smtp.sendmail(FROM, ["brandon@example.com"], message);
      }
      await smtp.quit();
    }));
    rate = (CLIENTS * MESSAGES) / ((performance.now() - from) / 1000);
    const stored = (await readMailbox(dataDir, "brandon")).length;
    if (stored !== CLIENTS * MESSAGES) {
      notes.push(`playground: ${stored} of ${CLIENTS * MESSAGES} messages stored`);
    }
  }, {
    prefix: "smtp-bench-playground-",
    stop: "SIGTERM",
    args: ["--no-web", ...(recording ? [] : ["--keep-sessions", "0"])],
  });
  return rate;
}

/** Measures the playground with recording on and off, interleaved. */
export async function measurePlayground(notes: string[]): Promise<PlaygroundRow[]> {
  const on: number[] = [];
  const off: number[] = [];
  await oneRun(true, notes); // warm-up: npm packages loaded, certificates made once
  for (let i = 0; i < RUNS; i++) {
    // Alternate which goes first, so neither always runs on a warmer machine.
    for (const recording of i % 2 === 0 ? [true, false] : [false, true]) {
      (recording ? on : off).push(await oneRun(recording, notes));
    }
  }
  return [
    {
      recording: "on",
      messagesPerSecond: median(on),
      runs: on,
      ratioToOff: median(on.map((rate, i) => rate / off[i])),
    },
    { recording: "off", messagesPerSecond: median(off), runs: off },
  ];
}

/** The table of {@link measurePlayground}'s rows. */
export function playgroundTable(rows: PlaygroundRow[]): string {
  return table(
    ["recording", "messages/s", "x off"],
    rows.map((row) => [
      row.recording,
      row.messagesPerSecond.toFixed(0),
      row.ratioToOff === undefined ? "" : row.ratioToOff.toFixed(2),
    ]),
  );
}

/** The target: recording costs at most a tenth of the throughput. */
export function playgroundTarget(rows: PlaygroundRow[]) {
  const ratio = rows[0].ratioToOff!;
  return {
    name: "the playground records every session at 0.9 or more of its speed without",
    met: ratio >= 0.9,
    detail:
      `${ratio.toFixed(2)} (median of per-run ratios, ${rows[0].messagesPerSecond.toFixed(0)}` +
      ` against ${rows[1].messagesPerSecond.toFixed(0)} messages/s)`,
  };
}

if (import.meta.main) {
  const notes: string[] = [];
  const rows = await measurePlayground(notes);
  console.log(`${PLAYGROUND_HEADING}\n`);
  console.log(playgroundTable(rows));
  for (const note of notes) console.log(note);
  const goal = playgroundTarget(rows);
  console.log(`${goal.met ? "PASS" : "MISS"} ${goal.name}: ${goal.detail}`);
}
