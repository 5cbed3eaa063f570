/**
 * What the Deno senders share: reading their command line, the recipients'
 * addresses, and the peak resident memory of the process.
 *
 * Every sender (Deno, Python and Node.js alike) takes
 * `PORT MESSAGE_FILE RECIPIENTS` and prints one JSON line at the end:
 * `{"seconds": ..., "writes": ..., "peakKiB": ...}`, where `seconds` runs from
 * just before connecting to the reply to QUIT.
 *
 * Memory is the sender's, not its input's: once the input is made (a file
 * read into a string peaks at twice its size), {@link settle} collects the
 * garbage and resets the kernel's peak-RSS mark (`5` to
 * `/proc/self/clear_refs`); `peakKiB` is then the peak during the send
 * (`VmHWM`). Deno needs --allow-all (and `--v8-flags=--expose-gc`) for
 * that; without them `peakKiB` is left out and the driver measures the
 * whole process from outside with `/usr/bin/time`.
 *
 * @module
 */

/** The sender's address, the same for every sender. */
export const FROM = "sender@example.com";

/** `count` recipients: `reader@example.com`, or `reader1@...` to `readerN@...`. */
export function recipients(count: number): string[] {
  if (count === 1) return ["reader@example.com"];
  return Array.from({ length: count }, (_, i) => `reader${i + 1}@example.com`);
}

/** The command line every sender takes. */
export function senderArgs(args: string[]): { port: number; file: string; count: number } {
  const [port, file, count] = args;
  if (!file) throw new Error("usage: PORT MESSAGE_FILE RECIPIENTS");
  return { port: Number(port), file, count: Number(count ?? 1) };
}

/**
 * After the input is made: collects garbage and resets the peak-RSS mark.
 * True when the mark was reset (so {@link peakKiB} measures the send).
 */
export function settle(): boolean {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  try {
    Deno.writeTextFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

/** The peak RSS in KiB since {@link settle} (`VmHWM`), or undefined when it could not reset it. */
export function peakKiB(settled: boolean): number | undefined {
  if (!settled) return undefined;
  const status = Deno.readTextFileSync("/proc/self/status");
  return Number(/VmHWM:\s*(\d+)/.exec(status)?.[1]);
}

/** Prints the sender's one line of figures. */
export function report(figures: { seconds: number; writes?: number; peakKiB?: number }): void {
  console.log(JSON.stringify(figures));
}
