/**
 * What the Deno senders share: reading their command line, the recipients'
 * addresses, and the peak resident memory of the process.
 *
 * Every sender (Deno, Python and Node.js alike) takes
 * `PORT MESSAGE_FILE RECIPIENTS` and prints one JSON line at the end:
 * `{"seconds": ..., "writes": ...}`, where `seconds` runs from just before
 * connecting to the reply to QUIT. The driver measures peak memory from
 * outside (Deno needs --allow-all to read /proc/self/status).
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

/** Prints the sender's one line of figures. */
export function report(figures: { seconds: number; writes?: number }): void {
  console.log(JSON.stringify(figures));
}
