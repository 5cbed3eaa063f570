/**
 * The benchmark's messages, made the same way on every run: plain text with
 * LF line endings (as a template string in a program would have them),
 * normal line lengths, a few empty lines, some lines that start with `.`
 * and a few that are only `.`, so the sender has real dot-stuffing and
 * line-ending work to do.
 *
 * {@link wirePayload} makes the bytes a correct client must put on the wire
 * after DATA, independently of lib/data.ts: the wire-limit sender writes
 * them, and the driver checks every sender's byte count against them.
 *
 * @module
 */

const WORDS = (
  "the of and to in is that for it as was with be by on not he this are or his from at which " +
  "but have an they you were her she there one all we their can been has more if will would " +
  "network socket protocol message server client mail envelope header body recipient sender"
).split(" ");

/** A small, fast, deterministic pseudo-random generator (mulberry32). */
function randomNumbers(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A message of at least `size` bytes (ASCII, so bytes and characters are
 * the same), ending with LF.
 */
export function makeMessage(size: number, seed = 13): string {
  const random = randomNumbers(seed);
  const lines = [
    "From: Benchmark <sender@example.com>",
    "To: Reader <reader@example.com>",
    `Subject: Benchmark message of ${size} bytes`,
    "",
  ];
  let length = lines.reduce((sum, line) => sum + line.length + 1, 0);
  while (length < size) {
    const kind = random();
    let line: string;
    if (kind < 0.05) line = "";
    else if (kind < 0.055) line = ".";
    else {
      const target = 30 + Math.floor(random() * 48); // 30 to 77 characters
      line = kind < 0.1 ? "." : "";
      while (line.length < target) {
        line += (line === "" || line === "." ? "" : " ") +
          WORDS[Math.floor(random() * WORDS.length)];
      }
    }
    lines.push(line);
    length += line.length + 1;
  }
  return lines.join("\n") + "\n";
}

/**
 * The DATA payload for an LF-only message: CRLF line endings, a `.` added
 * to each line that starts with one, and the final `.` line.
 */
export function wirePayload(message: string): Uint8Array {
  const stuffed = ("\n" + message).replaceAll("\n.", "\n..").slice(1);
  return new TextEncoder().encode(stuffed.replaceAll("\n", "\r\n") + ".\r\n");
}

/** The book's test message, as simple.ts sends it. */
export function bookMessage(toaddrs: string[], fromaddr: string): string {
  return `To: ${toaddrs.join(", ")}
From: ${fromaddr}
Subject: Test Message from simple.ts

Hello,

This is a test message sent to you from the simple.ts program
in Foundations of Python Network Programming.
`;
}
