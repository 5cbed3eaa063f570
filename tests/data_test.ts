/**
 * Unit tests of the DATA encoder (lib/data.ts): line endings made CRLF,
 * leading dots doubled, the final `.` line, the SIZE figure and the 8-bit
 * flag; checked on a table of cases and against a plain regex reference.
 *
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeData } from "../lib/data.ts";

const decoder = new TextDecoder("latin1");
const text = (bytes: Uint8Array) => decoder.decode(bytes);

const cases: [string, string, number][] = [
  // message, payload on the wire, size= (CRLF length before dot-stuffing)
  ["abc\n.jkl\rfoo\r\n..blue", "abc\r\n..jkl\r\nfoo\r\n...blue\r\n.\r\n", 22],
  ["", "\r\n.\r\n", 0],
  ["hello\n", "hello\r\n.\r\n", 7],
  ["hello\r\n", "hello\r\n.\r\n", 7],
  ["hello", "hello\r\n.\r\n", 5],
  [".", "..\r\n.\r\n", 1],
  [".\r\n", "..\r\n.\r\n", 3],
  ["a\n.\n", "a\r\n..\r\n.\r\n", 6],
  ["a\r\r\nb", "a\r\n\r\nb\r\n.\r\n", 6],
  ["\n\n", "\r\n\r\n.\r\n", 4],
  ["x\r", "x\r\n.\r\n", 3],
  ["\n.", "\r\n..\r\n.\r\n", 3],
  ["a.b\n .c", "a.b\r\n .c\r\n.\r\n", 8],
];

for (const [message, payload, size] of cases) {
  Deno.test(`encodeData(${JSON.stringify(message)})`, () => {
    const encoded = encodeData(message);
    assert.equal(text(encoded.payload), payload);
    assert.equal(encoded.size, size);
    assert.equal(encoded.eightBit, false);
  });
}

Deno.test("encodeData flags 8-bit text and bytes", () => {
  assert.equal(encodeData("Grüße\n").eightBit, true);
  assert.equal(encodeData(new Uint8Array([0x41, 0xff, 0x0a])).eightBit, true);
  assert.equal(encodeData(new Uint8Array([0x41, 0x7f, 0x0a])).eightBit, false);
  const utf8 = encodeData("é");
  assert.deepEqual(utf8.payload, new Uint8Array([0xc3, 0xa9, 0x0d, 0x0a, 0x2e, 0x0d, 0x0a]));
  assert.equal(utf8.size, 2);
});

/** smtplib's own steps, with regexes: fix line endings, count, quote dots, end. */
function reference(message: string): { payload: string; size: number } {
  const fixed = message.replace(/\r\n|\r|\n/g, "\r\n");
  let quoted = fixed.replace(/^\./gm, "..");
  if (!quoted.endsWith("\r\n")) quoted += "\r\n";
  return { payload: quoted + ".\r\n", size: fixed.length };
}

Deno.test("encodeData agrees with smtplib's regex steps on random text", () => {
  const pieces = fc.constantFrom("a", "b", ".", "\r", "\n", "\r\n", "..", " ");
  fc.assert(
    fc.property(fc.array(pieces, { maxLength: 40 }), (parts) => {
      const message = parts.join("");
      const encoded = encodeData(message);
      const expected = reference(message);
      assert.equal(text(encoded.payload), expected.payload);
      assert.equal(encoded.size, expected.size);
    }),
    { numRuns: 300 },
  );
});

Deno.test("encodeData handles a large message with many dots", () => {
  const message = ".x\n".repeat(10_000);
  const encoded = encodeData(message);
  assert.equal(encoded.size, 4 * 10_000);
  assert.equal(encoded.payload.length, 5 * 10_000 + 3);
});
