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
 * counts.
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
  /** The proxy's own lateness in each run, in round trips (`Session.lateMs` in bench/proxy.ts). */
  late: number[];
}

/** One send through a fresh proxy, started. */
interface Send {
  /** Resolves once the client has connected (its start-up is over). */
  connected: Promise<void>;
  /** The round trips, and whether the session ended with QUIT's reply. */
  done: Promise<{ rtt: number; quit: boolean; late: number }>;
}

function startSend(sinkPort: number, sender: SenderName, file: string, count: number): Send {
  const proxy = new DelayProxy(sinkPort, DELAY_MS);
  const done = (async () => {
    try {
      await runOk(senderCommand(sender, proxy.port, file, count));
      const session = proxy.sessions[0];
      if (session?.lastReplySeconds === undefined) {
        throw new Error(`${sender}: no reply went through the proxy`);
      }
      return {
        rtt: session.lastReplySeconds * 1000 / RTT_MS,
        quit: session.quitReplied,
        late: session.lateMs / RTT_MS,
      };
    } finally {
      proxy.close();
    }
  })();
  // A client that fails before connecting ends `connected` too (its error is in `done`).
  const ended = done.then(() => {}, () => {});
  return { connected: Promise.race([proxy.connected, ended]), done };
}

/**
 * Runs `rounds` rounds of every client at every count, sending `file` (the
 * book's message) to the sink on `sinkPort`. Each send leaves one record in
 * the sink's output, for the caller to take: `rounds * 8` in all.
 *
 * The sends that wait for every RCPT's reply at 100 recipients (five
 * seconds each) start at the beginning of their round and run on in the
 * background; the round's other sends go one after another once those have
 * connected, so no start-up overlaps a timed session of the same round.
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
    late: [],
  }));
  const jobs = CLIENTS.flatMap((client, i) => COUNTS.map((count) => ({ client, i, count })));
  const slow = jobs.filter((job) => !job.client.pipelines && job.count > 1);
  const quick = jobs.filter((job) => !slow.includes(job));
  const record = (job: typeof jobs[number], send: Send) =>
    send.done.then(({ rtt, quit, late }) => {
      rows[job.i].runs[job.count].push(rtt);
      rows[job.i].quit &&= quit;
      rows[job.i].late.push(late);
    });
  const background: Promise<unknown>[] = [];
  let failure: unknown;
  try {
    for (let round = 0; round < rounds; round++) {
      const sends = slow.map((job) => startSend(sinkPort, job.client.sender, file, job.count));
      // Handled now, awaited at the end: a failure must not go unhandled meanwhile.
      background.push(...slow.map((job, k) => record(job, sends[k]).catch((error) => error)));
      await Promise.all(sends.map((send) => send.connected));
      // A different order each round, so no client always goes first.
      for (let k = 0; k < quick.length; k++) {
        const job = quick[(k + round) % quick.length];
        await record(job, startSend(sinkPort, job.client.sender, file, job.count));
      }
    }
  } catch (error) {
    failure = error;
  }
  failure ??= (await Promise.all(background)).find((result) => result instanceof Error);
  if (failure) throw failure;
  for (const row of rows) {
    for (const count of COUNTS) row.rtt[count] = median(row.runs[count]);
  }
  return rows;
}
