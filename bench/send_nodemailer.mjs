/**
 * The benchmark's Nodemailer sender, run with Node.js: Nodemailer's SMTP
 * transport sending the message file as a raw message to the given
 * envelope. Takes PORT MESSAGE_FILE RECIPIENTS and prints one JSON line, like
 * the other senders.
 *
 * ```sh
 * node bench/send_nodemailer.mjs PORT FILE RECIPIENTS
 * ```
 * @module
 */

import { readFileSync } from "node:fs";
import nodemailer from "nodemailer";

const FROM = "sender@example.com";

function recipients(count) {
  if (count === 1) return ["reader@example.com"];
  return Array.from({ length: count }, (_, i) => `reader${i + 1}@example.com`);
}

const [port, file, count] = process.argv.slice(2);
const message = readFileSync(file, "utf8");
const to = recipients(Number(count));

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
console.log(JSON.stringify({ seconds }));
