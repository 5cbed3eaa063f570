/**
 * The benchmark's Nodemailer sender, run with Node.js: Nodemailer's SMTP
 * transport sending the message file as a raw message to the given
 * envelope. Takes PORT MESSAGE_FILE RECIPIENTS [stream] and prints one JSON
 * line, like the other senders. With `stream`, the raw message is a read
 * stream of the file (`fs.createReadStream`) instead of a string. Memory is
 * measured as bench/senders.ts does: the peak-RSS mark reset once the input
 * is made (run with `--expose-gc`).
 *
 * ```sh
 * node bench/send_nodemailer.mjs PORT FILE RECIPIENTS
 * ```
 * @module
 */

import { createReadStream, readFileSync, writeFileSync } from "node:fs";
import nodemailer from "nodemailer";

const FROM = "sender@example.com";

function recipients(count) {
  if (count === 1) return ["reader@example.com"];
  return Array.from({ length: count }, (_, i) => `reader${i + 1}@example.com`);
}

const [port, file, count, mode] = process.argv.slice(2);
const message = mode === "stream" ? createReadStream(file) : readFileSync(file, "utf8");
const to = recipients(Number(count));
globalThis.gc?.();
let settled = true;
try {
  writeFileSync("/proc/self/clear_refs", "5");
} catch {
  settled = false;
}

const start = performance.now();
const transport = nodemailer.createTransport({
  host: "127.0.0.1",
  port: Number(port),
  secure: false,
  ignoreTLS: true,
  name: "[127.0.0.1]",
});
await transport.sendMail({ envelope: { from: FROM, to }, raw: message });
transport.close();
const seconds = (performance.now() - start) / 1000;
const figures = { seconds };
if (settled) {
  const status = readFileSync("/proc/self/status", "utf8");
  figures.peakKiB = Number(/VmHWM:\s*(\d+)/.exec(status)[1]);
}
console.log(JSON.stringify(figures));
