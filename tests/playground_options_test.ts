/**
 * `deno task playground`'s options, run as a reader types them (a real
 * subprocess): `--tls-port` or `--submission-port` turn provider mode on
 * without `--provider`, as the help says, rather than being ignored; a bad port is a usage
 * error (exit 2) that starts nothing.
 *
 * @module
 */

import assert from "node:assert/strict";
import { PROJECT } from "./playground_run.ts";

/** Starts playground/main.ts with `args`; returns its stdout up to the "Read the mail" line. */
async function banner(args: string[]): Promise<string> {
  const dataDir = await Deno.makeTempDir({ prefix: "playground-options-test-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--allow-write",
      "playground/main.ts",
      "--data",
      dataDir,
      "--quiet",
      ...args,
    ],
    cwd: PROJECT,
    stdout: "piped",
    stderr: "piped",
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let output = "";
  try {
    while (!output.includes("Read the mail with")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the playground exited: ${output}`);
      output += value;
    }
  } finally {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await reader.cancel();
    await child.stderr.cancel();
    await child.status;
    await Deno.remove(dataDir, { recursive: true });
  }
  return output;
}

Deno.test("playground: --tls-port and --submission-port without --provider turn it on", async () => {
  // Free ports for both: the defaults (2465, 2527) may be in use on a shared machine.
  const [given, neither] = await Promise.all([
    banner(["--port", "0", "--tls-port", "0", "--submission-port", "0"]),
    banner(["--port", "0"]),
  ]);
  assert.match(given, /^Provider mode, as a mail provider's ports 465 and 587/m);
  assert.match(given, /implicit TLS on 127\.0\.0\.1:\d+, submission \(STARTTLS, then AUTH\)/);
  assert.doesNotMatch(neither, /Provider mode/);
});

Deno.test("playground: -h says that either port implies --provider", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.1", "--allow-read", "playground/main.ts", "-h"],
    cwd: PROJECT,
    env: { NO_COLOR: "1" },
  }).output();
  const help = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0);
  assert.match(help, /--tls-port N {10}.*\n {24}implies --provider\n/);
  assert.match(help, /--submission-port N {3}.*\n {24}implies --provider\n/);
});

Deno.test("playground: a bad --tls-port is a usage error, exit 2, even without --provider", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.1", "--allow-read", "playground/main.ts"].concat(
      ["--tls-port", "99999"],
    ),
    cwd: PROJECT,
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(output.code, 2);
  assert.match(
    new TextDecoder().decode(output.stderr),
    /^playground: --tls-port takes 0 to 65535\n/,
  );
});
