/**
 * A playground in a process of its own, as a reader starts it
 * (`deno run ... playground/main.ts ...`), handed over once its banner is
 * printed: for the tests that kill it or read its memory, and for the
 * failure table's rows (playground/practice.ts), which start it with each
 * row's flags.
 *
 * @module
 */

/** A running playground process. */
export interface PlaygroundChild {
  /** The process. */
  child: Deno.ChildProcess;
  /** Where it listens, as its "listening on" line says (`127.0.0.1:PORT`). */
  server: string;
  /** Its port. */
  port: number;
  /** What it printed on stdout when it came up: the banner, to its "Read the mail" line. */
  banner: string;
  /** Sends it `signal` (unless it is gone already) and waits for it to end. */
  stop(signal?: Deno.Signal): Promise<void>;
}

/**
 * Runs `deno` with `args` (`run ... playground/main.ts --port 0 ...`) in
 * `cwd`; resolves once the banner is out. Throws with what it printed if it
 * ends before that (a usage error, a port in use).
 */
export async function spawnPlayground(
  args: string[],
  options: { cwd: string | URL; stderr?: "inherit" | "piped" },
): Promise<PlaygroundChild> {
  const stderr = options.stderr ?? "inherit";
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr,
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const errors = stderr === "piped" ? new Response(child.stderr).text() : Promise.resolve("");
  const stop = async (signal: Deno.Signal = "SIGTERM") => {
    try {
      child.kill(signal);
    } catch { /* gone already */ }
    await reader.cancel().catch(() => {});
    await errors;
    await child.status;
  };
  let banner = "";
  while (!/listening on (\S+)\n[^]*Read the mail with/.test(banner)) {
    const { value, done } = await reader.read();
    if (done) {
      await stop();
      throw new Error(`the playground exited: ${banner}${await errors}`);
    }
    banner += value;
  }
  const server = /listening on (\S+)\n/.exec(banner)![1];
  return { child, server, port: Number(/:(\d+)$/.exec(server)![1]), banner, stop };
}
