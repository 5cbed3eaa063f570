/**
 * The start-up table: the whole of `deno run -N simple.ts` sending the
 * book's message to the sink, against a bare Deno script that speaks the
 * same SMTP by hand (bench/startup_bare.ts) and the book's `simple.py` on
 * the system's Python (bench/startup_smtplib.py).
 *
 * What is timed: from spawning the process (the deno binary itself, never
 * `npx`) to its exit. The three run interleaved, one after another in each
 * round, in a rotating order; one round to warm the caches (under
 * `/usr/bin/time`, for peak memory) is not counted. Reported: the median
 * time of each, and the median over the rounds of each round's ratio to the
 * bare script, so that a machine busy at some moment weighs on all three.
 *
 * @module
 */

import { FROM, recipients } from "./senders.ts";
import { deno, here, median, peakKiB, python, runOk, type Sink, timed } from "./util.ts";

/** The bare script's name in the table, the baseline of the ratios. */
export const BARE = "bare script";

/** One row of the start-up table. */
export interface StartupRow {
  command: string;
  /** Median seconds from spawn to exit. */
  seconds: number;
  /** Median over the rounds of this round's time over the bare script's. */
  ratioToBare: number;
  /** Median over the rounds of this round's time over simple.py's. */
  ratioToPython: number;
  /** Peak RSS in the warm-up round, if /usr/bin/time is there. */
  peakRssMiB?: number;
  /** Every counted round's seconds. */
  runs: number[];
}

/** Runs `rounds` interleaved rounds (plus one warm-up) against `sink`. */
export async function measureStartup(
  sink: Sink,
  rounds: number,
  rssFile: string,
): Promise<StartupRow[]> {
  const args = [`127.0.0.1:${sink.port}`, FROM, recipients(1)[0]];
  const commands: Record<string, string[]> = {
    "deno run -N simple.ts": [deno, "run", "-N", "simple.ts", ...args],
    [BARE]: [deno, "run", "-N", `${here}startup_bare.ts`, ...args],
    "python3 simple.py": [python, `${here}startup_smtplib.py`, ...args],
  };
  const names = Object.keys(commands);
  const runs: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const peaks: Record<string, number | undefined> = {};
  for (let round = -1; round < rounds; round++) {
    const order = names.map((_, k) => names[(k + Math.max(round, 0)) % names.length]);
    for (const name of order) {
      const warmUp = round < 0;
      const result = await runOk(warmUp ? timed(commands[name], rssFile) : commands[name]);
      if (!result.stdout.startsWith("Message sent to 1 recipient")) {
        throw new Error(`${name} printed ${JSON.stringify(result.stdout)}`);
      }
      await sink.next();
      if (warmUp) peaks[name] = peakKiB(rssFile);
      else runs[name].push(result.seconds);
    }
  }
  const ratios = (name: string, base: string) =>
    median(runs[name].map((seconds, i) => seconds / runs[base][i]));
  return names.map((name) => ({
    command: name,
    seconds: median(runs[name]),
    ratioToBare: ratios(name, BARE),
    ratioToPython: ratios(name, "python3 simple.py"),
    peakRssMiB: peaks[name] === undefined ? undefined : peaks[name]! / 1024,
    runs: runs[name],
  }));
}
