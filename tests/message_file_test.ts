/**
 * Tests of the listings' `--message FILE` (lib/message_file.ts): the file
 * sent as it is, streamed, its size declared when the server offers SIZE,
 * the book's lines on stdout; and each usage error (a missing file, a
 * directory, an empty file, no read permission, login.ts with stdin), which
 * names the path, exits 2 and dials nothing. In-process against the
 * scripted mock server, plus two runs as a reader types them.
 *
 * @module
 */

import assert from "node:assert/strict";
import { main as debugMain } from "../debug.ts";
import { main as ehloMain } from "../ehlo.ts";
import { main as loginMain } from "../login.ts";
import { main as simpleMain } from "../simple.ts";
import { main as tlsMain } from "../tls.ts";
import { ehlo, GREETING } from "./smtp_run.ts";
import { ARGS, FROM, type Main, QUIT, run, SENT, TO } from "./scripts_run.ts";
import { runListing } from "./playground_run.ts";

const TEXT = "Subject: from a file\n\n.a dot\nline two\r\n";
const WIRE = ["C: Subject: from a file", "C: ", "C: ..a dot", "C: line two", "C: ."];

async function withFile<T>(text: string, work: (path: string) => Promise<T>): Promise<T> {
  const path = await Deno.makeTempFile({ suffix: ".eml" });
  try {
    await Deno.writeTextFile(path, text);
    return await work(path);
  } finally {
    await Deno.remove(path);
  }
}

/** MAIL with `options`, the RCPT, DATA and the file's lines, accepted. */
function sendFile(options = ""): string[] {
  return [
    `C: mail FROM:<${FROM}>${options}`,
    "S: 250 2.1.0 Ok",
    `C: rcpt TO:<${TO}>`,
    "S: 250 2.1.5 Ok",
    "C: data",
    "S: 354 End data with <CR><LF>.<CR><LF>",
    ...WIRE,
    "S: 250 2.0.0 Ok: queued",
  ];
}

Deno.test("simple.ts --message FILE sends the file, SIZE from its size, the book's line", async () => {
  await withFile(TEXT, async (path) => {
    const result = await run(simpleMain, ["--message", path, ...ARGS], [
      GREETING,
      ...ehlo("SIZE 10240000", "8BITMIME"),
      ...sendFile(` BODY=8BITMIME SIZE=${TEXT.length}`),
      ...QUIT,
    ]);
    assert.equal(result.status, 0, String(result.error));
    assert.deepEqual(result.stdout, [SENT]);
    result.server.assertDone();
  });
});

const LISTINGS: [string, Main, string[], string[]][] = [
  // prog, main, the steps before MAIL, stdout
  ["ehlo.ts", ehloMain, ehlo("SIZE 100"), ["Maximum message size is 100", SENT]],
  ["debug.ts", debugMain, ehlo("SIZE 100"), [SENT]],
  ["login.ts", loginMain, [
    ...ehlo("SIZE 100", "AUTH PLAIN"),
    "C: AUTH PLAIN AGJyYW5kb24AYWJjMTIz",
    "S: 235 ok",
  ], [SENT]],
  ["tls.ts", tlsMain, ehlo("SIZE 100"), [
    "Server does not support TLS; using normal connection.",
    SENT,
  ]],
];

for (const [prog, main, before, stdout] of LISTINGS) {
  Deno.test(`${prog} --message FILE sends the file with SIZE=n`, async () => {
    await withFile(TEXT, async (path) => {
      const result = await run(main, [`--message=${path}`, ...ARGS], [
        GREETING,
        ...before,
        ...sendFile(` SIZE=${TEXT.length}`),
        ...QUIT,
      ]);
      assert.equal(result.status, 0, String(result.error));
      assert.deepEqual(result.stdout, stdout);
      result.server.assertDone();
    });
  });
}

Deno.test("ehlo.ts --message FILE larger than SIZE: 'Message too large; aborting.', nothing sent", async () => {
  await withFile(TEXT, async (path) => {
    const result = await run(ehloMain, ["--message", path, ...ARGS], [
      GREETING,
      ...ehlo("SIZE 10"),
    ]);
    assert.equal(result.status, 1);
    assert.deepEqual(result.stdout, ["Maximum message size is 10", "Message too large; aborting."]);
    result.server.assertDone();
  });
});

/** Runs `main` with `--message path`, expecting a usage error naming it; nothing dialled. */
async function usageError(main: Main, path: string, reason: RegExp, usage: string) {
  const result = await run(main, ["--message", path, ...ARGS], []);
  assert.equal(result.status, 2, String(result.error));
  assert.deepEqual(result.stdout, [usage]);
  assert.match(result.stderr[0], reason);
  assert.ok(result.stderr[0].includes(`'${path}'`) || path === "-", result.stderr[0]);
  assert.equal(result.server.dialed.length, 0, "something was dialled");
}

const SIMPLE_USAGE = "usage: simple.ts server fromaddr toaddr [toaddr...]";

Deno.test("--message: a missing file, a directory, an empty file are usage errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await usageError(simpleMain, `${dir}/nothing.eml`, /no such file/, SIMPLE_USAGE);
    await usageError(simpleMain, dir, /is a directory/, SIMPLE_USAGE);
    await Deno.writeTextFile(`${dir}/empty.eml`, "");
    await usageError(simpleMain, `${dir}/empty.eml`, /is empty/, SIMPLE_USAGE);
    const syntax = "Syntax: tls.ts server fromaddr toaddr [toaddr...]";
    await usageError(tlsMain, `${dir}/nothing.eml`, /no such file/, syntax);
    await usageError(
      loginMain,
      "-",
      /login\.ts reads the user name and password from stdin/,
      "Syntax: login.ts server fromaddr toaddr [toaddr...]",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--message with no file after it is a usage error", async () => {
  const result = await run(simpleMain, [...ARGS, "--message"], []);
  assert.equal(result.status, 2);
  assert.match(result.stderr[0], /--message takes a file to send/);
});

Deno.test("--message FILE without read permission says to give -R=FILE; exit 2", async () => {
  await withFile(TEXT, async (path) => {
    const result = await runListing([], "simple.ts", ["--message", path, "127.0.0.1:1", FROM, TO]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, new RegExp(`--allow-read=${path.replaceAll(".", "\\.")}`));
    assert.equal(result.stdout, `${SIMPLE_USAGE}\n`);
  });
});

Deno.test("--message - reads stdin; an empty stdin is a usage error", async () => {
  const result = await runListing([], "simple.ts", ["--message", "-", "127.0.0.1:1", FROM, TO]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /stdin is empty/);
});
