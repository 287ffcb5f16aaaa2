/**
 * Links the gateway can follow (issue 15). A URL naming a node is pointed at
 * the gateway only when a request for it would be routed there; a link the
 * gateway would refuse (Unified CM Assistant, help pages, denied admin
 * pages) keeps the node's name, so the client at least gets what the node
 * meant instead of a 404 or 403 from us. The matcher finds the link's path;
 * a `LinkCheck` (supplied by the proxy, which owns the router) decides.
 */

/** Decides, per link, whether it is rewritten to the gateway or left to the node. */
export interface LinkCheck {
  /**
   * True: rewrite the link; false: leave it naming the node. `group` is the
   * rewrite group of the node named (0: the answering cluster), `host` the
   * authority the link would get (IPv6 in brackets). `path` is the link's
   * path as written, without query or fragment (`''`: none), or undefined
   * when longer than MAX_LINK_PATH. `plane` is the port map's tag when the
   * link's port sends it to other listeners (e.g. `tftp`), else undefined:
   * the listeners of the answer itself. Called once per link found, so an
   * implementation caches its decisions.
   */
  follows(group: number, host: string, path: string | undefined, plane: string | undefined): boolean;
}

/** A link path longer than this is not decided on (and left to the node). Bounds what a stream holds back. */
export const MAX_LINK_PATH = 1024;

/** Bytes a body stream holds back beyond a name's own allowance, so a link's path is whole when it is decided. */
export const LINK_KEEP = MAX_LINK_PATH + 1;

/**
 * Where the path that starts at `at` ends: the first `?`, `#`, quote, angle
 * bracket, `&` (an XML entity: `&amp;`, `&quot;`), backtick, space or control
 * character, or the end of `s`. Returns -1 when no end is found within
 * MAX_LINK_PATH characters. Char codes, not a RegExp: this runs per link.
 */
export function linkPathEnd(s: string, at: number): number {
  const stop = Math.min(s.length, at + MAX_LINK_PATH + 1);
  for (let i = at; i < stop; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || c === 0x3f || c === 0x23 || c === 0x22 || c === 0x27 || c === 0x3c || c === 0x3e || c === 0x26 || c === 0x60) return i;
  }
  return stop === s.length && stop - at <= MAX_LINK_PATH ? stop : -1;
}
