/**
 * `deno task demo`: the whole chapter in one command. Starts the playground
 * mail server on free loopback ports with a fresh data folder, runs each of
 * the five listings against it as a reader would type them, then `login.ts`
 * through provider mode's two listeners (`--starttls` on the submission
 * port, `--tls` on the implicit-TLS port) and `login.ts --oauth2` with the
 * practice token, shows every command and its output, then the mailbox
 * with the eight new messages.
 *
 * Exits 1 if any listing did not do what the book's listing does (exit
 * status, printed lines), or the eight messages are not in the mailbox.
 * No network beyond loopback, no root.
 *
 * @module
 */

import { relative } from "node:path";
import { startPlayground } from "./playground/server.ts";
import { serverArgument } from "./playground/main.ts";
import { mailboxSummary } from "./playground/mail.ts";
import { readMailbox } from "./playground/mbox.ts";
import { DEFAULT_TOKENS } from "./playground/oauth.ts";

/** How to watch the same sends in the web inbox, printed at the end. */
const WATCH_IN_BROWSER = [
  "",
  "To watch the same sends in a browser, each message beside its SMTP conversation:",
  "  deno task playground     (in one terminal: SMTP on 127.0.0.1:2525, the inbox on port 8025)",
  "  open http://127.0.0.1:8025/ and run the listings in another terminal, for example",
  "  deno run -N debug.ts 127.0.0.1:2525 sender@example.com brandon@example.com",
];

/** One listing to run: its arguments, what to type, what it must print. */
interface Step {
  script: string;
  /** Deno options before the script name (`--cert ca.pem`). */
  denoOptions: string[];
  /** The listing's own options before the server (`--starttls`). */
  flags?: string[];
  /** Which listener it talks to: the book's (default) or provider mode's. */
  listener?: "submission" | "tls";
  /** The `Received:` protocol the message must arrive with (RFC 3848). */
  protocol: string;
  /** What the reader types at the prompts. */
  stdin: string;
  /** The exact stdout it must print. */
  stdout: string;
  /** Lines stderr must hold, in order (the debug transcript). */
  stderrHas: string[];
}

const SUCCESS = "Message sent to 1 recipient\n";

/** The five listings and what LISTINGS.md says each prints on success, then provider mode. */
function steps(caPath: string): Step[] {
  const login = {
    script: "login.ts",
    stdin: "brandon\nabc123\n",
    // The prompt has no newline; without a terminal the password prompt goes to stderr.
    stdout: "Enter username: " + SUCCESS,
    stderrHas: ["Enter password: "],
  };
  return [
    {
      script: "simple.ts",
      denoOptions: [],
      protocol: "ESMTP",
      stdin: "",
      stdout: SUCCESS,
      stderrHas: [],
    },
    {
      script: "ehlo.ts",
      protocol: "ESMTP",
      denoOptions: [],
      stdin: "",
      stdout: "Maximum message size is 10240000\n" + SUCCESS,
      stderrHas: [],
    },
    {
      script: "debug.ts",
      protocol: "ESMTP",
      denoOptions: [],
      stdin: "",
      stdout: SUCCESS,
      stderrHas: [
        "send: 'ehlo [127.0.0.1]\\r\\n'",
        "reply: b'250-mail.example.com\\r\\n'",
        "reply: b'250 DSN\\r\\n'",
        "send: 'mail FROM:<sender@example.com> size=209\\r\\n'",
        "send: 'rcpt TO:<brandon@example.com>\\r\\n'",
        "send: 'data\\r\\n'",
        "send: 'quit\\r\\n'",
        "reply: retcode (221); Msg: b'2.0.0 Bye'",
      ],
    },
    { ...login, denoOptions: [], protocol: "ESMTPA" },
    {
      script: "tls.ts",
      protocol: "ESMTPS",
      denoOptions: ["--cert", caPath],
      stdin: "",
      stdout: "Negotiating TLS....\nUsing TLS connection.\n" + SUCCESS,
      stderrHas: [],
    },
    {
      ...login,
      denoOptions: ["--cert", caPath],
      flags: ["--starttls"],
      listener: "submission",
      protocol: "ESMTPSA",
    },
    {
      ...login,
      denoOptions: ["--cert", caPath],
      flags: ["--tls"],
      listener: "tls",
      protocol: "ESMTPSA",
    },
    {
      ...login,
      stdin: `brandon\n${DEFAULT_TOKENS.brandon}\n`,
      stderrHas: ["Enter OAuth 2.0 access token: "],
      denoOptions: ["--cert", caPath],
      flags: ["--oauth2", "--tls"],
      listener: "tls",
      protocol: "ESMTPSA",
    },
  ];
}

/** Runs one listing as a subprocess; returns whether it did what it should. */
async function runStep(step: Step, server: string, cwd: string): Promise<boolean> {
  const args = ["run", "-N", ...step.denoOptions, step.script, ...step.flags ?? [], server];
  args.push("sender@example.com", "brandon@example.com");
  console.log(`\n$ deno ${args.join(" ")}`);
  if (step.stdin) {
    console.log(`  (typing: ${step.stdin.trimEnd().split("\n").join(", ")})`);
  }
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(step.stdin));
  await writer.close();
  const { code, stdout: out, stderr: err } = await child.output();
  const stdout = new TextDecoder().decode(out);
  const stderr = new TextDecoder().decode(err);
  // Shown as on a terminal, where the typed Enter ends each prompt's line.
  Deno.stdout.writeSync(new TextEncoder().encode(endPrompts(stdout) + indent(endPrompts(stderr))));

  const problems: string[] = [];
  if (code !== 0) problems.push(`exit status ${code}, expected 0`);
  if (stdout !== step.stdout) problems.push(`stdout was ${JSON.stringify(stdout)}`);
  let from = 0;
  for (const line of step.stderrHas) {
    const at = stderr.indexOf(line, from);
    if (at < 0) problems.push(`stderr lacks ${JSON.stringify(line)}`);
    else from = at + line.length;
  }
  for (const problem of problems) console.log(`!! ${step.script}: ${problem}`);
  return problems.length === 0;
}

/** The prompts login.ts prints without a newline (without a terminal, stdin holds the answers). */
const PROMPTS = ["Enter username: ", "Enter password: ", "Enter OAuth 2.0 access token: "];

/** `text` with each prompt ending its line, and a last line ended. */
function endPrompts(text: string): string {
  let shown = text;
  for (const prompt of PROMPTS) {
    shown = shown.replaceAll(new RegExp(`${prompt}(?!\n)`, "g"), `${prompt}\n`);
  }
  return shown === "" || shown.endsWith("\n") ? shown : `${shown}\n`;
}

function indent(text: string): string {
  return text.replace(/^(?=.)/gm, "  stderr| ");
}

/** Runs the demo; resolves to the exit status. */
export async function main(): Promise<number> {
  const projectDir = import.meta.dirname!;
  // A fresh folder inside the git-ignored .playground/, so the demo needs write access there only.
  await Deno.mkdir(`${projectDir}/.playground`, { recursive: true, mode: 0o700 });
  const dataDir = await Deno.makeTempDir({ dir: `${projectDir}/.playground`, prefix: "demo-" });
  const playground = await startPlayground({
    port: 0,
    dataDir,
    provider: { tlsPort: 0, submissionPort: 0 },
  });
  const servers = {
    book: serverArgument(playground.hostname, playground.port),
    tls: serverArgument(playground.hostname, playground.tlsPort!),
    submission: serverArgument(playground.hostname, playground.submissionPort!),
  };
  let failures = 0;
  try {
    console.log(
      `Playground mail server (mail.example.com) on ${servers.book}, mail in ${
        relative(projectDir, dataDir)
      }/`,
    );
    // The listings run in the project folder, so paths are shown and passed relative to it.
    const all = steps(relative(projectDir, playground.caPath));
    for (const [i, step] of all.entries()) {
      if (i === 5) {
        console.log(
          `\nProvider mode: submission (STARTTLS, then AUTH) on ${servers.submission}, ` +
            `implicit TLS on ${servers.tls}`,
        );
      }
      if (!(await runStep(step, servers[step.listener ?? "book"], projectDir))) failures++;
    }

    console.log(
      `\n$ deno run --allow-read playground/mail.ts --data ${
        relative(projectDir, dataDir)
      } brandon`,
    );
    (await mailboxSummary(dataDir, "brandon")).forEach((line) => console.log(line));
    const arrived = (await readMailbox(dataDir, "brandon")).map((m) =>
      `${/^Subject: Test Message from (.*)$/m.exec(m.text)?.[1]} with ` +
      / with (\w+) id /.exec(m.text)?.[1]
    );
    const expected = all.map((step) => `${step.script} with ${step.protocol}`);
    if (JSON.stringify(arrived) !== JSON.stringify(expected)) {
      console.log(
        `!! mailbox holds ${JSON.stringify(arrived)}, expected ${JSON.stringify(expected)}`,
      );
      failures++;
    }
  } finally {
    await playground.close();
    await Deno.remove(dataDir, { recursive: true });
  }
  console.log(
    failures === 0
      ? "\nlogin.ts delivered through provider mode's two listeners too, and with a token." +
        "\nAll five listings delivered their message."
      : `\n${failures} step${failures === 1 ? "" : "s"} failed.`,
  );
  console.log(WATCH_IN_BROWSER.join("\n"));
  return failures === 0 ? 0 : 1;
}

if (import.meta.main) {
  // --failures: the README's "Practise the failures" table, every row run (playground/practice.ts).
  Deno.exit(
    Deno.args.includes("--failures")
      ? await (await import("./playground/practice.ts")).demoFailures(import.meta.dirname!)
      : await main(),
  );
}
