/**
 * Python's `repr()` for the two kinds of value the debug transcript shows:
 * text (`'ehlo [127.0.0.1]\r\n'`) and bytes (`b'250 Ok\r\n'`).
 *
 * smtplib prints commands as `str` and replies and the DATA payload as
 * `bytes`, so `debug.ts` needs both to match the book's transcript.
 *
 * @example
 * ```ts
 * pyRepr("quit\r\n"); // "'quit\\r\\n'"
 * pyBytesRepr(new TextEncoder().encode("221 Bye\r\n")); // "b'221 Bye\\r\\n'"
 * ```
 * @module
 */

const ESCAPES: Record<string, string> = {
  "\\": "\\\\",
  "\t": "\\t",
  "\n": "\\n",
  "\r": "\\r",
};

/** Python's choice of quote: `'` unless the text has a `'` and no `"`. */
function quoteFor(hasSingle: boolean, hasDouble: boolean): string {
  return hasSingle && !hasDouble ? '"' : "'";
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, "0");
}

// Python's str.isprintable() is false for these categories (space excepted).
const NON_PRINTABLE = /[\p{C}\p{Z}]/u;

/** Python's `repr()` of a `str`. */
export function pyRepr(text: string): string {
  const quote = quoteFor(text.includes("'"), text.includes('"'));
  let out = quote;
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch in ESCAPES) out += ESCAPES[ch];
    else if (ch === quote) out += "\\" + ch;
    else if (ch !== " " && NON_PRINTABLE.test(ch)) {
      out += code < 0x100
        ? "\\x" + hex(code, 2)
        : code < 0x10000
        ? "\\u" + hex(code, 4)
        : "\\U" + hex(code, 8);
    } else out += ch;
  }
  return out + quote;
}

/** Python's `repr()` of a `bytes` value. */
export function pyBytesRepr(bytes: Uint8Array): string {
  const quote = quoteFor(bytes.includes(0x27), bytes.includes(0x22));
  const parts: string[] = ["b", quote];
  for (const b of bytes) {
    const ch = String.fromCharCode(b);
    if (ch in ESCAPES) parts.push(ESCAPES[ch]);
    else if (ch === quote) parts.push("\\" + ch);
    else if (b < 0x20 || b >= 0x7f) parts.push("\\x" + hex(b, 2));
    else parts.push(ch);
  }
  parts.push(quote);
  return parts.join("");
}

/** Python's `datetime.now().time()`, for the transcript's time stamps: `13:45:07.123456`. */
export function timeOfDay(): string {
  const now = performance.timeOrigin + performance.now();
  const date = new Date(now);
  const micros = Math.floor((now % 1000) * 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${
    pad(micros, 6)
  }`;
}
