/**
 * A headless Chromium for the web inbox's browser tests and screenshots:
 * Debian's `chromium`, driven through `npm:puppeteer-core`, with a fresh
 * profile, HOME and TMPDIR in a scratch folder, and nothing that talks to
 * the network on its own (no updates, sync or background requests).
 *
 * Without chromium the browser tests skip, with one line that says how to
 * install it; in CI (`CI` set) they never skip.
 *
 * @module
 */

import puppeteer, { type Browser } from "puppeteer-core";

/** Where Debian's chromium package puts the browser. */
export const CHROMIUM = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";

/** The one line a run without chromium prints. */
export const INSTALL_HINT =
  `browser tests skipped: ${CHROMIUM} not found (install it: apt-get install -y chromium fonts-dejavu-core)`;

/** Whether the browser is there. */
export function hasChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

/**
 * Whether the browser tests should be ignored: only when chromium is
 * missing outside CI, and then the hint is printed once.
 */
export function skipBrowserTests(): boolean {
  if (hasChromium() || Deno.env.get("CI")) return false;
  console.log(INSTALL_HINT);
  return true;
}

/** Runs `body` with a fresh headless Chromium, closed (and its scratch folder removed) after. */
export async function withBrowser<T>(body: (browser: Browser) => Promise<T>): Promise<T> {
  const scratch = await Deno.makeTempDir({ prefix: "chromium-" });
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    pipe: true,
    userDataDir: `${scratch}/profile`,
    env: { HOME: scratch, TMPDIR: scratch, PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--no-default-browser-check",
    ],
  });
  try {
    return await body(browser);
  } finally {
    await browser.close();
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
}

/** What {@link mixedMessage} puts together. */
export interface MixedParts {
  /** The top header lines (From, To, Subject...), without the MIME ones. */
  headers: string[];
  /** The text part. */
  text: string;
  /** The HTML part. */
  html: string;
  /** The attachment: its header lines, then its body. */
  attachment: { headers: string[]; body: string };
}

/** A multipart/mixed message: text and HTML as alternatives, then one attachment; CRLF lines. */
export function mixedMessage(parts: MixedParts): string {
  return [
    ...parts.headers,
    "MIME-Version: 1.0",
    'Content-Type: multipart/mixed; boundary="outer"',
    "",
    "--outer",
    'Content-Type: multipart/alternative; boundary="inner"',
    "",
    "--inner",
    "Content-Type: text/plain; charset=utf-8",
    "",
    parts.text,
    "--inner",
    "Content-Type: text/html; charset=utf-8",
    "",
    parts.html,
    "--inner--",
    "--outer",
    ...parts.attachment.headers,
    "",
    parts.attachment.body,
    "--outer--",
    "",
  ].join("\r\n");
}
