/**
 * Unit tests of the listings' command line (lib/cli.ts): the book's three
 * arguments, the usage line and its exit status, `--help` and `--timeout`,
 * and the SMTP options handed on to the helper.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type CommandLine, parseCommandLine, type ScriptIO } from "../lib/cli.ts";

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
      server: "localhost:2525",
      fromaddr: "a@example.com",
      toaddrs: ["b@example.com", "c@example.com"],
      options: {},
    } satisfies CommandLine,
  );
  assert.deepEqual(stdout, []);
});

Deno.test("fewer than three arguments prints the usage line on stdout, status 2", () => {
  for (const args of [[], ["h"], ["h", "a@example.com"]]) {
    const { result, stdout, stderr } = parse(args);
    assert.equal(result, 2);
    assert.deepEqual(stdout, [USAGE]);
    assert.deepEqual(stderr, []);
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
  assert.equal(stderr.length, 1);
  assert.match(stderr[0], /^simple\.ts: .*'-x'/);
});

Deno.test("--timeout takes seconds and becomes the helper's milliseconds", () => {
  const { result } = parse(["--timeout", "2.5", "h", "a", "b"]);
  assert.deepEqual((result as CommandLine).options, { timeout: 2500 });
  const after = parse(["h", "a", "--timeout=1", "b"]);
  assert.deepEqual(after.result, {
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
