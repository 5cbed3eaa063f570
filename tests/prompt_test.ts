/**
 * Unit tests of login.ts's prompts (lib/prompt.ts): the keys at the
 * password prompt, and Ctrl-C at either prompt on a pseudo-terminal made by
 * script(1) (tests/terminal_run.ts).
 *
 * @module
 */

import assert from "node:assert/strict";
import { passwordKey } from "../lib/prompt.ts";
import { hasScript, loginOnTerminal } from "./terminal_run.ts";

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

const NOWHERE = ["127.0.0.1:9", "a@example.com", "b@example.com"]; // never dialled

Deno.test({
  name: "login.ts: Ctrl-C at either prompt on a terminal exits 130",
  ignore: !hasScript,
  fn: async () => {
    // The password prompt reads raw bytes: 0x03 arrives as a byte.
    const atPassword = await loginOnTerminal(NOWHERE, [
      { waitFor: "Enter username: ", keys: "brandon\r" },
      { waitFor: "Enter password: ", keys: "ab\x03" },
    ]);
    assert.equal(atPassword.code, 130, atPassword.seen);
    assert.doesNotMatch(atPassword.seen, /end of input|ab/);
    // The user name prompt is a cooked line: the terminal sends SIGINT.
    const atUser = await loginOnTerminal(NOWHERE, [{ waitFor: "Enter username: ", keys: "\x03" }]);
    assert.equal(atUser.code, 130, atUser.seen);
  },
});
