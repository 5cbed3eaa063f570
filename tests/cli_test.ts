/**
 * Unit tests of the listings' command line (lib/cli.ts): the book's three
 * arguments, the usage line and its exit status, each script's `--help`,
 * `--timeout` and its limit, `--tls`, `--starttls` and `--pipelining`
 * anywhere among the arguments, and Deno's options placed after the script
 * name. The hints are in hints_test.ts, the prompts in prompt_test.ts.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type CommandLine,
  MAX_TIMEOUT_SECONDS,
  parseCommandLine,
  type ScriptIO,
} from "../lib/cli.ts";

/** Parses `args` for a listing, capturing what it prints. */
function parse(args: string[], smtp?: ScriptIO["smtp"], word: "usage" | "Syntax" = "usage") {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const result = parseCommandLine("simple.ts", word, args, {
    print: (line) => stdout.push(line),
    printError: (line) => stderr.push(line),
    smtp,
  });
  return { result, stdout, stderr };
}

const USAGE = "usage: simple.ts server fromaddr toaddr [toaddr...]";

Deno.test("three arguments or more: server, sender, recipients", () => {
  const { result, stdout } = parse([
    "localhost:2525",
    "a@example.com",
    "b@example.com",
    "c@example.com",
  ]);
  assert.deepEqual(
    result,
    {
      prog: "simple.ts",
      server: "localhost:2525",
      fromaddr: "a@example.com",
      toaddrs: ["b@example.com", "c@example.com"],
      options: {},
    } satisfies CommandLine,
  );
  assert.deepEqual(stdout, []);
});

Deno.test("fewer than three arguments: the book's usage line on stdout, -h pointed to on stderr, 2", () => {
  for (const args of [[], ["h"], ["h", "a@example.com"]]) {
    const { result, stdout, stderr } = parse(args);
    assert.equal(result, 2);
    assert.deepEqual(stdout, [USAGE]);
    assert.deepEqual(stderr, ["(-h for help)"]);
  }
  const syntax = parse([], undefined, "Syntax");
  assert.deepEqual(syntax.stdout, ["Syntax: simple.ts server fromaddr toaddr [toaddr...]"]);
});

Deno.test("-h and --help print the usage first and return 0", () => {
  for (const flag of ["-h", "--help"]) {
    const { result, stdout } = parse([flag]);
    assert.equal(result, 0);
    assert.equal(stdout[0], USAGE);
    assert.ok(stdout.some((line) => line.includes("--timeout")));
  }
});

Deno.test("an unknown option is a usage error naming the option", () => {
  const { result, stdout, stderr } = parse(["-x", "h", "a", "b"]);
  assert.equal(result, 2);
  assert.deepEqual(stdout, [USAGE]);
  assert.deepEqual(stderr, ["simple.ts: unknown option '-x'", "(-h for help)"]);
});

Deno.test("--timeout takes seconds and becomes the helper's milliseconds", () => {
  const { result } = parse(["--timeout", "2.5", "h", "a", "b"]);
  assert.deepEqual((result as CommandLine).options, { timeout: 2500 });
  const after = parse(["h", "a", "--timeout=1", "b"]);
  assert.deepEqual(after.result, {
    prog: "simple.ts",
    server: "h",
    fromaddr: "a",
    toaddrs: ["b"],
    options: { timeout: 1000 },
  });
  for (const bad of ["0", "-1", "abc", "Infinity", ""]) {
    const { result, stdout, stderr } = parse([`--timeout=${bad}`, "h", "a", "b"]);
    assert.equal(result, 2, bad);
    assert.deepEqual(stdout, [USAGE]);
    assert.equal(stderr[0], "simple.ts: --timeout takes a number of seconds above 0");
  }
});

Deno.test("io.smtp is passed on to the helper and wins over --timeout", () => {
  const dial = () => Promise.reject(new Error("not used"));
  const { result } = parse(["--timeout", "3", "h", "a", "b"], { dial, timeout: 50 });
  assert.equal((result as CommandLine).options.dial, dial);
  assert.equal((result as CommandLine).options.timeout, 50);
});

Deno.test("--tls, --starttls, --pipelining and --chunking go anywhere, as the helper's options", () => {
  const cases: [string[], CommandLine["options"]][] = [
    [["--tls", "h", "a", "b"], { tls: true }],
    [["h", "--starttls", "a", "b"], { requireTls: true }],
    [["h", "a", "b", "--pipelining"], { pipelining: true }],
    [["h", "a", "--chunking", "b"], { chunking: true }],
    [["--pipelining", "h", "a", "--timeout", "7", "b", "--tls"], {
      pipelining: true,
      timeout: 7000,
      tls: true,
    }],
  ];
  for (const [args, options] of cases) {
    const { result, stdout, stderr } = parse(args);
    assert.deepEqual(result, {
      prog: "simple.ts",
      server: "h",
      fromaddr: "a",
      toaddrs: ["b"],
      options,
    });
    assert.deepEqual([stdout, stderr], [[], []]);
  }
});

Deno.test("-- ends the options: what follows is an argument, even with a dash", () => {
  const { result } = parse(["h", "a", "--", "--tls", "-x"]);
  assert.deepEqual((result as CommandLine).toaddrs, ["--tls", "-x"]);
  assert.deepEqual((result as CommandLine).options, {});
});

Deno.test("--tls with --starttls, or a flag with a value, is a usage error", () => {
  const both = parse(["--tls", "--starttls", "h", "a", "b"]);
  assert.equal(both.result, 2);
  assert.deepEqual(both.stdout, [USAGE]);
  assert.match(both.stderr[0], /^simple\.ts: --tls and --starttls do not go together/);
  const valued = parse(["--tls=yes", "h", "a", "b"]);
  assert.equal(valued.result, 2);
  assert.deepEqual(valued.stderr, ["simple.ts: --tls takes no value", "(-h for help)"]);
});

Deno.test("--timeout above the largest timer is refused, naming the limit", () => {
  assert.equal(MAX_TIMEOUT_SECONDS, 2147483);
  const limit = parse(["--timeout", "2147483", "h", "a", "b"]);
  assert.equal((limit.result as CommandLine).options.timeout, 2147483000);
  assert.ok(2147483000 <= 2 ** 31 - 1);
  for (const big of ["2147484", "3000000", "1e100"]) {
    const { result, stdout, stderr } = parse(["--timeout", big, "h", "a", "b"]);
    assert.equal(result, 2, big);
    assert.deepEqual(stdout, [USAGE]);
    assert.equal(stderr.length, 2);
    assert.match(stderr[0], /^simple\.ts: --timeout takes at most 2147483 seconds/);
  }
  const missing = parse(["h", "a", "b", "--timeout"]);
  assert.equal(missing.result, 2);
  assert.deepEqual(missing.stderr, [
    "simple.ts: --timeout takes a number of seconds above 0",
    "(-h for help)",
  ]);
});

Deno.test("Deno's options after the script name: say so, and give the corrected command", () => {
  const out: string[] = [];
  const err: string[] = [];
  const cert = parseCommandLine("tls.ts", "Syntax", [
    "--cert",
    "ca.pem",
    "127.0.0.1:2525",
    "sender@example.com",
    "brandon@example.com",
  ], { print: (l) => out.push(l), printError: (l) => err.push(l) });
  assert.equal(cert, 2);
  assert.deepEqual(out, ["Syntax: tls.ts server fromaddr toaddr [toaddr...]"]);
  assert.deepEqual(err, [
    "tls.ts: '--cert' is Deno's option, not tls.ts's: Deno's options go before the script name, as in",
    "tls.ts:   deno run -N --cert ca.pem tls.ts 127.0.0.1:2525 sender@example.com brandon@example.com",
    "(-h for help)",
  ]);

  const cases: [string[], string][] = [
    [["-N", "h", "a", "b"], "deno run -N simple.ts h a b"],
    [["h", "-A", "a", "b"], "deno run -A simple.ts h a b"],
    [
      ["--allow-net", "h", "a", "b", "--timeout", "3"],
      "deno run --allow-net simple.ts h a b --timeout 3",
    ],
    [["-R", "--unstable-net", "h", "a", "b"], "deno run -N -R --unstable-net simple.ts h a b"],
    [
      ["--allow-net=127.0.0.1", "--cert=x y.pem", "[::1]:25", "a", "b"],
      "deno run --allow-net=127.0.0.1 '--cert=x y.pem' simple.ts '[::1]:25' a b",
    ],
    [["-NR", "--no-check", "h", "a", "b"], "deno run -NR --no-check simple.ts h a b"],
  ];
  for (const [args, command] of cases) {
    const { result, stdout, stderr } = parse(args);
    assert.equal(result, 2, args.join(" "));
    assert.deepEqual(stdout, [USAGE]);
    assert.equal(stderr.length, 3);
    assert.match(stderr[0], /Deno's options? go before the script name/);
    assert.equal(stderr[1], `simple.ts:   ${command}`);
    for (const line of stderr) assert.doesNotMatch(line, /positional|place it at the end/);
  }
  const two = parse(["-N", "--cert", "ca.pem", "h", "a", "b"]);
  assert.match(two.stderr[0], /^simple\.ts: '-N', '--cert' are Deno's options, not simple\.ts's/);
});

Deno.test("each script's -h is its own: what it shows, options, exit statuses", () => {
  const shows: Record<string, RegExp> = {
    "simple.ts": /book's simple\.py/,
    "ehlo.ts": /book's ehlo\.py: .*SIZE/s,
    "debug.ts": /book's debug\.py: .*stderr/s,
    "login.ts": /book's login\.py: asks 'Enter username: ' and 'Enter password: '/,
    "tls.ts": /book's tls\.py: .*--cert FILE.*DENO_CERT/s,
  };
  for (const [prog, what] of Object.entries(shows)) {
    const stdout: string[] = [];
    const word = prog === "login.ts" || prog === "tls.ts" ? "Syntax" : "usage";
    const status = parseCommandLine(prog, word, ["-h"], { print: (l) => stdout.push(l) });
    assert.equal(status, 0);
    assert.equal(stdout[0], `${word}: ${prog} server fromaddr toaddr [toaddr...]`);
    const text = stdout.join("\n");
    assert.match(text, what, prog);
    assert.match(text, /port 25/);
    assert.match(text, /port 465 with --tls/);
    for (
      const option of [
        "--timeout SECONDS",
        "--tls",
        "--starttls",
        "--pipelining",
        "--chunking",
        "-h, --help",
      ]
    ) {
      assert.ok(text.includes(option), `${prog}: ${option}`);
    }
    assert.match(text, /Deno's own options go before the script name/);
    for (const status of ["0", "1", "2", "130"]) {
      assert.match(text, new RegExp(`^  ${status} +\\S`, "m"), `${prog}: status ${status}`);
    }
    assert.equal(/^ {2}5 +\S/m.test(text), prog === "tls.ts", `${prog}: status 5`);
  }
});

Deno.test("a server with no valid port or no host is a usage error, before anything else", () => {
  const cases: [string, string][] = [
    ["127.0.0.1:notaport", "invalid port in server address '127.0.0.1:notaport'"],
    ["127.0.0.1:99999", "invalid port in server address '127.0.0.1:99999'"],
    ["127.0.0.1:0", "invalid port in server address '127.0.0.1:0'"],
    ["[::1]:x", "invalid port in server address '[::1]:x'"],
    [":2525", "no host in server address ':2525'"],
  ];
  for (const [server, why] of cases) {
    const { result, stdout, stderr } = parse([server, "a@example.com", "b@example.com"]);
    assert.equal(result, 2, server);
    assert.deepEqual(stdout, [USAGE]);
    assert.deepEqual(stderr, [
      `simple.ts: ${why}: a server is host, host:port or [v6addr]:port, port 1 to 65535`,
      "(-h for help)",
    ]);
  }
  for (const server of ["h", "h:1", "h:65535", "[::1]:2525", "::1", "[::1]"]) {
    assert.equal(typeof parse([server, "a", "b"]).result, "object", server);
  }
});

Deno.test("-h says the units: seconds here, milliseconds in the library", () => {
  const { stdout } = parse(["-h"]);
  const text = stdout.join("\n");
  assert.match(text, /--timeout SECONDS +give up on a silent server after this many seconds/);
  assert.match(text, /The library's timeout option is in ms\./);
});
