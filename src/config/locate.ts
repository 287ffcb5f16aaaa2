/**
 * Where a problem's key is in the YAML file, as `nginx -t` says it: each
 * `path.to.key: message` line gets `FILE:LINE:COL` in front. The path is walked
 * through the parsed document's nodes (the `yaml` package keeps their source
 * ranges): a key that is there points at the key itself (an unknown key, a bad
 * value), a key that is not (a missing required key) at the mapping that should
 * hold it, and a path into something the loader made up (built-in routes,
 * a single object taken as a list) at the nearest node the file does have.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Pair } from 'yaml';

export interface Position {
  readonly line: number;
  readonly col: number;
}

/** `clusters[0].nodes[1].url` → ['clusters', 0, 'nodes', 1, 'url']; undefined for a path it cannot read. */
export function pathSegments(at: string): (string | number)[] | undefined {
  const out: (string | number)[] = [];
  const re = /([A-Za-z0-9_]+)|\[(\d+)\]|\./gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(at)) !== null) {
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(Number(m[2]));
    if (re.lastIndex === at.length) return out;
  }
  return at === '' ? out : undefined;
}

/** How keyPath (schema-check.ts) spells a key in a path. */
const spelled = (key: string) => key.replace(/[^A-Za-z0-9_]/g, '_') || '_';

function keyText(pair: Pair): string | undefined {
  const key = pair.key;
  if (isScalar(key)) return String(key.value);
  return typeof key === 'string' || typeof key === 'number' ? String(key) : undefined;
}

function start(node: unknown): number | undefined {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  return range?.[0];
}

/** The source offset the problem at `at` points to, or undefined to leave it without one. */
export function locateOffset(doc: Document, at: string): number | undefined {
  const segments = pathSegments(at === 'config' ? '' : at);
  let node: unknown = doc.contents;
  let found = start(node);
  if (segments === undefined) return found;
  for (const segment of segments) {
    if (isAlias(node)) node = node.resolve(doc);
    if (typeof segment === 'number') {
      // A single object (or scalar) accepted where a list is: [0] is the thing itself.
      if (!isSeq(node)) {
        if (segment === 0) continue;
        return found;
      }
      const item: unknown = node.items[segment];
      if (item === undefined || item === null) return found;
      node = item;
      found = start(item) ?? found;
      continue;
    }
    if (!isMap(node)) return found;
    const pair = (node.items as Pair[]).find((p) => isPair(p) && keyText(p) !== undefined && spelled(keyText(p)!) === segment);
    // A key that is not there (required, or one the loader added): the mapping that should hold it.
    if (pair === undefined) return found;
    found = start(pair.key) ?? start(pair.value) ?? found;
    node = pair.value;
  }
  return found;
}

/** `file:line:col` for the problem at `at` (the `path.to.key` before its message). */
export function locate(doc: Document, lineCounter: LineCounter, at: string): Position | undefined {
  const offset = locateOffset(doc, at);
  if (offset === undefined) return undefined;
  const pos = lineCounter.linePos(offset);
  return { line: pos.line, col: pos.col };
}

/** The `path.to.key` of a `path.to.key: message` problem line. */
export function problemPath(problem: string): string {
  const colon = problem.indexOf(': ');
  return colon < 0 ? problem : problem.slice(0, colon);
}

/** Each problem with `FILE:LINE:COL ` in front (just `FILE ` where no position is known). */
export function locateProblems(problems: readonly string[], doc: Document, lineCounter: LineCounter, file: string): string[] {
  return problems.map((problem) => {
    const pos = locate(doc, lineCounter, problemPath(problem));
    return pos === undefined ? `${file} ${problem}` : `${file}:${pos.line}:${pos.col} ${problem}`;
  });
}
