/**
 * login.ts on a pseudo-terminal, made by script(1), for the tests of its
 * prompts (prompt_test.ts, oauth_playground_test.ts): what is typed at each
 * prompt, what the terminal showed, and the exit status.
 *
 * @module
 */

/** Whether script(1) is here to give a child a pseudo-terminal. */
export const hasScript = await new Deno.Command("script", { args: ["--version"], stdout: "null" })
  .output().then((o) => o.success, () => false);

/** A word quoted for the shell script(1) runs the command in. */
function quote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * Runs `deno run -N [denoOptions] login.ts args...` on a pseudo-terminal
 * (script -e reports its exit status), typing each of `keys` once `waitFor`
 * shows. Returns the exit status and everything the terminal showed.
 */
export async function loginOnTerminal(
  args: string[],
  typed: { waitFor: string; keys: string }[],
  denoOptions: string[] = [],
): Promise<{ code: number; seen: string }> {
  const login = new URL("../login.ts", import.meta.url).pathname;
  const command = [Deno.execPath(), "run", "-N", ...denoOptions, login, ...args].map(quote);
  const child = new Deno.Command("script", {
    args: ["-qfec", command.join(" "), "/dev/null"],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
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
