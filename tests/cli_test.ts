/**
 * Unit tests of the listings' command line (lib/cli.ts): the book's three
 * arguments, the usage line and its exit status, each script's `--help`,
 * `--timeout` and its limit, `--tls`, `--starttls` and `--pipelining`
 * anywhere among the arguments, Deno's options placed after the script
 * name, the hints, and the keys at the password prompt (and Ctrl-C there on
 * a pseudo-terminal made by script(1)).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type CommandLine,
  hintFor,
  MAX_TIMEOUT_SECONDS,
  parseCommandLine,
  passwordKey,
  type ScriptIO,
} from "../lib/cli.ts";
import { NetworkError, SMTPNotSupportedError, SMTPServerDisconnected } from "../lib/smtp.ts";

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

Deno.test("--tls, --starttls and --pipelining go anywhere, as the helper's options", () => {
  const cases: [string[], CommandLine["options"]][] = [
    [["--tls", "h", "a", "b"], { tls: true }],
    [["h", "--starttls", "a", "b"], { requireTls: true }],
    [["h", "a", "b", "--pipelining"], { pipelining: true }],
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
  assert.deepEqual(valued.stderr, ["simple.ts: --tls takes no value"]);
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
    assert.equal(stderr.length, 1);
    assert.match(stderr[0], /^simple\.ts: --timeout takes at most 2147483 seconds/);
  }
  const missing = parse(["h", "a", "b", "--timeout"]);
  assert.equal(missing.result, 2);
  assert.deepEqual(missing.stderr, ["simple.ts: --timeout takes a number of seconds above 0"]);
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
    assert.equal(stderr.length, 2);
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
      const option of ["--timeout SECONDS", "--tls", "--starttls", "--pipelining", "-h, --help"]
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

// ---- hints ----

const COMMAND: CommandLine = {
  prog: "login.ts",
  server: "smtp.example.com:587",
  fromaddr: "a@example.com",
  toaddrs: ["b@example.com"],
  options: {},
};

Deno.test("hint: no greeting, or TLS where a greeting should be, or port 465: try --tls", () => {
  const timeout = new NetworkError("Timed out after 300 s waiting for the server's greeting");
  assert.deepEqual(hintFor(timeout, COMMAND), [
    "the server sent no greeting: if it speaks TLS from the first byte (implicit TLS, as on port 465), try --tls:",
    "  deno run -N login.ts --tls smtp.example.com:587 a@example.com b@example.com",
  ]);
  const tls = new SMTPServerDisconnected("Connection unexpectedly closed: this looks like TLS");
  assert.equal(
    hintFor(tls, COMMAND)[0],
    "the server answered with TLS: it speaks TLS from the first byte (implicit TLS, as on port 465). Try --tls:",
  );
  const on465 = new SMTPServerDisconnected("Connection unexpectedly closed");
  assert.deepEqual(hintFor(on465, { ...COMMAND, server: "smtp.example.com:465" }), [
    "port 465 is for TLS from the first byte (implicit TLS): try --tls:",
    "  deno run -N login.ts --tls smtp.example.com:465 a@example.com b@example.com",
  ]);
  // Not with --tls given, and not for a plain refusal on port 25.
  assert.deepEqual(hintFor(timeout, { ...COMMAND, options: { tls: true } }), []);
  assert.deepEqual(hintFor(new NetworkError("Could not connect: refused"), COMMAND), []);
  // Nobody listening on 465 is no sign of TLS.
  const refused = new NetworkError("Could not connect to h:465: Connection refused (os error 111)");
  assert.deepEqual(hintFor(refused, { ...COMMAND, server: "h:465" }), []);
});

Deno.test("hint: a certificate from an unknown CA: Deno's --cert FILE or DENO_CERT", () => {
  const error = new NetworkError(
    "TLS handshake with 127.0.0.1 failed: invalid peer certificate: UnknownIssuer",
  );
  assert.deepEqual(hintFor(error, { ...COMMAND, prog: "tls.ts", options: { timeout: 5000 } }), [
    "the server's certificate is signed by a CA that Deno does not trust.",
    "If you have that CA's certificate (PEM), give it to Deno before the script name:",
    "  deno run -N --cert FILE tls.ts --timeout 5 smtp.example.com:587 a@example.com b@example.com",
    "or set DENO_CERT=FILE.",
  ]);
});

Deno.test("hint: a CA file Deno cannot read", () => {
  const error = new NetworkError(
    "TLS handshake failed: Failed opening CA file: No such file or directory (os error 2)",
  );
  const hint = hintFor(error, COMMAND);
  assert.match(hint[0], /^the CA file given to Deno with --cert or DENO_CERT cannot be read/);
});

Deno.test("hint: no AUTH but STARTTLS offered on a plain connection: try --starttls", () => {
  const error = new SMTPNotSupportedError("SMTP AUTH extension not supported by server.");
  const connection = (extensions: string[], isTls = false) =>
    ({ isTls, hasExtn: (name: string) => extensions.includes(name) }) as unknown as Parameters<
      typeof hintFor
    >[2];
  assert.deepEqual(hintFor(error, COMMAND, connection(["starttls"])), [
    "the server offers STARTTLS and no AUTH: it offers AUTH only after STARTTLS. Try --starttls:",
    "  deno run -N login.ts --starttls smtp.example.com:587 a@example.com b@example.com",
  ]);
  assert.deepEqual(hintFor(error, COMMAND, connection([])), []);
  assert.deepEqual(hintFor(error, COMMAND, connection(["starttls"], true)), []);
});

// ---- the password prompt ----

Deno.test("password prompt keys: Ctrl-C interrupts (exit 130), Ctrl-D ends an empty line", () => {
  assert.equal(passwordKey(0x03, 0), "interrupt");
  assert.equal(passwordKey(0x03, 5), "interrupt");
  assert.equal(passwordKey(0x04, 0), "end");
  assert.equal(passwordKey(0x04, 2), "char");
  assert.equal(passwordKey(0x0d, 0), "enter");
  assert.equal(passwordKey(0x0a, 3), "enter");
  assert.equal(passwordKey(0x7f, 1), "erase");
  assert.equal(passwordKey(0x08, 1), "erase");
  assert.equal(passwordKey(0x61, 0), "char");
});

// ---- Ctrl-C at login.ts's prompts, on a real terminal ----

/** Whether script(1) is here to give a child a pseudo-terminal. */
const hasScript = await new Deno.Command("script", { args: ["--version"], stdout: "null" })
  .output().then((o) => o.success, () => false);

/**
 * Runs login.ts on a pseudo-terminal (script -e reports its exit status),
 * types `before` at the user name prompt, then each of `keys` once
 * `waitFor` shows. Needs no network: it never gets past the prompts.
 */
async function loginOnTerminal(typed: { waitFor: string; keys: string }[]) {
  const login = new URL("../login.ts", import.meta.url).pathname;
  const child = new Deno.Command("script", {
    args: [
      "-qfec",
      `${Deno.execPath()} run -N ${login} 127.0.0.1:9 a@example.com b@example.com`,
      "/dev/null",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const writer = child.stdin.getWriter();
  const reader = child.stdout.getReader();
  let seen = "";
  for (const { waitFor, keys } of typed) {
    while (!seen.includes(waitFor)) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += new TextDecoder().decode(value);
    }
    await writer.write(new TextEncoder().encode(keys));
  }
  await writer.close();
  // Read to the end: a closed pipe would end script(1) with SIGPIPE instead.
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += new TextDecoder().decode(value);
  }
  const status = await child.status;
  clearTimeout(killer);
  return { code: status.code, seen };
}

Deno.test({
  name: "login.ts: Ctrl-C at either prompt on a terminal exits 130",
  ignore: !hasScript,
  fn: async () => {
    // The password prompt reads raw bytes: 0x03 arrives as a byte.
    const atPassword = await loginOnTerminal([
      { waitFor: "Enter username: ", keys: "brandon\r" },
      { waitFor: "Enter password: ", keys: "ab\x03" },
    ]);
    assert.equal(atPassword.code, 130, atPassword.seen);
    assert.doesNotMatch(atPassword.seen, /end of input|ab/);
    // The user name prompt is a cooked line: the terminal sends SIGINT.
    const atUser = await loginOnTerminal([{ waitFor: "Enter username: ", keys: "\x03" }]);
    assert.equal(atUser.code, 130, atUser.seen);
  },
});
