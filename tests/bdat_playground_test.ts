/**
 * The playground and CHUNKING: its `smtp-server` has no BDAT, so it must
 * not offer CHUNKING (or BINARYMIME), must refuse a BDAT command, and the
 * helper asked for `{ chunking: true }` must fall back to DATA there, the
 * message arriving whole. On loopback, port 0.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ehloKeywords } from "../playground/dialect.ts";
import { readMailbox } from "../playground/mbox.ts";
import { SMTP } from "../lib/smtp.ts";
import { rawSession, withPlayground } from "./playground_run.ts";

Deno.test("playground: no CHUNKING in EHLO, BDAT refused, chunking: true falls back to DATA", async () => {
  await withPlayground(async ({ dataDir, port }, server) => {
    const [, ehlo, bdat] = await rawSession(port, ["EHLO [127.0.0.1]", "BDAT 3 LAST", "QUIT"]);
    assert.doesNotMatch(ehlo, /CHUNKING|BINARYMIME/);
    assert.match(bdat, /^5\d\d /);

    const lines: string[] = [];
    const smtp = await SMTP.connect(server, {
      chunking: true,
      debugLevel: 1,
      debugOutput: (line) => lines.push(line),
    });
    await smtp.sendmail("sender@example.com", ["brandon@example.com"], "Subject: c\n\n.dot\n");
    await smtp.quit();
    assert.ok(lines.includes("send: 'data\\r\\n'"), lines.join("\n"));
    assert.ok(!lines.some((line) => line.startsWith("send: 'bdat")), lines.join("\n"));
    const [message] = await readMailbox(dataDir, "brandon");
    assert.match(message.text, /\nSubject: c\n\n\.dot\n$/);
  });
});

Deno.test("playground dialect: CHUNKING and BINARYMIME are never offered, even if listed", () => {
  assert.deepEqual(
    ehloKeywords(["PIPELINING", "CHUNKING", "BINARYMIME", "8BITMIME"], true),
    ["PIPELINING", "VRFY", "ETRN", "8BITMIME"],
  );
});
