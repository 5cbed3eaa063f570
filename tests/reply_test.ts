/**
 * Unit tests of the reply reader (lib/reply.ts): codes, multi-line replies,
 * the 8192-byte line limit, end of input and malformed lines, fed from an
 * in-memory source in chunks of any size.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MAX_LINE, MAX_REPLY_LINES, ReplyReader, type Source } from "../lib/reply.ts";
import { SMTPResponseException, SMTPServerDisconnected } from "../lib/errors.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A source that hands out `text` at most `chunk` bytes per read, then end of input. */
function source(text: string | Uint8Array, chunk = Infinity): Source & { reads: number } {
  const bytes = typeof text === "string" ? encoder.encode(text) : text;
  let at = 0;
  return {
    reads: 0,
    read(buffer) {
      this.reads++;
      if (at === bytes.length) return Promise.resolve(null);
      const n = Math.min(buffer.length, chunk, bytes.length - at);
      buffer.set(bytes.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
  };
}

/** Reads one reply and returns its code and text. */
async function reply(text: string, chunk = Infinity): Promise<[number, string]> {
  const { code, message } = await new ReplyReader(source(text, chunk)).readReply();
  return [code, message];
}

const cases: [string, string, [number, string]][] = [
  ["one line", "250 2.0.0 Ok\r\n", [250, "2.0.0 Ok"]],
  ["several lines joined with LF", "250-one\r\n250-two\r\n250 three\r\n", [250, "one\ntwo\nthree"]],
  ["bare LF line endings", "250-one\n250 two\n", [250, "one\ntwo"]],
  ["a code with no text", "250\r\n", [250, ""]],
  ["text stripped of spaces and tabs", "250  \t spaced \t \r\n", [250, "spaced"]],
  ["the last line's code counts", "250-one\r\n550 two\r\n", [550, "one\ntwo"]],
  ["a code followed by a tab", "354\tgo ahead\r\n", [354, "go ahead"]],
];

for (const [name, text, expected] of cases) {
  Deno.test(`readReply: ${name}`, async () => {
    assert.deepEqual(await reply(text), expected);
    assert.deepEqual(await reply(text, 1), expected, "one byte per read");
  });
}

Deno.test("readReply keeps the raw lines and shows each to onLine", async () => {
  const seen: string[] = [];
  const result = await new ReplyReader(source("250-a\r\n250 b\r\n")).readReply((line) =>
    seen.push(decoder.decode(line))
  );
  assert.deepEqual(seen, ["250-a\r\n", "250 b\r\n"]);
  assert.deepEqual(result.lines.map((l) => decoder.decode(l)), seen);
  assert.deepEqual(result.messageBytes, encoder.encode("a\nb"));
});

Deno.test("readReply keeps non-UTF-8 bytes in messageBytes", async () => {
  const bytes = new Uint8Array([...encoder.encode("250 caf"), 0xe9, 0x0d, 0x0a]);
  const result = await new ReplyReader(source(bytes)).readReply();
  assert.deepEqual(result.messageBytes, new Uint8Array([...encoder.encode("caf"), 0xe9]));
});

Deno.test("two replies in one read are read one after the other", async () => {
  const input = source("220 hi\r\n250 ok\r\n");
  const reader = new ReplyReader(input);
  assert.equal((await reader.readReply()).code, 220);
  assert.equal(reader.buffered, 8, "the second reply is already buffered");
  assert.equal((await reader.readReply()).code, 250);
  assert.equal(reader.buffered, 0);
  assert.equal(input.reads, 1);
});

Deno.test("a line of exactly 8192 bytes is read; one of 8193 is an error", async () => {
  const line = (size: number) => `250 ${"x".repeat(size - 6)}\r\n`;
  for (const chunk of [Infinity, 1000, 4096]) {
    const [code, message] = await reply(line(MAX_LINE), chunk);
    assert.equal(code, 250);
    assert.equal(message.length, MAX_LINE - 6);
    await assert.rejects(
      reply(line(MAX_LINE + 1), chunk),
      (e) =>
        e instanceof SMTPResponseException && e.code === 500 && /Line too long/.test(e.message),
    );
  }
});

Deno.test("an endless line without LF is refused without reading it all", async () => {
  const input = source("250 " + "x".repeat(100_000), 512);
  await assert.rejects(new ReplyReader(input).readLine(), SMTPResponseException);
  assert.ok(input.reads < 40, `read ${input.reads} times`);
});

Deno.test("several long lines in a row are each read whole", async () => {
  const long = "x".repeat(MAX_LINE - 7);
  const [code, message] = await reply(`250-${long}\r\n250-${long}\r\n250 ${long}\r\n`, 3000);
  assert.equal(code, 250);
  assert.equal(message, [long, long, long].join("\n"));
});

Deno.test("end of input is SMTPServerDisconnected, before, inside or within a line", async () => {
  for (const text of ["", "250-first\r\n", "250 no line end"]) {
    await assert.rejects(reply(text), SMTPServerDisconnected, JSON.stringify(text));
  }
});

Deno.test("a line without a three-digit code is an error with code -1", async () => {
  for (const text of ["abc hello\r\n", "25\r\n", "2x0 ok\r\n", "250x ok\r\n", "\r\n"]) {
    await assert.rejects(
      reply(text),
      (e) => e instanceof SMTPResponseException && e.code === -1,
      JSON.stringify(text),
    );
  }
});

Deno.test("a reply of more than 1000 lines is an error", async () => {
  const ok = "250-x\r\n".repeat(MAX_REPLY_LINES - 1) + "250 end\r\n";
  assert.equal((await reply(ok))[0], 250);
  const endless = "250-x\r\n".repeat(MAX_REPLY_LINES + 1);
  await assert.rejects(reply(endless), /Reply too long/);
});

Deno.test("peek waits for n bytes across reads and consumes nothing", async () => {
  const reader = new ReplyReader(source("220 ready\r\n", 1));
  assert.equal(decoder.decode(await reader.peek(2)), "22");
  assert.equal(reader.buffered, 2);
  assert.deepEqual(await reader.readReply().then((r) => [r.code, r.message]), [220, "ready"]);
});

Deno.test("peek at end of input returns what there is", async () => {
  const reader = new ReplyReader(source("2"));
  assert.equal(decoder.decode(await reader.peek(2)), "2");
  await assert.rejects(reader.readReply(), SMTPServerDisconnected);
});
