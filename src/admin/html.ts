/**
 * HTML that is escaped by construction. Every value interpolated into an
 * `html` template is escaped unless it is already `SafeHtml` (another
 * template's result), so node names, certificate subjects and audit text can
 * never inject markup: the dashboard's XSS defence lives in this one file.
 */

/** Markup produced by `html` (or `trustedHtml`); inserted into other templates as is. */
export class SafeHtml {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  toString(): string {
    return this.#value;
  }
}

const ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/** Escapes text for element content and quoted attribute values alike. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (char) => ENTITIES[char]!);
}

/** A value an `html` template accepts: text (escaped), markup, or lists of either. */
export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.toString();
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/** Tagged template: the literal parts are markup, every `${value}` is escaped text (or SafeHtml). */
export function html(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** Wraps markup written in this code base (CSS, the client script), never data. */
export function trustedHtml(markup: string): SafeHtml {
  return new SafeHtml(markup);
}
