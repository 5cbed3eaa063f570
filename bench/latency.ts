/**
 * The latency table: how many round trips each client needs to send the
 * book's small message to 1 and to 100 recipients, through a
 * {@link DelayProxy} that delays every chunk 25 ms each way (a 50 ms round
 * trip) in front of the sink.
 *
 * What is timed, for every client alike: from the proxy accepting the
 * client's connection to the proxy handing it the reply to QUIT. Divided by
 * 50 ms, that is the round trips. A client that closes without QUIT
 * (Nodemailer's SMTP transport does) is timed to the last reply it got, and
 * its row says so. The TCP handshake is not delayed, so the floor for a
 * pipelining client is 4.5 (half for the greeting, one each for EHLO, the
 * envelope, the data and QUIT).
 *
 * Each round runs every client at both counts; the median of the rounds
 * counts. The two sends that wait for every RCPT's reply (about 100 round
 * trips, five seconds) run in the background of each round while the
 * others run one after another.
 *
 * @module
 */

import { DelayProxy } from "./proxy.ts";
import { median, runOk, senderCommand, type SenderName } from "./util.ts";

/** The delay each way, in milliseconds. */
export const DELAY_MS = 25;
/** The round-trip time the proxy makes. */
export const RTT_MS = 2 * DELAY_MS;
/** The recipient counts measured. */
export const COUNTS = [1, 100];

/** A client in the latency table, and whether it pipelines the envelope. */
const CLIENTS: { name: string; sender: SenderName; pipelines: boolean }[] = [
  { name: "helper (plain)", sender: "helper", pipelines: false },
  { name: "helper (pipelined)", sender: "helper-pipelined", pipelines: true },
  { name: "smtplib", sender: "smtplib", pipelines: false },
  { name: "Nodemailer", sender: "nodemailer", pipelines: true },
];

/** One client's round trips: the median per recipient count, and every run. */
export interface LatencyRow {
  client: string;
  /** Median round trips, by recipient count. */
  rtt: Record<number, number>;
  /** Every run's round trips, by recipient count. */
  runs: Record<number, number[]>;
  /** Whether every run ended with QUIT's reply (else with the last reply before closing). */
  quit: boolean;
}

/** One send through a fresh proxy; its round trips, and whether it ended with QUIT. */
async function roundTrips(
  sinkPort: number,
  sender: SenderName,
  file: string,
  count: number,
): Promise<{ rtt: number; quit: boolean }> {
  const proxy = new DelayProxy(sinkPort, DELAY_MS);
  try {
    await runOk(senderCommand(sender, proxy.port, file, count));
    const session = proxy.sessions[0];
    if (session?.lastReplySeconds === undefined) {
      throw new Error(`${sender}: no reply went through the proxy`);
    }
    return { rtt: session.lastReplySeconds * 1000 / RTT_MS, quit: session.quitReplied };
  } finally {
    proxy.close();
  }
}

/**
 * Runs `rounds` rounds of every client at every count, sending `file` (the
 * book's message) to the sink on `sinkPort`. Each send leaves one record in
 * the sink's output, for the caller to take: `rounds * 8` in all.
 */
export async function measureLatency(
  sinkPort: number,
  file: string,
  rounds: number,
): Promise<LatencyRow[]> {
  const rows: LatencyRow[] = CLIENTS.map((c) => ({
    client: c.name,
    rtt: {},
    runs: Object.fromEntries(COUNTS.map((count) => [count, []])),
    quit: true,
  }));
  const jobs = CLIENTS.flatMap((client, i) => COUNTS.map((count) => ({ client, i, count })));
  for (let round = 0; round < rounds; round++) {
    const measure = async (job: typeof jobs[number]) => {
      const { rtt, quit } = await roundTrips(sinkPort, job.client.sender, file, job.count);
      rows[job.i].runs[job.count].push(rtt);
      rows[job.i].quit &&= quit;
    };
    const slow = jobs.filter((job) => !job.client.pipelines && job.count > 1);
    const quick = jobs.filter((job) => !slow.includes(job));
    // A different order each round, so no client always goes first.
    const order = quick.map((_, k) => quick[(k + round) % quick.length]);
    const background = Promise.all(slow.map(measure));
    try {
      for (const job of order) await measure(job);
    } finally {
      await background;
    }
  }
  for (const row of rows) {
    for (const count of COUNTS) row.rtt[count] = median(row.runs[count]);
  }
  return rows;
}
