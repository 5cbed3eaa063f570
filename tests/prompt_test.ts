/**
 * Unit tests of login.ts's prompts (lib/prompt.ts): the keys at the
 * password prompt, and Ctrl-C at either prompt on a pseudo-terminal made by
 * script(1).
 *
 * @module
 */

import assert from "node:assert/strict";
import { passwordKey } from "../lib/prompt.ts";

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
