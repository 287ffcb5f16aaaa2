/**
 * The gateway's own answers in a form a Cisco IP phone can show. A phone's
 * XML browser shows nothing useful for a `text/plain` "503 Service
 * Unavailable": the user sees a generic error and calls the help desk. A
 * `CiscoIPPhoneText` object with a title and a one-line reason tells them
 * what happened and, when the gateway knows, when to try again.
 *
 * Sources (Cisco Unified IP Phone Services Application Development Notes,
 * OL-20949-01, release 7.1(3)):
 * - ch. 3 "CiscoIPPhoneText": `<CiscoIPPhoneText><Title/><Prompt/><Text/>
 *   </CiscoIPPhoneText>`, Title and Prompt optional; Text is 8-bit text with
 *   no control characters except CR, LF and tab. The 6900 series shows only
 *   the Prompt when both Title and Prompt are given, so there is no Prompt
 *   here: the Title is what must show.
 * - ch. 3 "XML Considerations": element names are case-sensitive; `& " ' < >`
 *   must be escaped (Table 3-5); the XML declaration should always name the
 *   encoding, because without it the phone assumes its locale's encoding,
 *   not UTF-8, and the encoding must be one of the phone's Accept-Charset
 *   values. Every phone lists utf-8 there (older models as
 *   `iso-8859-1, utf-8;q=0.8`, ch. 6 "Accept-Charset"), and the fixed texts
 *   below are ASCII, the same bytes in either.
 * - ch. 6 "Identifying the Capabilities of IP Phone Clients": phones send
 *   `x-CiscoIPPhoneModelName` (e.g. CP-7970G), and an Accept header whose
 *   proprietary types all begin with `x-CiscoIPPhone/` (an object, or `*`).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { FailureClass } from '../http/upstream-failure.js';

/** Compiled once: no flags that carry state (no `g`/`y`), so `test` is safe to share. */
const PHONE_ACCEPT = /x-ciscoipphone\//i;
const XML_SPECIAL = /[&<>"']/g;
const XML_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
/** C0 controls (CR, LF and tab too: the reason is one line), DEL and C1 controls. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]+/g;
const DELAY_SECONDS = /^\d+$/;

/** Whether the request comes from a Cisco IP phone's XML browser (see the header). */
export function isCiscoIpPhone(headers: IncomingHttpHeaders): boolean {
  if (headers['x-ciscoipphonemodelname'] !== undefined) return true;
  const accept = headers.accept;
  return accept !== undefined && PHONE_ACCEPT.test(accept);
}

/** Text for an XML element's content or an attribute value. */
export function escapeXml(text: string): string {
  return text.replace(XML_SPECIAL, (c) => XML_ESCAPES[c]!);
}

interface PhoneWording {
  readonly title: string;
  readonly text: string;
}

/**
 * What a phone user reads, per status: short (a phone's title bar is
 * narrow), and never a node's name or address: the screen is what gets
 * read out to a help desk.
 */
const WORDING: Readonly<Record<number, PhoneWording>> = {
  400: { title: 'Bad request', text: 'The service could not read this request.' },
  403: { title: 'Not available', text: 'This service is not available through the gateway.' },
  404: { title: 'Not found', text: 'This service page does not exist.' },
  405: { title: 'Not allowed', text: 'This service does not accept this request.' },
  413: { title: 'Request too large', text: 'The request is larger than the service accepts.' },
  414: { title: 'Address too long', text: 'The service address is too long.' },
  429: { title: 'Too many requests', text: 'Too many requests or attempts.' },
  431: { title: 'Request too large', text: 'The request headers are too large.' },
  // 502 is every failed try: refused, cut, unverifiable TLS, a garbled answer (upstream-failure.ts).
  502: { title: 'Service error', text: 'The servers for this service did not answer properly.' },
  503: { title: 'Service unavailable', text: 'No server is available for this service.' },
  504: { title: 'Service timeout', text: 'The service did not answer in time.' },
};
const OTHER: PhoneWording = { title: 'Service error', text: 'The request could not be completed.' };

/**
 * The `CiscoIPPhoneText` document for a status the gateway answers itself.
 * `reason`, when given, replaces the status's standard sentence: one line,
 * for the phone user, naming no node. `retryAfter` is the response's
 * Retry-After value; in its delay-seconds form the text says when to try again.
 */
export function phoneTextBody(status: number, reason?: string, retryAfter?: number | string | readonly string[]): string {
  const wording = WORDING[status] ?? OTHER;
  let text = reason === undefined ? wording.text : (reason.replace(CONTROL, ' ').trim() || wording.text);
  const seconds = retryAfterSeconds(retryAfter);
  if (seconds !== undefined) text += ` Try again in ${seconds} s.`;
  text += ` (HTTP ${status})`;
  return (
    '<?xml version="1.0" encoding="utf-8"?>\n' +
    `<CiscoIPPhoneText><Title>${escapeXml(wording.title)}</Title><Text>${escapeXml(text)}</Text></CiscoIPPhoneText>\n`
  );
}

const FAILURE_REASONS: Readonly<Record<FailureClass, string>> = {
  connect: 'No server for this service could be reached.',
  tls: 'No secure connection to the service could be made.',
  timeout: 'The service did not answer in time.',
  reset: 'The connection to the service was cut.',
  protocol: 'The service gave an answer that could not be used.',
};

/** A phone's one-line reason for a failed try, for `respondStatus(res, failure.status, reason)`: more precise than the status's. */
export function upstreamFailureReason(failure: FailureClass): string {
  return FAILURE_REASONS[failure];
}

/** Only the delay-seconds form, the one the gateway sets; a date is left unsaid rather than converted. */
function retryAfterSeconds(value: number | string | readonly string[] | undefined): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : undefined;
  const text = typeof value === 'string' ? value.trim() : undefined;
  return text !== undefined && DELAY_SECONDS.test(text) ? Number(text) : undefined;
}
