/**
 * The TFTP listener's allow-list: which request targets name a configuration
 * file the gateway may fetch from a node. Decided on the raw target, before
 * any decoding: a file name is one path segment of plain characters, so
 * traversal (`/../`, `%2e%2e/`), nested paths, directory listings and every
 * other name fail here and never reach a node (CUCM's TFTP service would
 * otherwise hand out any file in its TFTP folder: phone loads, other users'
 * device configurations).
 */

/** `/name` when the target is an allowed file (any query dropped), else undefined. */
export type TftpFileMatcher = (rawTarget: string) => string | undefined;

// A pattern's `*`: what CUCM device names and Jabber group-file names are made of. No '.', so no '..'.
const WILDCARD = '[A-Za-z0-9_-]*';

function patternSource(pattern: string): string {
  return pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join(WILDCARD);
}

/**
 * Compiles the `tftp.allow` patterns once. Matching ignores case, as CUCM's
 * TFTP server does for the names Jabber asks for (`CSFJDOE.cnf.xml`).
 */
export function compileTftpAllow(patterns: readonly string[]): TftpFileMatcher {
  const names = new RegExp(`^/(?:${patterns.map(patternSource).join('|')})$`, 'i');
  return (rawTarget) => {
    const query = rawTarget.indexOf('?');
    const path = query < 0 ? rawTarget : rawTarget.slice(0, query);
    // Jabber sends no query; one is not forwarded, so it cannot select anything upstream.
    return names.test(path) ? path : undefined;
  };
}

/** The longest file name learned from a device file (CUCM's own names are far shorter). */
export const MAX_FILE_NAME = 128;

// The allow-list's character rules for a whole name (the schema's `tftp.allow` pattern without
// `*`): letters, digits, '_', '-' and '.', never two dots in a row, not starting with '.', and
// ending in `.xml` (what passes here is rewritten: a signed or binary file would be corrupted).
const SAFE_NAME = /^(?!.*\.\.)[A-Za-z0-9_-][A-Za-z0-9_.-]*\.xml$/i;

/**
 * Whether `name` (no leading `/`) is a plain file name the TFTP listeners may
 * fetch once it has been learned: one path segment of plain characters, so
 * no `/`, `\`, `..`, `%`-encoding, query or parameter can slip through it.
 */
export function isSafeFileName(name: string): boolean {
  return name.length <= MAX_FILE_NAME && SAFE_NAME.test(name);
}

/**
 * The device configuration files whose `configurationFile=NAME.xml` (the
 * "Cisco Support Field" of a Jabber device: CSF desktop, BOT Android, TCT
 * iPhone, TAB tablet) names the user's group configuration file.
 */
const DEVICE_FILE = /^\/(?:CSF|BOT|TCT|TAB)[A-Za-z0-9_-]*\.cnf\.xml$/i;

/** Whether the allowed file `/name` is a Jabber device's configuration (see DEVICE_FILE). */
export function isJabberDeviceFile(file: string): boolean {
  return DEVICE_FILE.test(file);
}
