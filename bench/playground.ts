/**
 * The playground's own throughput, for `deno task bench`: {@link CLIENTS}
 * clients at once, each sending {@link MESSAGES} small messages over one
 * connection, to a playground in a subprocess (`playground/main.ts --no-web
 * --quiet`, a fresh data folder each run), with every session recorded (the
 * default) and with recording off (`--keep-sessions 0`). {@link RUNS} runs
 * each, the two interleaved; messages per second is the median, and the
 * ratio (on over off) the median of the per-run ratios. The target: at or
 * above 0.9, recording must not slow delivery.
 *
 * Every message is checked in its mailbox after each run (a count short is
 * a note, and the bench fails).
 *
 * Alone: `deno run --allow-net=127.0.0.1 --allow-run --allow-read --allow-write bench/playground.ts`.
 *
 * @module
 */

import { SMTP } from "../lib/smtp.ts";
import { readMailbox } from "../playground/mbox.ts";
import { bookMessage } from "./message.ts";
import { FROM } from "./senders.ts";
import { deno, median, root, table } from "./util.ts";

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

/** Starts a playground subprocess on `dataDir`; resolves to it and its port once it listens. */
async function startPlayground(dataDir: string, extra: string[]) {
  const child = new Deno.Command(deno, {
    args: [
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
      "--no-web",
      ...extra,
    ],
    cwd: root,
    stdout: "piped",
    stderr: "inherit",
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let output = "";
  while (!/listening on 127\.0\.0\.1:(\d+)\n/.test(output)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the playground exited: ${output}`);
    output += value;
  }
  const port = Number(/listening on 127\.0\.0\.1:(\d+)\n/.exec(output)![1]);
  const stop = async () => {
    child.kill("SIGTERM");
    await reader.cancel().catch(() => {});
    await child.status;
  };
  return { port, stop };
}

/** One run: every client's messages sent; resolves to messages per second. */
async function oneRun(temp: string, recording: boolean, notes: string[]): Promise<number> {
  const dataDir = await Deno.makeTempDir({ dir: temp, prefix: "playground-" });
  const playground = await startPlayground(dataDir, recording ? [] : ["--keep-sessions", "0"]);
  try {
    const message = bookMessage(["brandon@example.com"], FROM);
    const clients = await Promise.all(
      Array.from({ length: CLIENTS }, () => SMTP.connect(`127.0.0.1:${playground.port}`)),
    );
    const from = performance.now();
    await Promise.all(clients.map(async (smtp) => {
      for (let i = 0; i < MESSAGES; i++) {
        await smtp.sendmail(FROM, ["brandon@example.com"], message);
      }
      await smtp.quit();
    }));
    const seconds = (performance.now() - from) / 1000;
    const stored = (await readMailbox(dataDir, "brandon")).length;
    if (stored !== CLIENTS * MESSAGES) {
      notes.push(`playground: ${stored} of ${CLIENTS * MESSAGES} messages stored`);
    }
    return (CLIENTS * MESSAGES) / seconds;
  } finally {
    await playground.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
}

/** Measures the playground with recording on and off, interleaved. */
export async function measurePlayground(temp: string, notes: string[]): Promise<PlaygroundRow[]> {
  const on: number[] = [];
  const off: number[] = [];
  await oneRun(temp, true, notes); // warm-up: npm packages loaded, certificates made once
  for (let i = 0; i < RUNS; i++) {
    // Alternate which goes first, so neither always runs on a warmer machine.
    for (const recording of i % 2 === 0 ? [true, false] : [false, true]) {
      (recording ? on : off).push(await oneRun(temp, recording, notes));
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
  const temp = await Deno.makeTempDir({ prefix: "smtp-bench-playground-" });
  try {
    const notes: string[] = [];
    const rows = await measurePlayground(temp, notes);
    console.log(`${PLAYGROUND_HEADING}\n`);
    console.log(playgroundTable(rows));
    for (const note of notes) console.log(note);
    const goal = playgroundTarget(rows);
    console.log(`${goal.met ? "PASS" : "MISS"} ${goal.name}: ${goal.detail}`);
  } finally {
    await Deno.remove(temp, { recursive: true });
  }
}
