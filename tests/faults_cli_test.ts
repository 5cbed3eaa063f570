/**
 * The listings' command line run as a reader types it (`deno run -N X.ts
 * ...`, as a real subprocess): Deno's options after the script name get
 * the corrected command, a `--timeout` past Deno's longest timer or a server
 * with no valid port is a usage error before anything connects, the usage
 * line points to `-h`, and a server that sends no greeting gets a notice
 * after 5 s and the `--tls` hint when it closes or the wait runs out.
 *
 * @module
 */

import assert from "node:assert/strict";
import { delay, startServer } from "./hostile/server.ts";
import { ALL, FAILED, FROM, type Listing, ROOT, type Run, TO } from "./faults_run.ts";

// ---- the command line, run as a reader types it ----

/** Runs `deno run [deno] X.ts args...` (with `stdin` typed in) and returns what it printed. */
async function runPlain(
  deno: string[],
  listing: Listing,
  args: string[],
  stdin?: string,
): Promise<Run> {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...deno, `${listing}.ts`, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const output = await child.output();
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
      `tls.ts:   deno run -N --cert ca.pem tls.ts 127.0.0.1:2525 ${FROM} ${TO}\n(-h for help)\n`,
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

/** The book's usage line of each listing. */
function usageOf(listing: Listing): string {
  const word = listing === "login" || listing === "tls" ? "Syntax" : "usage";
  return `${word}: ${listing}.ts server fromaddr toaddr [toaddr...]`;
}

Deno.test("fault: no arguments: the book's usage line on stdout, (-h for help) on stderr, exit 2", async () => {
  await Promise.all(ALL.map(async (listing) => {
    const result = await runPlain(["-N"], listing, []);
    assert.equal(result.code, 2, listing);
    assert.deepEqual(result.stdout, [usageOf(listing)]);
    assert.equal(result.stderr, "(-h for help)\n");
  }));
});

Deno.test("fault: host:notaport, :99999, :0 are usage errors (exit 2), nothing dialled", async () => {
  await using server = startServer((s) => s.send("220 hostile.test\r\n"));
  const runs = ALL.flatMap((listing) =>
    ["notaport", "99999", "0"].map(async (port) => {
      const result = await runPlain(["-N"], listing, [`127.0.0.1:${port}`, FROM, TO]);
      assert.equal(result.code, 2, `${listing} :${port}`);
      assert.deepEqual(result.stdout, [usageOf(listing)]);
      assert.equal(
        result.stderr,
        `${listing}.ts: invalid port in server address '127.0.0.1:${port}': a server is host, ` +
          "host:port or [v6addr]:port, port 1 to 65535\n(-h for help)\n",
      );
    })
  );
  await Promise.all(runs);
  assert.deepEqual(await server.finished(), [], "nothing connected");
});

Deno.test("fault: no greeting: a notice after 5 s, then the --tls hint when the server closes or the wait ends", async () => {
  // Like provider mode's implicit-TLS port without --tls: connected, then silence.
  await using closing = startServer(async (s) => {
    await delay(5600);
    s.close();
  });
  await using silent = startServer((s) => s.stall());
  const notice = (listing: Listing, address: string) =>
    `${listing}.ts: no greeting yet from ${address} after 5 s; if this port speaks TLS from the ` +
    "first byte (like 465), try --tls";
  const note = (listing: Listing) =>
    `${listing}.ts:   (add any Deno options you gave before ${listing}.ts, such as --cert FILE: ` +
    `${listing}.ts cannot see them)`;
  const [ehlo, login, debug] = await Promise.all([
    runPlain(["-N"], "ehlo", [closing.address, FROM, TO]),
    runPlain(["-N"], "login", [closing.address, FROM, TO], "brandon\nabc123\n"),
    runPlain(["-N"], "debug", ["--timeout", "6.5", silent.address, FROM, TO]),
  ]);
  for (const [listing, result] of [["ehlo", ehlo], ["login", login]] as const) {
    assert.equal(result.code, 1, listing);
    // login.ts's prompt ends without a newline; its password prompt went to stderr.
    assert.deepEqual(result.stdout.map((l) => l.replace(/^Enter username: /, "")), [
      FAILED,
      "Connection unexpectedly closed",
    ]);
    assert.deepEqual(result.stderr.split("\n").filter((l) => l.startsWith(listing)), [
      notice(listing, closing.address),
      `${listing}.ts: the server closed the connection without a greeting: if it speaks TLS from ` +
      "the first byte (implicit TLS, as on port 465), try --tls:",
      `${listing}.ts:   deno run -N ${listing}.ts --tls ${closing.address} ${FROM} ${TO}`,
      note(listing),
    ]);
  }
  assert.equal(debug.code, 1);
  assert.deepEqual(debug.stdout, [
    FAILED,
    "Timed out after 6.5 s waiting for the server's greeting",
  ]);
  assert.deepEqual(debug.stderr.trimEnd().split("\n"), [
    notice("debug", silent.address),
    "debug.ts: the server sent no greeting: if it speaks TLS from the first byte (implicit TLS, " +
    "as on port 465), try --tls:",
    `debug.ts:   deno run -N debug.ts --tls --timeout 6.5 ${silent.address} ${FROM} ${TO}`,
    note("debug"),
  ]);
});

Deno.test("fault: a server that greets at once gets no notice", async () => {
  await using server = startServer(async (s) => {
    await s.send("220 hostile.test\r\n");
    await s.answer(/^ehlo /, "250 hostile.test\r\n");
    await s.answer(/^mail FROM:/, "250 ok\r\n");
    await s.answer(/^rcpt TO:/, "250 ok\r\n");
    await s.answer(/^data/, "354 go on\r\n");
    await s.readData();
    await s.send("250 queued\r\n");
    await s.answer(/^quit/, "221 bye\r\n");
  });
  const result = await runPlain(["-N"], "simple", [server.address, FROM, TO]);
  assert.equal(result.code, 0);
  assert.deepEqual(result.stdout, ["Message sent to 1 recipient"]);
  // Had the notice's timer outlived the greeting, it would have printed (and held on for 5 s).
  assert.equal(result.stderr, "");
});
