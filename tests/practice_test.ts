/**
 * The README's "Practise the failures" table is the test: every row is read
 * from README.md, run against a playground started with its flags (a
 * subprocess on a free port, as a reader starts it), and its stdout and exit
 * status compared with the table. A second test holds the table to
 * LISTINGS.md: every error branch of every listing has a row.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  inTurns,
  practiceProblems,
  practiceTable,
  runPracticeRow,
} from "../playground/practice.ts";
import { PROJECT } from "./playground_run.ts";

const projectDir = new URL(".", PROJECT).pathname.replace(/\/$/, "");
const rows = practiceTable(await Deno.readTextFile(`${projectDir}/README.md`));

Deno.test("every row of the README's failure table does what the table says", async () => {
  const scratch = await Deno.makeTempDir({ prefix: "practice-test-" });
  try {
    const runs = await inTurns(rows, 4, (row) => runPracticeRow(row, projectDir, scratch));
    const problems = rows.flatMap((row, i) =>
      practiceProblems(row, runs[i]).map((problem) =>
        `${row.branch} (${row.flags.join(" ") || "no flags"}; ${row.command}): ${problem}\n` +
        `stderr: ${runs[i].stderr}`
      )
    );
    assert.deepEqual(problems, []);
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
});

/** The rows of one listing. */
function rowsOf(script: string) {
  return rows.filter((row) => row.args.includes(script));
}

Deno.test("the table reaches every error branch of every listing (LISTINGS.md)", () => {
  const prints = (script: string, line: string | RegExp, exit: number) =>
    assert.ok(
      rowsOf(script).some((row) =>
        row.exit === exit &&
        row.stdout.some((printed) =>
          typeof line === "string" ? printed.includes(line) : line.test(printed)
        )
      ),
      `no row where ${script} prints ${line} and exits ${exit}`,
    );
  for (const script of ["simple.ts", "ehlo.ts", "debug.ts"]) {
    prints(script, `usage: ${script} server fromaddr toaddr [toaddr...]`, 2);
  }
  for (const script of ["login.ts", "tls.ts"]) {
    prints(script, `Syntax: ${script} server fromaddr toaddr [toaddr...]`, 2);
  }
  // simple catches nothing: a failure prints nothing on stdout.
  assert.ok(rowsOf("simple.ts").some((row) => row.stdout.length === 0 && row.exit === 1));
  for (const script of ["ehlo.ts", "debug.ts", "login.ts", "tls.ts"]) {
    prints(script, "Your message may not have been sent!", 1);
  }
  prints("ehlo.ts", "Remote server refused HELO; code: ", 1);
  prints("ehlo.ts", "Message too large; aborting.", 1);
  prints("ehlo.ts", /^Message sent to 2 recipients$/, 0); // one refused, both counted
  prints("login.ts", /Authentication failed: \d{3} /, 1);
  prints("login.ts", "Authentication failed: SMTP AUTH extension not supported by server.", 1);
  prints("login.ts", "Authentication failed: No suitable authentication method found.", 1);
  prints("tls.ts", "Remote server refused HELO; code: ", 1);
  prints("tls.ts", "Server does not support TLS; using normal connection.", 0);
  prints("tls.ts", "Couldn't EHLO after STARTTLS", 5);
  prints("tls.ts", /^STARTTLS refused: 454 /, 1);
  prints("tls.ts", /certificate/, 1);
  // Every step of the failure table is used at least once, and each kind of action.
  const flags = rows.flatMap((row) => row.flags).join(" ");
  for (const step of ["connect", "ehlo", "helo", "starttls", "ehlo2", "auth", "mail", "rcpt"]) {
    assert.match(flags, new RegExp(`--fail ${step}[:=]`), step);
  }
  for (const step of ["data", "message", "quit"]) {
    assert.match(flags, new RegExp(`--fail ${step}:`));
  }
  for (const action of [":421", ":drop", ":stall", ":slow="]) {
    assert.ok(flags.includes(action), action);
  }
});

Deno.test("the table's parser: cells, typed input, no output, escaped bars", () => {
  const readme = [
    "# x",
    "",
    "## Practise the failures",
    "",
    "| branch | with | command | stdout | exit |",
    "| --- | --- | --- | --- | --- |",
    "| a | `--fail auth:535 --no-starttls` | `printf 'u\\np\\n' \\| deno run -N login.ts 127.0.0.1:2525 a b` | `x \\| y`<br>`z` | 1 |",
    "| b | (none) | `deno run -N simple.ts 127.0.0.1:2525 a` | (nothing) | 2 |",
    "",
    "## Next",
    "| not | a | row | of | it |",
  ].join("\n");
  assert.deepEqual(practiceTable(readme), [
    {
      branch: "a",
      flags: ["--fail", "auth:535", "--no-starttls"],
      command: "printf 'u\\np\\n' | deno run -N login.ts 127.0.0.1:2525 a b",
      stdin: "u\np\n",
      args: ["run", "-N", "login.ts", "127.0.0.1:2525", "a", "b"],
      stdout: ["x | y", "z"],
      exit: 1,
    },
    {
      branch: "b",
      flags: [],
      command: "deno run -N simple.ts 127.0.0.1:2525 a",
      stdin: "",
      args: ["run", "-N", "simple.ts", "127.0.0.1:2525", "a"],
      stdout: [],
      exit: 2,
    },
  ]);
  assert.throws(() => practiceTable("# nothing here"), /no section "## Practise the failures"/);
});
