/**
 * What of a request target may be logged. Extension Mobility sends the user id
 * and PIN (`seq`) in the query string, and other forms carry passwords: their
 * values never reach a log line.
 */

const SENSITIVE_PARAMS = new Set([
  'userid', 'seq', 'pin', 'password', 'passwd', 'pwd', 'pass', 'secret', 'token', 'access_token',
  'j_username', 'j_password', 'newpin', 'oldpin', 'newpassword', 'oldpassword', 'confirmpin', 'confirmpassword',
  'credentials', 'auth', 'authorization', 'sessionid', 'jsessionid',
]);

/** `/path?a=1&seq=1234` → `/path?a=1&seq=[redacted]`; `;jsessionid=` path parameters are dropped too. */
export function loggableTarget(target: string): string {
  const q = target.indexOf('?');
  const path = (q < 0 ? target : target.slice(0, q)).replace(/;jsessionid=[^/?]*/gi, ';jsessionid=[redacted]');
  if (q < 0) return path;
  const parts = target.slice(q + 1).split('&');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const eq = part.indexOf('=');
    let name = eq < 0 ? part : part.slice(0, eq);
    try {
      name = decodeURIComponent(name);
    } catch {
      // An undecodable name is logged as it came, value redacted below regardless.
      parts[i] = `${part.slice(0, eq < 0 ? part.length : eq)}=[redacted]`;
      continue;
    }
    if (eq >= 0 && SENSITIVE_PARAMS.has(name.toLowerCase())) parts[i] = `${part.slice(0, eq)}=[redacted]`;
  }
  return `${path}?${parts.join('&')}`;
}
