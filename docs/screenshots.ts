/**
 * `deno task screenshots`: the web inbox's pictures in the README, taken in
 * headless Chromium. Starts a playground on free loopback ports with a
 * fresh data folder, sends mail with the listings as a reader types them
 * (and one refused recipient, and one HTML message with an attachment),
 * then writes `docs/*.png`: the inbox, a message beside its conversation,
 * the sessions, at desktop width and at 375 px, and the message in the
 * dark theme.
 *
 * @module
 */

import { SMTP } from "../lib/smtp.ts";
import { startPlayground } from "../playground/server.ts";
import { serverArgument } from "../playground/main.ts";
import { mixedMessage, withBrowser } from "../tests/browser_run.ts";
import { runListing } from "../tests/playground_run.ts";

const FROM = "sender@example.com";
const TO = "brandon@example.com";
const OUT = new URL("./", import.meta.url);

const HTML_MESSAGE = mixedMessage({
  headers: [
    `From: "Alice Example" <alice@example.com>`,
    `To: ${TO}`,
    `Subject: Minutes of Tuesday's meeting`,
  ],
  text: "Hello Brandon, the minutes are attached.",
  html: `<p>Hello Brandon, the <b>minutes</b> are attached.</p>\r\n` +
    `<p><img src="https://tracker.example/pixel.gif" alt="(a tracking pixel, not loaded)"></p>`,
  attachment: {
    headers: [
      `Content-Type: text/plain; name="minutes.txt"`,
      `Content-Disposition: attachment; filename="minutes.txt"`,
    ],
    body: "1. SMTP. 2. Any other business.",
  },
});

async function send(): Promise<{ dataDir: string; close: () => Promise<void>; base: string }> {
  const dataDir = await Deno.makeTempDir({ prefix: "screenshots-" });
  const playground = await startPlayground({ port: 0, dataDir, web: { port: 0 } });
  const server = serverArgument(playground.hostname, playground.port);
  const listings: [string[], string, string][] = [
    [[], "simple.ts", ""],
    [[], "ehlo.ts", ""],
    [["--cert", playground.caPath], "login.ts", "brandon\nabc123\n"],
    [["--cert", playground.caPath], "tls.ts", ""],
  ];
  for (const [options, script, stdin] of listings) {
    const run = await runListing(options, script, [server, FROM, TO], stdin);
    if (run.code !== 0) throw new Error(`${script} exited ${run.code}: ${run.stderr}`);
  }
  const smtp = await SMTP.connect(server);
  await smtp.sendmail("alice@example.com", [TO], HTML_MESSAGE);
  await smtp.quit();
  // One that fails at RCPT, for the sessions page.
  await runListing([], "ehlo.ts", [server, FROM, "nobody@example.com"]);
  // The book's debug.ts last, so its message is the newest.
  const debug = await runListing([], "debug.ts", [server, FROM, TO]);
  if (debug.code !== 0) throw new Error(`debug.ts exited ${debug.code}: ${debug.stderr}`);
  return {
    dataDir,
    base: playground.webUrl!.replace(/\/$/, ""),
    close: async () => {
      await playground.close();
      await Deno.remove(dataDir, { recursive: true });
    },
  };
}

if (import.meta.main) {
  const { base, close } = await send();
  try {
    await withBrowser(async (browser) => {
      const page = await browser.newPage();
      const shoot = async (name: string, path: string, width: number, height: number) => {
        await page.setViewport({ width, height });
        await page.goto(base + path, { waitUntil: "load" });
        const file = new URL(`${name}.png`, OUT);
        await page.screenshot({ path: file.pathname as `${string}.png` });
        console.log(`wrote docs/${name}.png (${width}×${height})`);
      };
      const response = await fetch(`${base}/api/messages?user=brandon`);
      const { messages } = await response.json();
      const debug = `/messages/${encodeURIComponent(messages[0].id)}`;
      await shoot("inbox", "/", 1280, 720);
      await shoot("message", debug, 1280, 1000);
      await shoot("sessions", "/sessions", 1280, 720);
      await shoot("inbox-375", "/", 375, 812);
      await shoot("message-375", debug, 375, 1400);
      await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "dark" }]);
      await shoot("message-dark", debug, 1280, 1000);
    });
  } finally {
    await close();
  }
}
