/**
 * "Practise the failures": the README's table of every error branch of
 * every listing, read from the README itself, and one row run as a reader
 * runs it: the playground started with the row's flags on a free port, then
 * the row's command against it. `deno task demo --failures` and
 * tests/practice_test.ts both run the table through here, so the table
 * cannot go stale.
 *
 * A row of the table:
 *
 * ```
 * | branch | `deno task playground` with | command | stdout | exit |
 * | HELO fallback | `--fail ehlo:502` | `deno run -N ehlo.ts 127.0.0.1:2525 ...` | `Message sent to 1 recipient` | 0 |
 * ```
 *
 * stdout's lines are separated by `<br>`; `(nothing)` is no output at all.
 * A command may start with `printf 'brandon\nabc123\n' |`: what is typed
 * at the prompts.
 *
 * @module
 */

import { type PlaygroundChild, spawnPlayground } from "./process.ts";

/** The heading of the README's section. */
export const PRACTICE_HEADING = "## Practise the failures";
/** The server address the README's commands use; a run puts the playground's in its place. */
export const README_SERVER = "127.0.0.1:2525";
/** The CA path the README's commands use. */
export const README_CA = ".playground/ca.pem";

/** One row: a branch of a listing, how to reach it, and what the listing does there. */
export interface PracticeRow {
  /** The branch, in words. */
  branch: string;
  /** The playground's flags (`--fail ehlo:502 --no-starttls`). */
  flags: string[];
  /** The command as the README gives it. */
  command: string;
  /** What is typed at the prompts (from `printf '...' |`). */
  stdin: string;
  /** `deno`'s arguments: `run -N ehlo.ts 127.0.0.1:2525 ...`. */
  args: string[];
  /** The lines the listing prints on stdout. */
  stdout: string[];
  /** Its exit status. */
  exit: number;
}

/** The cell text without its backticks. */
function unquote(cell: string): string {
  const text = cell.trim();
  return /^`[^`]*`$/.test(text) ? text.slice(1, -1) : text;
}

/** Reads the rows of the section {@link PRACTICE_HEADING} of `readme`; throws if it has none. */
export function practiceTable(readme: string): PracticeRow[] {
  const start = readme.indexOf(`\n${PRACTICE_HEADING}\n`);
  if (start < 0) throw new Error(`the README has no section "${PRACTICE_HEADING}"`);
  const rest = readme.slice(start + PRACTICE_HEADING.length + 2);
  const end = rest.search(/^## /m);
  const lines = (end < 0 ? rest : rest.slice(0, end)).split("\n");
  const rows = lines.filter((line) => line.startsWith("|")).slice(2); // the header and its rule
  if (rows.length === 0) throw new Error(`the README's "${PRACTICE_HEADING}" has no table`);
  return rows.map((line) => {
    // A cell's own "|" is written "\\|", as Markdown tables need.
    const cells = line.slice(1, line.lastIndexOf("|")).split(/(?<!\\)\|/)
      .map((cell) => cell.trim().replaceAll("\\|", "|"));
    if (cells.length !== 5) throw new Error(`a row without five cells: ${line}`);
    const [branch, flags, command, stdout, exit] = cells;
    const typed = /^printf '([^']*)' \| (.*)$/.exec(unquote(command));
    const words = (typed ? typed[2] : unquote(command)).split(/\s+/);
    if (words[0] !== "deno") throw new Error(`a command that is not deno's: ${command}`);
    const flagText = unquote(flags);
    return {
      branch,
      flags: flagText === "" || flagText === "(none)" ? [] : flagText.split(/\s+/),
      command: unquote(command),
      stdin: typed ? typed[1].replaceAll("\\n", "\n") : "",
      args: words.slice(1),
      stdout: stdout === "(nothing)" ? [] : stdout.split("<br>").map(unquote),
      exit: Number(exit),
    };
  });
}

/** What one row's run gave. */
export interface PracticeRun {
  /** The exit status. */
  code: number;
  /** The stdout lines, with the playground's address and CA put back as the README has them. */
  stdout: string[];
  /** stderr, as it came. */
  stderr: string;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * Runs one row: the playground (`playground/main.ts --port 0` with the row's
 * flags and a fresh data folder inside `scratch`), then the row's command
 * against it, in `projectDir`. Ends the playground and removes its folder.
 */
export async function runPracticeRow(
  row: PracticeRow,
  projectDir: string,
  scratch: string,
): Promise<PracticeRun> {
  const dataDir = await Deno.makeTempDir({ dir: scratch, prefix: "practice-" });
  let playground: PlaygroundChild | undefined;
  try {
    playground = await spawnPlayground([
      "run",
      "--allow-net=127.0.0.1",
      `--allow-read=.,${dataDir}`,
      `--allow-write=${dataDir}`,
      "playground/main.ts",
      "--port",
      "0",
      "--data",
      dataDir,
      "--quiet",
      "--no-web",
      ...row.flags,
    ], { cwd: projectDir, stderr: "piped" });
    const { server } = playground;
    const caPath = `${dataDir}/ca.pem`;
    const args = row.args.map((arg) =>
      arg === README_SERVER ? server : arg === README_CA ? caPath : arg
    );
    const child = new Deno.Command(Deno.execPath(), {
      args,
      cwd: projectDir,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(encoder.encode(row.stdin));
    await writer.close();
    const { code, stdout, stderr } = await child.output();
    const text = decoder.decode(stdout).replaceAll(server, README_SERVER).replaceAll(
      caPath,
      README_CA,
    );
    const lines = text === "" ? [] : text.replace(/\n$/, "").split("\n");
    return { code, stdout: lines, stderr: decoder.decode(stderr) };
  } finally {
    await playground?.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
}

/** What differs between a row and its run, in words; empty when they agree. */
export function practiceProblems(row: PracticeRow, run: PracticeRun): string[] {
  const problems: string[] = [];
  if (run.code !== row.exit) problems.push(`exit status ${run.code}, the table says ${row.exit}`);
  if (JSON.stringify(run.stdout) !== JSON.stringify(row.stdout)) {
    problems.push(
      `stdout ${JSON.stringify(run.stdout)}, the table says ${JSON.stringify(row.stdout)}`,
    );
  }
  return problems;
}

/** Runs `work` on every item, at most `width` at a time; resolves to the results in order. */
export async function inTurns<T, R>(
  items: T[],
  width: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const at = next++;
      results[at] = await work(items[at]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return results;
}

/**
 * `deno task demo --failures`: runs every row of the README's table, at most
 * four at a time, prints each as a reader would see it, and resolves to 0
 * when every row did what the table says, else 1.
 */
export async function demoFailures(projectDir: string): Promise<number> {
  const rows = practiceTable(await Deno.readTextFile(`${projectDir}/README.md`));
  await Deno.mkdir(`${projectDir}/.playground`, { recursive: true, mode: 0o700 });
  const scratch = await Deno.makeTempDir({ dir: `${projectDir}/.playground`, prefix: "failures-" });
  let failed = 0;
  try {
    const runs = await inTurns(rows, 4, (row) => runPracticeRow(row, projectDir, scratch));
    for (const [i, row] of rows.entries()) {
      const problems = practiceProblems(row, runs[i]);
      const flags = row.flags.length ? ` ${row.flags.join(" ")}` : "";
      console.log(`\n${i + 1}. ${row.branch.replaceAll("`", "")}`);
      console.log(`   $ deno task playground${flags}`);
      console.log(`   $ ${row.command}`);
      for (const line of runs[i].stdout) console.log(`   ${line}`);
      console.log(`   (exit ${runs[i].code})`);
      for (const problem of problems) console.log(`   !! ${problem}`);
      if (problems.length) failed++;
    }
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
  console.log(
    failed === 0
      ? `\nAll ${rows.length} rows of "Practise the failures" did what the README says.`
      : `\n${failed} of ${rows.length} rows did not do what the README says.`,
  );
  return failed === 0 ? 0 : 1;
}
