/**
 * The web inbox in a real browser: headless Chromium (Debian's package,
 * through puppeteer-core) against a playground started on free loopback
 * ports, with mail sent by the listings themselves. One browser for all the
 * steps.
 *
 * Skipped, with one line saying how to install chromium, where there is no
 * chromium; never skipped in CI.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Browser, Page } from "puppeteer-core";
import { SMTP, SMTPRecipientsRefused } from "../lib/smtp.ts";
import { type Playground, startPlayground } from "../playground/server.ts";
import { serverArgument } from "../playground/main.ts";
import { mixedMessage, skipBrowserTests, withBrowser } from "./browser_run.ts";
import { rawSession, runListing } from "./playground_run.ts";

const FROM = "sender@example.com";
const TO = "brandon@example.com";
/** Long enough for a loaded machine; the test never measures time. */
const WAIT = { timeout: 15_000 };

function start(dataDir: string, webPort = 0): Promise<Playground> {
  return startPlayground({
    port: 0,
    dataDir,
    web: { port: webPort },
    closeTimeout: 200,
    users: { brandon: "abc123", alice: "secret" },
  });
}

/** A message whose every field tries to run script or load from `trap` (a loopback server). */
function hostileMessage(trap: string): string {
  return mixedMessage({
    headers: [
      `From: "<img src=x onerror=window.pwned=1>" <mallory@example.com>`,
      `To: ${TO}`,
      `Subject: <script>window.pwned=2</script><img src=x onerror="window.pwned=3">`,
      `X-Link: javascript:window.pwned=4`,
    ],
    text: `</pre><script>window.pwned=5</script>`,
    html: [
      `<html><head>`,
      `<meta http-equiv="refresh" content="1;url=${trap}/refresh">`,
      `<link rel="stylesheet" href="${trap}/style.css">`,
      `<link rel="prefetch" href="${trap}/prefetch">`,
      `<base href="${trap}/">`,
      `<style>@import url(${trap}/import.css); body { background: url(${trap}/bg.png) }</style>`,
      `</head><body onload="parent.pwned = 6">`,
      `<script>parent.pwned = 7; top.pwned = 7</script>`,
      `<p id="text">Hello from a hostile message</p>`,
      `<img src="${trap}/pixel.gif" onerror="parent.pwned = 8">`,
      `<img src="relative.gif">`,
      `<a id="js" href="javascript:parent.pwned=9">js link</a>`,
      `<a id="away" href="${trap}/link">remote link</a>`,
      `<form action="${trap}/form" method="post"><input name="q" value="x">`,
      `<button id="send">send</button></form>`,
      `<iframe src="${trap}/frame"></iframe>`,
      `<object data="${trap}/object"></object>`,
      `<video src="${trap}/video.mp4" poster="${trap}/poster.png"></video>`,
      `</body></html>`,
    ].join("\r\n"),
    attachment: {
      headers: [
        `Content-Type: text/html; name="x.html"`,
        `Content-Disposition: attachment; filename="\\"><img src=x onerror=window.pwned=10>.html"`,
        `Content-Transfer-Encoding: base64`,
      ],
      body: btoa("<script>parent.pwned = 11</script>"),
    },
  });
}

/** Opens `path` and waits until its event stream is open. */
async function openLive(page: Page, url: string): Promise<void> {
  await page.goto(url, { waitUntil: "load" });
  await page.waitForSelector('html[data-stream="open"]', WAIT);
}

/** The visible text of every element matching `selector`. */
function texts(page: Page, selector: string): Promise<string[]> {
  return page.$$eval(selector, (elements) => elements.map((e) => e.textContent?.trim() ?? ""));
}

Deno.test({
  name:
    "the web inbox in Chromium: live mail, the annotated conversation, hostile mail, sessions, a narrow window, back and forward, a restart, deleting",
  ignore: skipBrowserTests(),
}, async (t) => {
  const dataDir = await Deno.makeTempDir({ prefix: "browser-test-" });
  const trapped: string[] = [];
  const trap = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    trapped.push(new URL(request.url).pathname);
    return new Response("", { headers: { "content-type": "image/gif" } });
  });
  const trapUrl = `http://127.0.0.1:${trap.addr.port}`;
  let playground = await start(dataDir);
  const server = () => serverArgument(playground.hostname, playground.port);
  const base = playground.webUrl!.replace(/\/$/, "");
  try {
    await withBrowser(async (browser: Browser) => {
      const page = await browser.newPage();
      const requests: string[] = [];
      const dialogs: string[] = [];
      page.on("requestfinished", (request) => void requests.push(request.url()));
      page.on("dialog", (dialog) => {
        dialogs.push(dialog.message());
        dialog.accept();
      });

      await t.step(
        "a message sent with debug.ts appears in the open inbox, with no reload",
        async () => {
          await openLive(page, base + "/");
          assert.match(await page.$eval("main", (e) => e.textContent ?? ""), /No mail yet/);
          await page.evaluate("window.stayed = true");
          const run = await runListing([], "debug.ts", [server(), FROM, TO]);
          assert.equal(run.code, 0, run.stderr);
          await page.waitForFunction(
            `document.querySelector("td.subject a")?.textContent === "Test Message from debug.ts"`,
            WAIT,
          );
          assert.equal(await page.evaluate("window.stayed"), true, "the page was not reloaded");
          assert.deepEqual(await texts(page, "td.from"), [FROM]);
          assert.deepEqual(await texts(page, "td.to"), [TO]);
          assert.deepEqual(await texts(page, "tr.unread .visually-hidden"), ["unread"]);
          assert.match((await texts(page, "td.size"))[0], /^\d+ B$/);
        },
      );

      await t.step("the message page shows the decoded message and its raw source", async () => {
        await Promise.all([page.waitForNavigation(), page.click("td.subject a")]);
        assert.deepEqual(await texts(page, "h1"), ["Test Message from debug.ts"]);
        assert.match((await texts(page, "pre.body"))[0], /^Hello,\n\nThis is a test message/);
        const raw = await page.$eval(
          'a[href$="/raw"]',
          (a) => (a as unknown as { href: string }).href,
        );
        await page.goto(raw);
        assert.match(
          await page.$eval("body", (b) => b.textContent ?? ""),
          /^To: brandon@example\.com\r?\nFrom: sender@example\.com\r?\nSubject: Test Message from debug\.ts/,
        );
      });

      await t.step(
        "the message page shows the conversation with its calls and replies explained",
        async () => {
          await page.goto(base + "/", { waitUntil: "load" });
          await Promise.all([page.waitForNavigation(), page.click("td.subject a")]);
          const lines = await page.$$eval(
            "ol.transcript li",
            (items) =>
              items.map((li) =>
                [
                  li.querySelector(".dir, .what")?.textContent,
                  li.querySelector("code")?.textContent,
                ]
                  .concat([...li.querySelectorAll(".notes > span")].map((s) => s.textContent))
                  .filter((x) => x).join(" | ")
              ),
          );
          const find = (pattern: RegExp) => {
            const line = lines.find((l) => pattern.test(l));
            assert.ok(line, `${pattern} in\n${lines.join("\n")}`);
            return line;
          };
          assert.match(
            find(/^S: \| 220 /),
            /ready: the server's greeting \| SMTP\.connect\(\) \/ smtplib\.SMTP\(\)$/,
          );
          assert.match(find(/^C: \| ehlo /i), /\| ehlo\(\)$/);
          assert.match(find(/^S: \| 250-mail\.example\.com/), /\| done: the extensions/);
          assert.match(find(/^C: \| mail FROM:<sender@example\.com>/i), /\| sendmail\(\)$/);
          assert.match(find(/^C: \| rcpt TO:<brandon@example\.com>/i), /\| sendmail\(\)$/);
          assert.match(find(/^C: \| data \|/i), /sendmail\(\)$/);
          assert.match(find(/^S: \| 354 /), /\| send the message/);
          assert.match(find(/^message, \d+ bytes/), /sendmail\(\)$/);
          assert.match(find(/^S: \| 250 2\.0\.0 Ok: queued as /), /done: the message is accepted/);
          assert.match(find(/^C: \| quit \|/i), /\| quit\(\)$/);
          assert.match(find(/^S: \| 221 /), /\| goodbye/);
          // The folded body links to the raw source, which is the message as sent.
          const raw = await page.$eval("li.body a", (a) => (a as unknown as { href: string }).href);
          const source = await (await fetch(raw)).text();
          assert.match(
            source,
            /^To: brandon@example\.com\r?\nFrom: sender@example\.com\r?\nSubject: Test Message from debug\.ts/,
          );
        },
      );

      await t.step("the sessions list filters by outcome, a refused session included", async () => {
        const smtp = await SMTP.connect(server());
        await assert.rejects(
          smtp.sendmail(FROM, ["nobody@example.com"], "Subject: x\r\n\r\nx\r\n"),
          SMTPRecipientsRefused,
        );
        await smtp.quit();
        await openLive(page, base + "/sessions");
        await page.waitForSelector("td .outcome.refused", WAIT);
        await Promise.all([
          page.waitForNavigation(),
          page.click('.tabs a[href="/sessions?outcome=refused"]'),
        ]);
        const outcomes = await texts(page, "table.sessions td .outcome");
        assert.ok(outcomes.length >= 1);
        assert.deepEqual(new Set(outcomes), new Set(["refused"]));
        await Promise.all([page.waitForNavigation(), page.click("table.sessions td.id a")]);
        const codes = await texts(page, "ol.transcript li.server code");
        assert.ok(
          codes.some((line) => /^550 5\.1\.1 <nobody@example\.com>/.test(line)),
          codes.join("\n"),
        );
        await page.goto(base + "/sessions?outcome=delivered");
        assert.deepEqual(
          new Set(await texts(page, "table.sessions td .outcome")),
          new Set(["delivered"]),
        );
      });

      await t.step(
        "a hostile message runs no script, sends no form and loads nothing",
        async () => {
          requests.length = 0;
          const smtp = await SMTP.connect(server());
          await smtp.sendmail(FROM, [TO], hostileMessage(trapUrl));
          await smtp.quit();
          await page.goto(base + "/?user=brandon", { waitUntil: "load" });
          const subject = '<script>window.pwned=2</script><img src=x onerror="window.pwned=3">';
          assert.ok((await texts(page, "td.subject a")).includes(subject));
          await Promise.all([
            page.waitForNavigation(),
            page.$$eval("td.subject a", (links, s) => {
              (links.find((a) => a.textContent === s) as unknown as { click(): void }).click();
            }, subject),
          ]);
          await page.waitForSelector("iframe.html-part");
          const frame = await (await page.$("iframe.html-part"))!.contentFrame();
          assert.ok(frame);
          await frame.waitForSelector("#text", WAIT);
          // Click what a reader might: the javascript: link, the remote link, the form's button.
          for (const target of ["#js", "#away", "#send"]) await frame.click(target).catch(() => {});
          await new Promise((resolve) => setTimeout(resolve, 1500)); // let a refresh or a load try
          assert.equal(await page.evaluate("window.pwned"), undefined);
          assert.deepEqual(dialogs, []);
          assert.deepEqual(trapped, [], "the trap server saw no request");
          const foreign = requests.filter((url) =>
            !url.startsWith(base) && !url.startsWith("data:")
          );
          assert.deepEqual(foreign, [], "everything loaded came from the playground");
          assert.deepEqual(await texts(page, "h1"), [subject]);
          assert.deepEqual(await texts(page, ".attachments a"), [
            '"><img src=x onerror=window.pwned=10>.html',
          ]);
          assert.match(
            (await texts(page, "pre.body"))[0],
            /^<\/pre><script>window\.pwned=5<\/script>$/,
          );
          assert.equal(
            await page.$$eval("main script, main img, main [onerror]", (e) => e.length),
            0,
          );
          // The HTML part's own address, opened in the tab, is as harmless.
          await page.goto(
            await page.$eval("iframe.html-part", (f) => (f as unknown as { src: string }).src),
          );
          await new Promise((resolve) => setTimeout(resolve, 500));
          assert.equal(await page.evaluate("window.pwned"), undefined);
          assert.deepEqual(trapped, []);
          // What a client says is as hostile: an EHLO name, shown in its session's transcript.
          const ehlo = `EHLO <img src=x onerror="window.pwned=12"><script>window.pwned=13</script>`;
          await rawSession(playground.port, [ehlo, "QUIT"]);
          const newest = playground.mailroom.listSessions({ limit: 1 })[0];
          await page.goto(`${base}/sessions/${newest.id}`, { waitUntil: "load" });
          assert.ok((await texts(page, "ol.transcript code")).includes(ehlo));
          assert.equal(await page.evaluate("window.pwned"), undefined);
          assert.equal(await page.$$eval("main img, main script", (e) => e.length), 0);
        },
      );

      await t.step("from the keyboard: a skip link first, then every link in order", async () => {
        await page.goto(base + "/?user=brandon", { waitUntil: "load" });
        const focused = () => page.evaluate("document.activeElement.textContent.trim()");
        await page.keyboard.press("Tab");
        assert.equal(await focused(), "Skip to content");
        await page.keyboard.press("Enter");
        // From the skip target, the next Tab goes into the page's content, past the navigation.
        await page.keyboard.press("Tab");
        assert.equal(await focused(), "All mailboxes");
        const subject = (await texts(page, "td.subject a"))[0];
        for (let i = 0; i < 10 && await focused() !== subject; i++) {
          await page.keyboard.press("Tab");
        }
        assert.equal(await focused(), subject);
        await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
        assert.deepEqual(await texts(page, "h1"), [subject]);
      });

      await t.step("at 375 px wide nothing needs scrolling sideways", async () => {
        await page.setViewport({ width: 375, height: 800 });
        for (const path of ["/", "/sessions", "/messages/" + (await firstMessageId(base))]) {
          await page.goto(base + path, { waitUntil: "load" });
          const width = await page.evaluate("document.documentElement.scrollWidth") as number;
          assert.ok(width <= 375, `${path} is ${width} px wide`);
        }
        await page.setViewport({ width: 1280, height: 900 });
      });

      await t.step(
        "back and forward between live pages never stalls, and the stream still works",
        async () => {
          await openLive(page, base + "/");
          for (let i = 0; i < 10; i++) {
            await Promise.all([page.waitForNavigation(WAIT), page.click('a[href="/sessions"]')]);
            await page.waitForSelector('html[data-stream="open"]', WAIT);
            await page.goBack(WAIT);
            await page.waitForSelector('html[data-stream="open"]', WAIT);
            await page.goForward(WAIT);
            await page.goBack(WAIT);
          }
          await page.waitForSelector('html[data-stream="open"]', WAIT);
          const before = (await texts(page, "td.subject a")).length;
          assert.equal((await runListing([], "simple.ts", [server(), FROM, TO])).code, 0);
          await page.waitForFunction(
            `document.querySelectorAll("td.subject a").length > ${before}`,
            WAIT,
          );
        },
      );

      await t.step("the inbox reconnects by itself when the playground restarts", async () => {
        await openLive(page, base + "/");
        const before = (await texts(page, "td.subject a")).length;
        const webPort = playground.webPort!;
        await playground.close();
        await page.waitForSelector('html:not([data-stream="open"])', WAIT);
        playground = await start(dataDir, webPort);
        assert.equal((await runListing([], "simple.ts", [server(), FROM, TO])).code, 0);
        await page.waitForFunction(
          `document.querySelectorAll("td.subject a").length > ${before}`,
          WAIT,
        );
      });

      await t.step(
        "delete a message, then clear the mailbox, through the pages' forms",
        async () => {
          await page.goto(base + "/?user=brandon", { waitUntil: "load" });
          const before = await texts(page, "td.subject a");
          await Promise.all([page.waitForNavigation(), page.click("td.subject a")]);
          dialogs.length = 0;
          await Promise.all([
            page.waitForNavigation(),
            page.click("form[action$='/delete'] button"),
          ]);
          assert.deepEqual(dialogs, ["Delete this message?"]);
          assert.equal(new URL(page.url()).search, "?user=brandon");
          assert.deepEqual(await texts(page, "td.subject a"), before.slice(1));
          await Promise.all([
            page.waitForNavigation(),
            page.click("form[action='/mailboxes/brandon/clear'] button"),
          ]);
          assert.match(
            await page.$eval("main", (e) => e.textContent ?? ""),
            /No mail for brandon yet/,
          );
          assert.equal((await playground.mailroom.listMessages({ user: "brandon" })).total, 0);
        },
      );
    });
  } finally {
    await playground.close();
    await trap.shutdown();
    await Deno.remove(dataDir, { recursive: true });
  }
});

async function firstMessageId(base: string): Promise<string> {
  const url = new URL(base);
  const response = await fetch(`${base}/api/messages`, { headers: { host: url.host } });
  const { messages } = await response.json();
  return encodeURIComponent(messages[0].id);
}
