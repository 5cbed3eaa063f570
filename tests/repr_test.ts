/**
 * Unit tests of Python's `repr()` for str and bytes (lib/repr.ts), the
 * quoting the debug transcript depends on. Expected values are what
 * CPython 3.11 prints.
 *
 * @module
 */

import assert from "node:assert/strict";
import { pyBytesRepr, pyRepr } from "../lib/repr.ts";

const strCases: [string, string][] = [
  ["quit\r\n", String.raw`'quit\r\n'`],
  ["", "''"],
  ["it's", `"it's"`],
  [`say "hi"`, `'say "hi"'`],
  [`it's "both"`, String.raw`'it\'s "both"'`],
  ["tab\there\\", String.raw`'tab\there\\'`],
  ["\x00\x1b\x7f", String.raw`'\x00\x1b\x7f'`],
  ["\x85\xa0", String.raw`'\x85\xa0'`], // NEL and no-break space are not printable
  ["josé ü ß", "'josé ü ß'"], // printable non-ASCII stays as it is
  ["\u200b\u2028", String.raw`'\u200b\u2028'`],
  ["😀", "'😀'"],
  ["\u{e0001}", String.raw`'\U000e0001'`],
  ["a b", "'a b'"],
];

for (const [value, expected] of strCases) {
  Deno.test(`pyRepr(${JSON.stringify(value)}) is ${expected}`, () => {
    assert.equal(pyRepr(value), expected);
  });
}

const bytes = (...values: (string | number)[]) =>
  new Uint8Array(
    values.flatMap((v) => typeof v === "string" ? [...new TextEncoder().encode(v)] : [v]),
  );

const bytesCases: [Uint8Array, string][] = [
  [bytes("250 Ok\r\n"), String.raw`b'250 Ok\r\n'`],
  [bytes(), "b''"],
  [bytes("it's"), `b"it's"`],
  [bytes(`"quoted"`), `b'"quoted"'`],
  [bytes(`'both"`), String.raw`b'\'both"'`],
  [bytes("\t\\"), String.raw`b'\t\\'`],
  [bytes(0, 0x1f, 0x7f, 0x80, 0xff), String.raw`b'\x00\x1f\x7f\x80\xff'`],
  [bytes("é"), String.raw`b'\xc3\xa9'`],
  [bytes(" ~"), "b' ~'"],
];

for (const [value, expected] of bytesCases) {
  Deno.test(`pyBytesRepr gives ${expected}`, () => {
    assert.equal(pyBytesRepr(value), expected);
  });
}
