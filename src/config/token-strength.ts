/**
 * How strong an admin token must be (issue 17): at least 128 bits of a
 * random secret, written as hex or base64.
 *
 * The rule, on the file's content with surrounding whitespace (the final
 * newline) removed:
 * - only hex digits: 4 bits a character, so at least 32 characters
 *   (`openssl rand -hex 16` or more; the advice is `-hex 32`);
 * - otherwise only base64 or base64url characters (`A-Z a-z 0-9 + / - _`,
 *   up to two `=` of padding at the end): 6 bits a character, so at least
 *   22 characters besides the padding (`openssl rand -base64 16` or more);
 * - anything else (spaces, punctuation, a second line) is no such secret;
 * - and it must look random: at least 8 different characters (a random
 *   32-hex token has fewer with a chance of about 1 in 25 million), and
 *   not one of the placeholders the examples ship (`REPLACE…`, `changeme`).
 *
 * The messages never contain the token, only its length.
 */

/** The shell line that makes a good token file (0600 from the start). */
export function makeTokenAdvice(file: string): string {
  return `make one with \`umask 077; openssl rand -hex 32 > ${file}\``;
}

const MIN_BITS = 128;
const HEX = /^[0-9a-fA-F]+$/;
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;
const PLACEHOLDER = /replace|changeme/i;
const MIN_DISTINCT = 8;

/** Why `token` (the file's text) is too weak, or undefined when it is good; the text follows `listen.admin.tokenFile: `. */
export function tokenWeakness(content: string, file: string): string | undefined {
  const token = content.trim();
  const need = `at least ${MIN_BITS} bits are needed (32 hex or 22+ base64 characters): ${makeTokenAdvice(file)}`;
  if (token === '') return `the token file is empty; ${need}`;
  let bits: number;
  if (HEX.test(token)) bits = token.length * 4;
  else if (BASE64.test(token)) bits = token.replace(/=+$/, '').length * 6;
  else return `the token is ${token.length} characters but not a hex or base64 secret (only 0-9 A-Z a-z + / - _ and trailing =); ${need}`;
  if (bits < MIN_BITS) return `the token is ${token.length} characters (${bits} bits); ${need}`;
  if (PLACEHOLDER.test(token)) return `the token is a placeholder from an example, not a secret; ${need}`;
  const distinct = new Set(token).size;
  if (distinct < MIN_DISTINCT) return `the token is ${token.length} characters but only ${distinct} different ones: not a random secret; ${need}`;
  return undefined;
}
