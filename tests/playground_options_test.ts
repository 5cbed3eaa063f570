/**
 * `deno task playground`'s options, run as a reader types them (a real
 * subprocess): `--tls-port` or `--submission-port` turn provider mode on
 * without `--provider`, as the help says, rather than being ignored; a bad port is a usage
 * error (exit 2) that starts nothing.
 *
 * @module
 */

import assert from "node:assert/strict";
import { PROJECT, withPlaygroundProcess } from "./playground_run.ts";

/** The banner of playground/main.ts started with `--port 0` and `args`. */
async function banner(args: string[]): Promise<string> {
  let printed = "";
  await withPlaygroundProcess(({ banner }) => {
    printed = banner;
    return Promise.resolve();
  }, { prefix: "playground-options-test-", stop: "SIGTERM", args });
  return printed;
}

Deno.test("playground: --tls-port and --submission-port without --provider turn it on", async () => {
  // Free ports for both: the defaults (2465, 2527) may be in use on a shared machine.
  const [given, neither] = await Promise.all([
    banner(["--tls-port", "0", "--submission-port", "0"]),
    banner([]),
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

Deno.test("playground: the banner prints the web port's URL, which answers; --no-web has none", async () => {
  await withPlaygroundProcess(async ({ banner }) => {
    const url = /^Mail and sessions on the web: (http:\/\/127\.0\.0\.1:\d+\/) \(JSON: \1api\/\)$/m
      .exec(banner)?.[1];
    assert.ok(url, banner);
    const response = await fetch(new URL("api/messages", url));
    assert.deepEqual(await response.json(), { total: 0, messages: [] });
  }, { prefix: "playground-options-test-", stop: "SIGTERM", args: ["--web-port", "0"] });
  assert.doesNotMatch(await banner(["--no-web"]), /on the web/);
});

Deno.test("playground: a bad --web-port is a usage error, exit 2", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.1", "--allow-read", "playground/main.ts", "--web-port", "x"],
    cwd: PROJECT,
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(output.code, 2);
  assert.match(
    new TextDecoder().decode(output.stderr),
    /^playground: --web-port takes 0 to 65535\n/,
  );
});
