/**
 * Unit tests of the DATA encoder (lib/data.ts): line endings made CRLF,
 * leading dots doubled, the final `.` line, the SIZE figure and the 8-bit
 * flag; checked on a table of cases and against a plain regex reference.
 *
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  DotEncoder,
  type DotEncoderOptions,
  encodeData,
  measureMessage,
  PIECE_BYTES,
} from "../lib/data.ts";

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

/** The encoder fed `bytes` cut at `cuts` (sorted offsets), with `options`. */
function encodeCut(bytes: Uint8Array, cuts: number[], options?: DotEncoderOptions) {
  const dots = new DotEncoder(options);
  const out = new Uint8Array(DotEncoder.room(bytes.length) + DotEncoder.END_ROOM);
  let at = 0;
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    at = dots.encodeInto(bytes.subarray(from, cut), out, at);
    from = cut;
  }
  at = dots.finish(out, at);
  return { payload: out.subarray(0, at), size: dots.size, eightBit: dots.eightBit };
}

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

Deno.test("DotEncoder keeps its state across every cut of every table case", () => {
  for (const [message, payload, size] of cases) {
    const input = bytes(message);
    for (let a = 0; a <= input.length; a++) {
      for (let b = a; b <= input.length; b++) {
        const encoded = encodeCut(input, [a, b]);
        assert.equal(
          text(encoded.payload),
          payload,
          `${JSON.stringify(message)} cut at ${a}, ${b}`,
        );
        assert.equal(encoded.size, size);
      }
    }
  }
});

Deno.test("DotEncoder: CR at a chunk's end, LF at the next one's start, then a dot", () => {
  const encoded = encodeCut(bytes("a\r\n.b\r\n"), [2, 3]);
  assert.equal(text(encoded.payload), "a\r\n..b\r\n.\r\n");
  assert.equal(encodeCut(bytes("a\r\r.b"), [2]).payload.length, "a\r\n\r\n..b\r\n.\r\n".length);
});

Deno.test("DotEncoder with dotStuff false only normalises line endings", () => {
  const cases: [string, string, number][] = [
    ["abc\n.jkl\rfoo\r\n..blue", "abc\r\n.jkl\r\nfoo\r\n..blue\r\n", 22],
    ["", "", 0],
    [".", ".\r\n", 1],
    ["a\r", "a\r\n", 3],
    ["a\r\r\nb\n", "a\r\n\r\nb\r\n", 8],
  ];
  for (const [message, payload, size] of cases) {
    for (let cut = 0; cut <= message.length; cut++) {
      const encoded = encodeCut(bytes(message), [cut], { dotStuff: false });
      assert.equal(text(encoded.payload), payload);
      assert.equal(encoded.size, size);
    }
  }
});

Deno.test("DotEncoder gives encodeData's bytes for random messages and random cuts", () => {
  const pieces = fc.constantFrom("a", ".", "\r", "\n", "\r\n", "..", "\t", "\xe9", "\0");
  fc.assert(
    fc.property(
      fc.array(pieces, { maxLength: 60 }),
      fc.array(fc.nat(), { maxLength: 8 }),
      (parts, cutSeeds) => {
        const input = bytes(parts.join(""));
        const cuts = cutSeeds.map((n) => n % (input.length + 1)).sort((a, b) => a - b);
        const whole = encodeData(input);
        const cut = encodeCut(input, cuts);
        assert.deepEqual(cut.payload, whole.payload);
        assert.equal(cut.size, whole.size);
        assert.equal(cut.eightBit, whole.eightBit);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("encodeData: a string over several pieces, a surrogate pair on the seam", () => {
  const seam = PIECE_BYTES - 1; // the pair's first half ends the first piece's characters
  const message = "x".repeat(seam) + "\u{1F600}" + "\n.end";
  const encoded = encodeData(message);
  const expected = new TextEncoder().encode(message.replace("\n.", "\r\n..") + "\r\n.\r\n");
  assert.deepEqual(encoded.payload, expected);
  assert.equal(encoded.eightBit, true);
  const big = "line\n.dot\n".repeat(50_000);
  assert.equal(encodeData(big).payload.length, big.length + 100_000 + 50_000 + 3);
});

Deno.test("measureMessage gives the DotEncoder's size and 8-bit flag for text and bytes", () => {
  const pieces = fc.constantFrom("a", ".", "\r", "\n", "\r\n", "\xe9", "\u{1F600}", "\t");
  fc.assert(
    fc.property(fc.array(pieces, { maxLength: 50 }), (parts) => {
      const message = parts.join("");
      for (const form of [message, new TextEncoder().encode(message), bytes(message)]) {
        const encoded = encodeData(form);
        assert.deepEqual(measureMessage(form), { size: encoded.size, eightBit: encoded.eightBit });
      }
    }),
    { numRuns: 500 },
  );
});

Deno.test("the word-at-a-time paths see every byte value at every offset in a word", () => {
  const latin1 = (b: Uint8Array) => String.fromCharCode(...b);
  for (let value = 0; value < 256; value++) {
    for (let offset = 0; offset < 9; offset++) {
      // One byte before the message, so that the views start unaligned.
      const padded = bytes(`-${"abcdefghijkl".slice(0, offset)}${"x".repeat(12)}\n.z`);
      padded[1 + offset] = value;
      const message = padded.subarray(1);
      const expected = reference(latin1(message));
      const encoded = encodeData(message);
      const label = `byte ${value} at ${offset}`;
      assert.equal(latin1(encoded.payload), expected.payload, label);
      assert.equal(encoded.size, expected.size, label);
      assert.equal(encoded.eightBit, value > 127, label);
      assert.deepEqual(
        measureMessage(message),
        { size: expected.size, eightBit: value > 127 },
        label,
      );
    }
  }
});

Deno.test("measureMessage counts the line ends of a long text across its pieces", () => {
  // Longer than PIECE_BYTES, with and without CRs, with an LF on a piece's edge.
  for (
    const message of ["\n" + "ab\n".repeat(70_000), "x\r\n".repeat(30_000) + "y\n".repeat(40_000)]
  ) {
    const encoded = encodeData(message);
    assert.deepEqual(measureMessage(message), { size: encoded.size, eightBit: false });
    assert.equal(encoded.size, message.replace(/\r?\n/g, "\r\n").length);
  }
});
