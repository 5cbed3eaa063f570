/**
 * The listings' command line run as a reader types it (`deno run -N X.ts
 * ...`, as a real subprocess): Deno's options after the script name get
 * the corrected command, and a `--timeout` past Deno's longest timer is a
 * usage error before anything connects.
 *
 * @module
 */

import assert from "node:assert/strict";
import { startServer } from "./hostile/server.ts";
import { ALL, FROM, type Listing, ROOT, type Run, TO } from "./faults_run.ts";

// ---- the command line, run as a reader types it ----

/** Runs `deno run [deno] X.ts args...` and returns what it printed. */
async function runPlain(deno: string[], listing: Listing, args: string[]): Promise<Run> {
  const started = performance.now();
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...deno, `${listing}.ts`, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  const stdout = decoder.decode(output.stdout).replace(/\n$/, "").split("\n");
  return {
    stdout,
    stderr: decoder.decode(output.stderr),
    code: output.code,
    ms: performance.now() - started,
  };
}

Deno.test("fault: Deno's options after the script name: the corrected command, exit 2", async () => {
  const cert = await runPlain(["-N"], "tls", ["--cert", "ca.pem", "127.0.0.1:2525", FROM, TO]);
  assert.equal(cert.code, 2);
  assert.deepEqual(cert.stdout, ["Syntax: tls.ts server fromaddr toaddr [toaddr...]"]);
  assert.equal(
    cert.stderr,
    "tls.ts: '--cert' is Deno's option, not tls.ts's: Deno's options go before the script name, as in\n" +
      `tls.ts:   deno run -N --cert ca.pem tls.ts 127.0.0.1:2525 ${FROM} ${TO}\n`,
  );
  const net = await runPlain(["-N"], "simple", ["-N", "127.0.0.1:2525", FROM, TO]);
  assert.equal(net.code, 2);
  assert.deepEqual(net.stdout, ["usage: simple.ts server fromaddr toaddr [toaddr...]"]);
  assert.match(net.stderr, /^simple\.ts: '-N' is Deno's option/);
  assert.match(net.stderr, /\nsimple\.ts: {3}deno run -N simple\.ts 127\.0\.0\.1:2525 /);
  assert.doesNotMatch(cert.stderr + net.stderr, /positional|Uncaught/);
});

Deno.test("fault: --timeout above 2147483 s: a usage error at once, no 1 ms timer", async () => {
  await using server = startServer((s) => s.send("220 hostile.test\r\n"));
  await Promise.all(ALL.map(async (listing) => {
    const result = await runPlain(["-N"], listing, [
      "--timeout",
      "3000000",
      server.address,
      FROM,
      TO,
    ]);
    assert.equal(result.code, 2, listing);
    assert.match(result.stderr, /--timeout takes at most 2147483 seconds/);
    assert.doesNotMatch(result.stderr, /TimeoutOverflowWarning|timed out/i);
  }));
  assert.deepEqual(await server.finished(), [], "nothing connected");
});
