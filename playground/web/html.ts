/**
 * Escape by default, as Go's `html/template` and lit-html do: the tagged
 * template {@link html} escapes every value put into it, so a field from a
 * message or a client can only ever become text. HTML that is already safe
 * goes in only as a {@link SafeHtml}: what `markup` itself returns, or what
 * {@link trusted} wraps, a call a reviewer can see and judge.
 *
 * ```ts
 * import { markup, trusted } from "./html.ts";
 *
 * const subject = "<script>alert(1)</script>";
 * markup`<h1>${subject}</h1>`.toString(); // "<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>"
 * markup`<p>${trusted("<b>ours</b>")}</p>`.toString(); // "<p><b>ours</b></p>"
 * ```
 *
 * Attribute values must be written in double quotes in the template
 * (`href="${url}"`): the escaping makes a value safe inside quotes, not
 * bare. A value in `href` or `src` must be a URL of ours (built with
 * `encodeURIComponent`), never a URL from a message: escaping keeps a
 * `javascript:` URL a `javascript:` URL.
 *
 * @module
 */

/** A piece of HTML that is safe to put into a page as it is. */
export class SafeHtml {
  readonly #html: string;

  /** Wraps `html`; prefer {@link trusted}, which reads as the decision it is. */
  constructor(html: string) {
    this.#html = html;
  }

  /** The HTML text. */
  toString(): string {
    return this.#html;
  }
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** `text` with `& < > " '` replaced by their character references. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/**
 * Marks `html` as safe, unescaped. Use it only for HTML this program wrote
 * itself, never for anything that came from a message or a client.
 */
export function trusted(html: string): SafeHtml {
  return new SafeHtml(html);
}

/**
 * A value as HTML: a {@link SafeHtml} as it is, an array as its items
 * joined, `null`, `undefined` and `false` as nothing, anything else as
 * escaped text.
 */
function render(value: unknown): string {
  if (value instanceof SafeHtml) return value.toString();
  if (Array.isArray(value)) return value.map(render).join("");
  if (value === null || value === undefined || value === false) return "";
  return escapeHtml(String(value));
}

/** The tagged template: the literal parts as written, every value escaped (see {@link render}). */
export function markup(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new SafeHtml(out);
}
