/**
 * Fault injection after the message is accepted: the server hangs up,
 * stays silent or resets the connection at QUIT. The message is sent, so
 * each listing still prints its success line and exits 0, with one notice
 * on stderr. Each listing runs as a real `deno run` subprocess against the
 * hostile server (harness: faults_run.ts).
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Script, type Session, startResetAtServer } from "./hostile/server.ts";
import {
  ALL,
  counts,
  hello,
  helloSent,
  type Listing,
  run,
  scenario,
  sendSent,
  success,
  TIMED_OUT,
} from "./faults_run.ts";

// ---- the message accepted, then QUIT goes unanswered ----

const NOTICE = "the server accepted the message but did not answer QUIT: ";

/** Accepts the message, then does `atQuit` instead of answering QUIT. */
function acceptedThen(listing: Listing, atQuit: (s: Session) => Promise<void>): Script {
  return async (s) => {
    await hello(s, listing);
    await s.answer(/^mail FROM:/, "250 2.1.0 Ok\r\n");
    await s.answer(/^rcpt TO:/, "250 2.1.5 Ok\r\n");
    await s.answer(/^data$/, "354 End data with <CR><LF>.<CR><LF>\r\n");
    await s.readData();
    await s.send("250 2.0.0 Ok: queued\r\n");
    await s.expect(/^quit$/);
    await atQuit(s);
  };
}

scenario("accepted, then the server hangs up at QUIT", ALL, (listing) => ({
  server: acceptedThen(listing, (s) => Promise.resolve(s.close())),
  expected: {
    ...success(listing),
    stderrLines: [new RegExp(`^${listing}\\.ts: ${NOTICE}Connection unexpectedly closed`)],
  },
}));

scenario("accepted, then the server stays silent at QUIT", ALL, (listing) => ({
  server: acceptedThen(listing, async () => {}),
  expected: {
    ...success(listing),
    stderrLines: [`${listing}.ts: ${NOTICE}${TIMED_OUT}`],
    waits: true,
  },
}));

counts.scenarios++;
Deno.test("fault: accepted, then the connection is reset at QUIT", async () => {
  await Promise.all(ALL.map(async (listing) => {
    const server = await startResetAtServer(/^quit$/);
    const result = await run(listing, server.address);
    counts.runs++;
    assert.deepEqual(await server.finished(), [...helloSent(listing), ...sendSent(listing)]);
    assert.deepEqual(result.stdout, success(listing).stdout, `${listing}.ts\n${result.stderr}`);
    assert.equal(result.code, 0, listing);
    const notices = result.stderr.split("\n").filter((line) => line.includes(NOTICE));
    assert.equal(notices.length, 1, result.stderr);
    assert.match(notices[0], new RegExp(`^${listing}\\.ts: ${NOTICE}.*reset`), result.stderr);
    assert.doesNotMatch(result.stderr, /Uncaught/);
  }));
});
