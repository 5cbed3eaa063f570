/**
 * The playground failing on purpose (`--fail`), over a raw socket: every
 * step with every kind of action (a code, 421, drop, stall, slow), the exact
 * reply lines, the connection closed after each 421, a failed message stored
 * nowhere, a changed table applying to the next session only, and the
 * listings ending within their `--timeout` against a stall.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Playground, startPlayground } from "../playground/server.ts";
import { FailureTable, type Step } from "../playground/failures.ts";
import { readMailbox } from "../playground/mbox.ts";
import { runListing } from "./playground_run.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Runs `body` against a fresh playground on a free port that fails as `specs` say. */
async function withFailing(
  specs: string[],
  body: (playground: Playground) => Promise<void>,
  options: { seed?: number } = {},
): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "playground-failures-" });
  const failures = FailureTable.parse(specs, { seed: options.seed ?? 1 });
  const playground = await startPlayground({ port: 0, dataDir, closeTimeout: 100, failures });
  try {
    await body(playground);
  } finally {
    await playground.close();
    await Deno.remove(dataDir, { recursive: true });
  }
}

/** What came back: a whole reply (CRLFs and all), the connection closed, or nothing in time. */
type Heard = string | "closed" | "silent";

/** A raw SMTP client: one line out, one reply in, as bytes. */
class Raw {
  #conn: Deno.Conn;
  #buffered = "";
  #buffer = new Uint8Array(65536);

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  static async open(port: number): Promise<Raw> {
    return new Raw(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** The next whole reply; "closed" at end of stream, "silent" when nothing comes for `wait` ms. */
  async hear(wait = 5000): Promise<Heard> {
    while (!/(^|\r\n)\d{3} [^\r\n]*\r\n$/.test(this.#buffered)) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const silent = new Promise<"silent">((resolve) => {
        timer = setTimeout(() => resolve("silent"), wait);
      });
      const read = this.#conn.read(this.#buffer).catch(() => null);
      const n = await Promise.race([read, silent]);
      clearTimeout(timer);
      if (n === "silent") return this.#buffered === "" ? "silent" : this.#buffered;
      if (n === null) return this.#buffered === "" ? "closed" : this.#buffered;
      this.#buffered += decoder.decode(this.#buffer.subarray(0, n));
    }
    const reply = this.#buffered;
    this.#buffered = "";
    return reply;
  }

  async say(line: string, wait?: number): Promise<Heard> {
    await this.#conn.write(encoder.encode(line + "\r\n"));
    return await this.hear(wait);
  }

  async starttls(caPath: string): Promise<void> {
    const caCerts = [await Deno.readTextFile(caPath)];
    this.#conn = await Deno.startTls(this.#conn as Deno.TcpConn, {
      hostname: "localhost",
      caCerts,
    });
  }

  close(): void {
    try {
      this.#conn.close();
    } catch { /* closed already */ }
  }
}

const EHLO = "EHLO [127.0.0.1]";
const MAIL = "MAIL FROM:<sender@example.com>";
const RCPT = "RCPT TO:<brandon@example.com>";
const MESSAGE = "Subject: failing on purpose\r\n\r\nHello.\r\n.";
const PLAIN = "AUTH PLAIN AGJyYW5kb24AYWJjMTIz"; // brandon, abc123

/**
 * The commands that lead to each step, the last of them the step's own
 * (none for `connect`: the greeting is the step), and its normal reply's code.
 */
const PATHS: Record<Step, { before: string[]; step?: string; normal: number }> = {
  connect: { before: [], normal: 220 },
  ehlo: { before: [], step: EHLO, normal: 250 },
  helo: { before: [], step: "HELO [127.0.0.1]", normal: 250 },
  starttls: { before: [EHLO], step: "STARTTLS", normal: 220 },
  ehlo2: { before: [EHLO, "STARTTLS"], step: EHLO, normal: 250 },
  auth: { before: [EHLO], step: PLAIN, normal: 235 },
  mail: { before: [EHLO], step: MAIL, normal: 250 },
  rcpt: { before: [EHLO, MAIL], step: RCPT, normal: 250 },
  data: { before: [EHLO, MAIL, RCPT], step: "DATA", normal: 354 },
  message: { before: [EHLO, MAIL, RCPT, "DATA"], step: MESSAGE, normal: 250 },
  quit: { before: [EHLO], step: "QUIT", normal: 221 },
};

/** Walks up to `step` (STARTTLS included); returns the step's reply and the client. */
async function reach(playground: Playground, step: Step, wait?: number) {
  const raw = await Raw.open(playground.port);
  const path = PATHS[step];
  if (step === "connect") return { raw, heard: await raw.hear(wait) };
  assert.match(await raw.hear() as string, /^220 /);
  for (const line of path.before) {
    const heard = await raw.say(line);
    assert.match(heard, /^[23]\d\d[ -]/, `${line} before ${step}: ${heard}`);
    if (line === "STARTTLS") await raw.starttls(playground.caPath);
  }
  return { raw, heard: await raw.say(path.step!, wait) };
}

/** A code each step fails with in the tests, and the exact line Postfix would send. */
const CODES: Record<Step, [number, string]> = {
  connect: [554, "554 5.7.1 <unknown[127.0.0.1]>: Client host rejected: Access denied"],
  ehlo: [502, "502 5.5.2 Error: command not recognized"],
  helo: [504, "504 5.5.2 <[127.0.0.1]>: Helo command rejected: need fully-qualified hostname"],
  starttls: [454, "454 4.7.0 TLS not available due to local problem"],
  ehlo2: [554, "554 5.7.1 <[127.0.0.1]>: Helo command rejected: Access denied"],
  auth: [535, "535 5.7.8 Error: authentication failed: authentication failure"],
  mail: [
    553,
    "553 5.1.8 <sender@example.com>: Sender address rejected: Domain not found",
  ],
  rcpt: [
    550,
    "550 5.1.1 <brandon@example.com>: Recipient address rejected: User unknown in local recipient table",
  ],
  data: [554, "554 5.5.1 Error: no valid recipients"],
  message: [451, "451 4.3.0 Error: queue file write error"],
  quit: [450, "450 4.0.0 Error: quit failed on purpose (playground --fail)"],
};

for (const step of Object.keys(PATHS) as Step[]) {
  const [code, line] = CODES[step];
  Deno.test(`${step}:${code} answers Postfix's line, and the session goes on`, async () => {
    await withFailing([`${step}:${code}`], async (playground) => {
      const { raw, heard } = await reach(playground, step);
      try {
        assert.equal(heard, line + "\r\n");
        // After a refused greeting only QUIT is answered as normal; after QUIT's failure the
        // connection is closed; elsewhere the session goes on.
        if (step === "quit") assert.equal(await raw.hear(), "closed");
        else if (step === "connect") {
          assert.match(await raw.say(EHLO) as string, /^503 5\.5\.1 /);
          assert.equal(await raw.say("QUIT"), "221 2.0.0 Bye\r\n");
        } else assert.match(await raw.say("NOOP") as string, /^250 2\.0\.0 Ok\r\n$/);
      } finally {
        raw.close();
      }
    });
  });

  Deno.test(`${step}:421 answers 421 and closes the connection`, async () => {
    await withFailing([`${step}:421`], async (playground) => {
      const { raw, heard } = await reach(playground, step);
      try {
        assert.match(heard as string, /^421 4\.\d\.\d mail\.example\.com [^\r\n]+\r\n$/);
        assert.equal(await raw.hear(), "closed");
      } finally {
        raw.close();
      }
    });
  });

  Deno.test(`${step}:drop closes the connection without a reply`, async () => {
    await withFailing([`${step}:drop`], async (playground) => {
      const { raw, heard } = await reach(playground, step);
      raw.close();
      assert.equal(heard, "closed");
    });
  });

  Deno.test(`${step}:stall never answers`, async () => {
    await withFailing([`${step}:stall`], async (playground) => {
      // The client's patience ends it: here 300 ms without a byte.
      const { raw, heard } = await reach(playground, step, 300);
      raw.close();
      assert.equal(heard, "silent");
    });
  });

  Deno.test(`${step}:slow=80 answers as normal, 80 ms late`, async () => {
    await withFailing([`${step}:slow=80`], async (playground) => {
      const started = performance.now();
      const { raw, heard } = await reach(playground, step);
      raw.close();
      assert.match(heard as string, new RegExp(`^${PATHS[step].normal}[ -]`));
      // A lower bound only: the timer cannot fire early, however busy the machine.
      assert.ok(performance.now() - started >= 80);
    });
  });
}

Deno.test("message:451 stores nothing, however often the client tries", async () => {
  await withFailing(["message:451"], async (playground) => {
    const { raw, heard } = await reach(playground, "message");
    try {
      assert.equal(heard, "451 4.3.0 Error: queue file write error\r\n");
      for (const line of [MAIL, RCPT, "DATA"]) await raw.say(line);
      assert.equal(await raw.say(MESSAGE), "451 4.3.0 Error: queue file write error\r\n");
      assert.deepEqual(await readMailbox(playground.dataDir, "brandon"), []);
      // The same server without the failure stores the next one.
      playground.failures = FailureTable.parse([]);
      const again = await reach(playground, "message");
      again.raw.close();
      assert.match(again.heard as string, /^250 2\.0\.0 Ok: queued as [0-9A-F]{10}\r\n$/);
      assert.equal((await readMailbox(playground.dataDir, "brandon")).length, 1);
    } finally {
      raw.close();
    }
  });
});

Deno.test("auth:535 comes at the end of the exchange, and leaves the client logged out", async () => {
  await withFailing(["auth:535"], async (playground) => {
    const raw = await Raw.open(playground.port);
    try {
      await raw.hear();
      await raw.say(EHLO);
      // CRAM-MD5 first gets its challenge, as from Postfix, then the failure.
      assert.match(await raw.say("AUTH CRAM-MD5") as string, /^334 [A-Za-z0-9+/=]+\r\n$/);
      assert.equal(
        await raw.say("YnJhbmRvbiAwMDAw"),
        "535 5.7.8 Error: authentication failed: authentication failure\r\n",
      );
      // The right password is refused too: the table says this AUTH fails.
      assert.equal(
        await raw.say(PLAIN),
        "535 5.7.8 Error: authentication failed: authentication failure\r\n",
      );
    } finally {
      raw.close();
    }
  });
});

Deno.test("rcpt=ADDRESS refuses that recipient only", async () => {
  await withFailing(["rcpt=nobody@example.com:550"], async (playground) => {
    const { raw, heard } = await reach(playground, "rcpt");
    try {
      assert.equal(heard, "250 2.1.5 Ok\r\n");
      assert.equal(
        await raw.say("RCPT TO:<Nobody@example.com>"),
        "550 5.1.1 <Nobody@example.com>: Recipient address rejected: " +
          "User unknown in local recipient table\r\n",
      );
    } finally {
      raw.close();
    }
  });
});

Deno.test("a new table applies to the next session, never to one already running", async () => {
  await withFailing([], async (playground) => {
    const running = await Raw.open(playground.port);
    try {
      await running.hear();
      playground.failures = FailureTable.parse(["mail:451"]);
      await running.say(EHLO);
      assert.equal(await running.say(MAIL), "250 2.1.0 Ok\r\n");
      const { raw, heard } = await reach(playground, "mail");
      raw.close();
      assert.equal(heard, "451 4.3.0 <sender@example.com>: Temporary lookup failure\r\n");
    } finally {
      running.close();
    }
  });
});

Deno.test("the same seed fails the same sessions, run after run", async () => {
  const pattern = async () => {
    const seen: string[] = [];
    await withFailing(["mail:451:50"], async (playground) => {
      for (let i = 0; i < 12; i++) {
        const { raw, heard } = await reach(playground, "mail");
        raw.close();
        seen.push((heard as string).slice(0, 3));
      }
    }, { seed: 2026 });
    return seen.join(" ");
  };
  const first = await pattern();
  assert.equal(await pattern(), first);
  assert.match(first, /250/);
  assert.match(first, /451/);
});

Deno.test("a stall: each listing ends within its --timeout and says the message may not be sent", async () => {
  await withFailing(["data:stall"], async (playground) => {
    const server = `127.0.0.1:${playground.port}`;
    for (const script of ["ehlo.ts", "debug.ts", "tls.ts"]) {
      const run = await runListing(
        ["--cert", playground.caPath],
        script,
        ["--timeout", "1", server, "sender@example.com", "brandon@example.com"],
      );
      assert.equal(run.code, 1, `${script}: ${run.stdout}${run.stderr}`);
      assert.match(run.stdout, /Your message may not have been sent!\n.*tim/i, script);
    }
    assert.deepEqual(await readMailbox(playground.dataDir, "brandon"), []);
  });
});

Deno.test("each recorded session marks the failures injected into it", async () => {
  await withFailing(
    ["rcpt=nobody@example.com:550", "data:slow=10", "quit:421:0"],
    async (playground) => {
      const { raw } = await reach(playground, "rcpt");
      await raw.say("RCPT TO:<nobody@example.com>");
      await raw.say("DATA");
      await raw.say(MESSAGE);
      await raw.say("QUIT");
      raw.close();
      const clean = await Raw.open(playground.port);
      await clean.hear();
      await clean.say("QUIT");
      clean.close();
      const [second, first] = playground.mailroom.listSessions({});
      assert.deepEqual(first.failures, ["rcpt:550", "data:slow=10"]);
      assert.deepEqual(second.failures, []);
    },
  );
});
