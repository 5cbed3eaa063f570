/**
 * The failure table: what `--fail STEP:ACTION[:PERCENT]` asks the playground
 * to get wrong on purpose, read once at start into one table keyed by step.
 *
 * The dialect (playground/dialect.ts) asks the table at each step of a
 * session, through one hook, whether this step fails and how; this module
 * knows nothing of SMTP replies beyond their codes. Each session takes a
 * {@link FailureSession} from the table current when it connected, so a
 * table changed at run time applies to the next session, never to one
 * already running.
 *
 * Percentages are drawn from a small seeded generator of our own
 * ({@link seededRandom}); with a seed given (`--fail-seed N`) the n-th
 * session's draws are the same on every run.
 *
 * @example
 * ```ts
 * import { FailureTable } from "./playground/failures.ts";
 *
 * const table = FailureTable.parse(["rcpt:550", "data:slow=200:50"], { seed: 7 });
 * const session = table.session(1);
 * console.log(session.at("rcpt")); // { kind: "reply", code: 550 }
 * ```
 * @module
 */

/** The steps a failure can be put at, in the order a session reaches them. */
export const STEPS = [
  "connect",
  "ehlo",
  "helo",
  "starttls",
  "ehlo2",
  "auth",
  "mail",
  "rcpt",
  "data",
  "message",
  "quit",
] as const;

/**
 * A step of a session: the greeting (`connect`), a command's reply, the EHLO
 * after STARTTLS (`ehlo2`), or the reply after the message's final dot
 * (`message`).
 */
export type Step = typeof STEPS[number];

/** What happens at a failing step. */
export type Action =
  /** The reply `code`, worded as Postfix words it at that step. */
  | { kind: "reply"; code: number }
  /** The connection is closed without a reply. */
  | { kind: "drop" }
  /** No reply, ever: the client's timeout ends the session. */
  | { kind: "stall" }
  /** The normal reply, after `ms` milliseconds. */
  | { kind: "slow"; ms: number };

/** One `--fail` rule. */
export interface FailureRule {
  step: Step;
  /** For `rcpt=ADDRESS`: the one recipient that fails (lower case). */
  address?: string;
  action: Action;
  /** How often, 0 to 100. */
  percent: number;
}

/** The longest `slow=MS`: ten minutes, RFC 5321's longest client timeout. */
export const MAX_SLOW_MS = 600_000;

/** What the playground offers, which decides whether a step can be reached at all. */
export interface Offers {
  /** Whether EHLO offers STARTTLS (no `starttls` or `ehlo2` failure without it). */
  starttls?: boolean;
  /** Whether EHLO offers AUTH (no `auth` failure without it). */
  auth?: boolean;
}

/** A rule as it is written: `rcpt=a@example.com:550:25`. */
export function formatRule(rule: FailureRule): string {
  const step = rule.address === undefined ? rule.step : `${rule.step}=${rule.address}`;
  const action = rule.action.kind === "reply"
    ? String(rule.action.code)
    : rule.action.kind === "slow"
    ? `slow=${rule.action.ms}`
    : rule.action.kind;
  return rule.percent === 100 ? `${step}:${action}` : `${step}:${action}:${rule.percent}`;
}

/** The short mark of an action for a session's record: `rcpt:550`, `data:drop`. */
export function markOf(step: Step, action: Action): string {
  return formatRule({ step, action, percent: 100 });
}

/**
 * Reads one `STEP:ACTION[:PERCENT]`; throws an Error naming the bad part.
 * `offers` says what the server offers (a STARTTLS failure needs STARTTLS).
 */
export function parseRule(spec: string, offers: Offers = {}): FailureRule {
  const parts = spec.split(":");
  if (parts.length < 2 || parts.length > 3) {
    throw new Error(`--fail takes STEP:ACTION[:PERCENT], not ${JSON.stringify(spec)}`);
  }
  const [stepPart, actionPart, percentPart] = parts;
  const [stepName, ...addressParts] = stepPart.split("=");
  const step = STEPS.find((name) => name === stepName.toLowerCase());
  if (!step) {
    throw new Error(
      `--fail ${spec}: unknown step ${JSON.stringify(stepName)} ` +
        `(steps: ${STEPS.join(", ")}, rcpt=ADDRESS)`,
    );
  }
  let address: string | undefined;
  if (addressParts.length > 0) {
    address = addressParts.join("=").replace(/^<(.*)>$/, "$1").toLowerCase();
    if (step !== "rcpt") throw new Error(`--fail ${spec}: only rcpt takes =ADDRESS`);
    if (!/^[^\s<>@]+@[^\s<>@]+$/.test(address)) {
      throw new Error(`--fail ${spec}: ${JSON.stringify(address)} is not an address`);
    }
  }
  if ((step === "starttls" || step === "ehlo2") && offers.starttls === false) {
    throw new Error(`--fail ${spec}: ${step} cannot fail, STARTTLS is not offered (--no-starttls)`);
  }
  if (step === "auth" && offers.auth === false) {
    throw new Error(`--fail ${spec}: auth cannot fail, AUTH is not offered`);
  }
  return {
    step,
    address,
    action: parseAction(spec, actionPart),
    percent: parsePercent(spec, percentPart),
  };
}

function parseAction(spec: string, text: string): Action {
  const action = text.toLowerCase();
  if (action === "drop" || action === "stall") return { kind: action };
  const slow = /^slow=(\d+)$/.exec(action);
  if (slow) {
    const ms = Number(slow[1]);
    if (ms > MAX_SLOW_MS) throw new Error(`--fail ${spec}: slow takes 0 to ${MAX_SLOW_MS} ms`);
    return { kind: "slow", ms };
  }
  if (/^\d{3}$/.test(action)) {
    if (!/^[45]/.test(action)) {
      throw new Error(`--fail ${spec}: the code ${action} is not a failure (4xx or 5xx)`);
    }
    return { kind: "reply", code: Number(action) };
  }
  throw new Error(
    `--fail ${spec}: unknown action ${
      JSON.stringify(text)
    } (a 4xx or 5xx code, drop, stall, slow=MS)`,
  );
}

function parsePercent(spec: string, text: string | undefined): number {
  if (text === undefined) return 100;
  const percent = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || percent > 100) {
    throw new Error(`--fail ${spec}: the percent ${JSON.stringify(text)} is not 0 to 100`);
  }
  return percent;
}

/**
 * A small seeded generator (splitmix32): the same seed gives the same
 * numbers in [0, 1), here and on every run.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    z = (z ^ (z >>> 16)) >>> 0;
    return z / 0x1_0000_0000;
  };
}

/** The `--fail` rules, keyed by step, and the seed their percentages are drawn with. */
export class FailureTable {
  /** The rules, one per step (and one per `rcpt=ADDRESS`), in the order given. */
  readonly rules: readonly FailureRule[];
  /** The seed of the percentages. */
  readonly seed: number;
  readonly #byKey: ReadonlyMap<string, FailureRule>;

  constructor(rules: FailureRule[], seed: number) {
    const byKey = new Map<string, FailureRule>();
    for (const rule of rules) {
      const key = keyOf(rule.step, rule.address);
      if (byKey.has(key)) throw new Error(`--fail: ${key.replace("\0", "=")} is given twice`);
      byKey.set(key, rule);
    }
    this.rules = [...rules];
    this.seed = seed >>> 0;
    this.#byKey = byKey;
  }

  /**
   * Reads every `--fail` spec; throws an Error naming the first bad one. With
   * no seed, one is picked at random.
   */
  static parse(specs: string[], options: Offers & { seed?: number } = {}): FailureTable {
    const seed = options.seed ?? crypto.getRandomValues(new Uint32Array(1))[0];
    return new FailureTable(specs.map((spec) => parseRule(spec, options)), seed);
  }

  /** The rule for `step` (for `rcpt`, the one for `address` if there is one). */
  rule(step: Step, address?: string): FailureRule | undefined {
    return this.#byKey.get(keyOf(step, address?.toLowerCase()));
  }

  /** The rules as they are written, for the banner and the API. */
  describe(): string[] {
    return this.rules.map(formatRule);
  }

  /** The failures of the n-th session (from 1): its own draws, from the seed and n. */
  session(n: number): FailureSession {
    return new FailureSession(this, seededRandom(this.seed ^ Math.imul(n, 0x27d4eb2d)));
  }
}

function keyOf(step: Step, address?: string): string {
  return address === undefined ? step : `${step}\0${address}`;
}

/** One session's view of a table: asks at each step, and keeps what it injected. */
export class FailureSession {
  /** What was injected in this session, in order: `rcpt:550`, `data:slow=200`. */
  readonly injected: string[] = [];
  readonly #table: FailureTable;
  readonly #random: () => number;

  constructor(table: FailureTable, random: () => number) {
    this.#table = table;
    this.#random = random;
  }

  /**
   * Whether `step` fails this time, and how; null when it goes as normal.
   * For `rcpt`, a rule for the recipient `address` comes before the rule for
   * every recipient.
   */
  at(step: Step, address?: string): Action | null {
    const candidates = address === undefined
      ? [this.#table.rule(step)]
      : [this.#table.rule(step, address), this.#table.rule(step)];
    for (const rule of candidates) {
      if (rule && this.#fires(rule.percent)) {
        this.injected.push(markOf(step, rule.action));
        return rule.action;
      }
    }
    return null;
  }

  #fires(percent: number): boolean {
    if (percent >= 100) return true;
    if (percent <= 0) return false;
    return this.#random() * 100 < percent;
  }
}

/** A table with no failures: every session goes as normal. */
export const NO_FAILURES: FailureTable = new FailureTable([], 0);

/**
 * The failure table of a running playground, as the web port reads and
 * changes it: the current table, and a new one read from specs with the
 * same checks as `--fail` (what the server offers included).
 */
export interface FailureControl {
  /** The table the next session takes. */
  readonly table: FailureTable;
  /** Reads `specs` (and `seed`, else a new random one) into the next sessions' table; throws on a bad spec. */
  replace(specs: string[], seed?: number): FailureTable;
}

/** A {@link FailureControl} over a getter and setter, checking new specs against `offers`. */
export function failureControl(
  get: () => FailureTable,
  set: (table: FailureTable) => void,
  offers: Offers,
): FailureControl {
  return {
    get table() {
      return get();
    },
    replace(specs, seed) {
      const table = FailureTable.parse(specs, { ...offers, seed });
      set(table);
      return table;
    },
  };
}
