/**
 * The failure table on its own (playground/failures.ts), no network: every
 * spec read once into one rule, the bad ones refused with their bad part
 * named, the percentages drawn the same way from the same seed, and the
 * Postfix wording of each step's failure (playground/dialect.ts).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  FailureTable,
  formatRule,
  parseRule,
  seededRandom,
  STEPS,
} from "../playground/failures.ts";
import { failureReply } from "../playground/dialect.ts";
import { main } from "../playground/main.ts";

Deno.test("every step takes every kind of action, and each reads back as it was written", () => {
  for (const step of [...STEPS, "rcpt=Brandon@Example.com"]) {
    for (const action of ["550", "421", "drop", "stall", "slow=250"]) {
      if (step === "connect" && action === "550") continue; // the same shape as 421
      const spec = `${step}:${action}`;
      const rule = parseRule(spec);
      assert.equal(formatRule(rule), spec.replace("Brandon@Example.com", "brandon@example.com"));
      assert.equal(rule.percent, 100);
    }
  }
  assert.deepEqual(parseRule("rcpt=<a@example.com>:451:12.5"), {
    step: "rcpt",
    address: "a@example.com",
    action: { kind: "reply", code: 451 },
    percent: 12.5,
  });
  assert.deepEqual(parseRule("DATA:Slow=20").action, { kind: "slow", ms: 20 });
});

Deno.test("a bad spec is refused, naming its bad part", () => {
  const cases: [string, RegExp][] = [
    ["hello:550", /unknown step "hello"/],
    ["rcpt:250", /the code 250 is not a failure \(4xx or 5xx\)/],
    ["rcpt:650", /the code 650 is not a failure/],
    ["rcpt:55", /unknown action "55"/],
    ["rcpt:explode", /unknown action "explode"/],
    ["rcpt:550:101", /the percent "101" is not 0 to 100/],
    ["rcpt:550:-1", /the percent "-1" is not 0 to 100/],
    ["rcpt:550:half", /the percent "half" is not 0 to 100/],
    ["rcpt", /takes STEP:ACTION\[:PERCENT\], not "rcpt"/],
    ["rcpt:550:50:1", /takes STEP:ACTION\[:PERCENT\]/],
    ["mail=a@example.com:550", /only rcpt takes =ADDRESS/],
    ["rcpt=nobody:550", /"nobody" is not an address/],
    ["data:slow=600001", /slow takes 0 to 600000 ms/],
  ];
  for (const [spec, reason] of cases) {
    assert.throws(() => parseRule(spec), reason, spec);
    assert.throws(() => parseRule(spec), /^Error: --fail /);
  }
  assert.throws(
    () => parseRule("starttls:454", { starttls: false }),
    /--fail starttls:454: starttls cannot fail, STARTTLS is not offered/,
  );
  assert.throws(() => parseRule("ehlo2:554", { starttls: false }), /ehlo2 cannot fail/);
  assert.throws(() => FailureTable.parse(["rcpt:550", "rcpt:451"]), /rcpt is given twice/);
  // One rule for every recipient and one for a single recipient are two keys.
  assert.equal(FailureTable.parse(["rcpt:451", "rcpt=a@example.com:550"]).rules.length, 2);
});

Deno.test("usage errors from the command line exit 2 and name the bad part", async () => {
  const cases: [string[], RegExp][] = [
    [["--fail", "bogus:550"], /unknown step "bogus"/],
    [["--fail", "mail:250"], /the code 250 is not a failure/],
    [["--fail", "mail:550:200"], /the percent "200" is not 0 to 100/],
    [["--no-starttls", "--fail", "starttls:454"], /STARTTLS is not offered/],
    [["--fail-seed", "x"], /--fail-seed takes 0 to 4294967295/],
    [["--size", "99999999"], /--size takes 0 to 10240000/],
    [["--auth-methods", "PLAIN,GSSAPI"], /--auth-methods takes none or a list .* not "GSSAPI"/],
    [["--auth-methods", "none", "--fail", "auth:535"], /auth cannot fail, AUTH is not offered/],
    [["--fail", "rcpt:550", "--fail", "rcpt:451"], /rcpt is given twice/],
  ];
  for (const [args, reason] of cases) {
    const errors: string[] = [];
    const original = console.error;
    console.error = (line: string) => errors.push(line);
    let status;
    try {
      status = await main(["--port", "0", "--no-web", ...args]);
    } finally {
      console.error = original;
    }
    assert.equal(status, 2, args.join(" "));
    assert.match(errors[0], /^playground: /);
    assert.match(errors[0], reason);
    assert.match(errors[1], /^usage: deno task playground .*--fail STEP:ACTION\[:PERCENT\]/);
  }
});

Deno.test("percentages: the same seed gives the same sessions, and about the share asked", () => {
  const draws = (seed: number) => {
    const table = FailureTable.parse(["rcpt:550:30", "data:drop:75"], { seed });
    return Array.from({ length: 1000 }, (_, i) => {
      const session = table.session(i + 1);
      return [session.at("rcpt") ? 1 : 0, session.at("data") ? 1 : 0];
    });
  };
  const first = draws(7);
  assert.deepEqual(draws(7), first);
  assert.notDeepEqual(draws(8), first);
  const rcpt = first.filter(([r]) => r).length;
  const data = first.filter(([, d]) => d).length;
  // Fixed by the seed: the shares of this run, within a few percent of what was asked.
  assert.ok(rcpt > 250 && rcpt < 350, `rcpt failed ${rcpt} times in 1000`);
  assert.ok(data > 700 && data < 800, `data failed ${data} times in 1000`);
  // 0 never fires and 100 always does, whatever the seed.
  const table = FailureTable.parse(["mail:550:0", "quit:421:100"], { seed: 1 });
  for (let n = 1; n <= 50; n++) {
    const session = table.session(n);
    assert.equal(session.at("mail"), null);
    assert.deepEqual(session.at("quit"), { kind: "reply", code: 421 });
    assert.deepEqual(session.injected, ["quit:421"]);
  }
});

Deno.test("the generator: numbers in [0, 1), the same for the same seed", () => {
  const a = seededRandom(42), b = seededRandom(42);
  for (let i = 0; i < 1000; i++) {
    const x = a();
    assert.equal(x, b());
    assert.ok(x >= 0 && x < 1);
  }
});

Deno.test("rcpt=ADDRESS fails that recipient only, before the rule for every recipient", () => {
  const table = FailureTable.parse(["rcpt=alice@example.com:550", "rcpt:451:0"], { seed: 1 });
  const session = table.session(1);
  assert.deepEqual(session.at("rcpt", "ALICE@example.com"), { kind: "reply", code: 550 });
  assert.equal(session.at("rcpt", "brandon@example.com"), null);
  assert.deepEqual(session.injected, ["rcpt:550"]);
});

Deno.test("a failure is worded as Postfix words it at that step", () => {
  const detail = { argument: "brandon@example.com", client: "127.0.0.1" };
  assert.equal(
    failureReply("rcpt", 550, detail),
    "5.1.1 <brandon@example.com>: Recipient address rejected: User unknown in local recipient table",
  );
  assert.equal(
    failureReply("rcpt", 554, detail),
    "5.7.1 <brandon@example.com>: Relay access denied",
  );
  assert.equal(failureReply("starttls", 454, {}), "4.7.0 TLS not available due to local problem");
  assert.equal(
    failureReply("auth", 535, {}),
    "5.7.8 Error: authentication failed: authentication failure",
  );
  assert.equal(failureReply("message", 451, {}), "4.3.0 Error: queue file write error");
  assert.equal(failureReply("data", 554, {}), "5.5.1 Error: no valid recipients");
  assert.equal(
    failureReply("connect", 421, detail),
    "4.7.0 mail.example.com Error: too many connections from 127.0.0.1",
  );
  assert.equal(failureReply("ehlo", 502, {}), "5.5.2 Error: command not recognized");
  // No Postfix text for it: ours, with an enhanced code of the code's class; a 421 names the host.
  assert.equal(
    failureReply("quit", 550, {}),
    "5.0.0 Error: quit failed on purpose (playground --fail)",
  );
  assert.match(failureReply("mail", 421, {}), /^4\.\d\.\d mail\.example\.com /);
});
