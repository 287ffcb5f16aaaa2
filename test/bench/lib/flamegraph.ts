/**
 * A V8 `.cpuprofile` (what `node --cpu-prof` writes) as folded stacks
 * (Brendan Gregg's `a;b;c weight` lines) and as a flame graph SVG, with no
 * tool beyond Node. Weights are microseconds of CPU: each sample counts for
 * the time until the next one. `(idle)` is dropped (a waiting event loop is
 * not a cost); `(garbage collector)` and `(program)` (native work V8 cannot
 * attribute to a JavaScript frame: TLS, syscalls, the HTTP parser) stay.
 */

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface FoldOptions {
  /** Only samples taken this long after the profile started (skips start-up and warm-up). */
  readonly fromMs?: number;
  /** Folder prefixes to strip from script URLs so frames read `src/proxy/x.ts:12`. */
  readonly roots?: readonly string[];
}

export interface Folded {
  /** Stack (root first, frames joined with ';') → µs. */
  readonly stacks: Map<string, number>;
  readonly totalUs: number;
  readonly idleUs: number;
  readonly windowUs: number;
}

function frameName(frame: CallFrame, roots: readonly string[]): string {
  const fn = frame.functionName || '(anonymous)';
  if (!frame.url) return fn;
  let url = frame.url.replace(/^file:\/\//, '');
  for (const root of roots) if (url.startsWith(root)) url = url.slice(root.length);
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) url = url.slice(nm + 'node_modules/'.length);
  // ';' separates frames in the folded format.
  return `${fn} ${url}:${frame.lineNumber + 1}`.replaceAll(';', ',');
}

export function foldProfile(profile: CpuProfile, options: FoldOptions = {}): Folded {
  const roots = options.roots ?? [];
  const parent = new Map<number, number>();
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const stackOf = new Map<number, string | null>();
  const stack = (id: number): string | null => {
    const known = stackOf.get(id);
    if (known !== undefined) return known;
    const names: string[] = [];
    let idle = false;
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at)!;
      if (node.callFrame.functionName === '(idle)') idle = true;
      if (node.callFrame.functionName === '(root)') break;
      names.push(frameName(node.callFrame, roots));
    }
    const folded = idle ? null : names.reverse().join(';');
    stackOf.set(id, folded);
    return folded;
  };
  const stacks = new Map<string, number>();
  const from = (options.fromMs ?? 0) * 1000;
  let t = 0;
  let totalUs = 0;
  let idleUs = 0;
  let firstUs: number | undefined;
  let lastUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    const weight = profile.timeDeltas[i + 1] ?? 0;
    if (t < from || weight <= 0) continue;
    firstUs ??= t;
    lastUs = t + weight;
    const folded = stack(profile.samples[i]!);
    if (folded === null) {
      idleUs += weight;
      continue;
    }
    totalUs += weight;
    stacks.set(folded, (stacks.get(folded) ?? 0) + weight);
  }
  return { stacks, totalUs, idleUs, windowUs: firstUs === undefined ? 0 : lastUs - firstUs };
}

export function foldedText(folded: Folded): string {
  return [...folded.stacks.entries()].map(([stack, us]) => `${stack} ${Math.round(us)}`).join('\n') + '\n';
}

/** Self time per frame, largest first: the table beside the picture. */
export function selfTimes(folded: Folded): { frame: string; us: number; share: number }[] {
  const self = new Map<string, number>();
  for (const [stack, us] of folded.stacks) {
    const leaf = stack.slice(stack.lastIndexOf(';') + 1);
    self.set(leaf, (self.get(leaf) ?? 0) + us);
  }
  return [...self.entries()].sort((a, b) => b[1] - a[1]).map(([frame, us]) => ({ frame, us, share: us / folded.totalUs }));
}

/** Inclusive time of every frame whose name matches, counted once per stack. */
export function inclusiveTime(folded: Folded, match: (frame: string) => boolean): number {
  let us = 0;
  for (const [stack, weight] of folded.stacks) if (stack.split(';').some(match)) us += weight;
  return us;
}

interface Tree {
  readonly name: string;
  us: number;
  readonly children: Map<string, Tree>;
}

function treeOf(folded: Folded): Tree {
  const root: Tree = { name: 'all', us: 0, children: new Map() };
  for (const [stack, us] of folded.stacks) {
    root.us += us;
    let at = root;
    for (const name of stack.split(';')) {
      let next = at.children.get(name);
      if (!next) at.children.set(name, (next = { name, us: 0, children: new Map() }));
      next.us += us;
      at = next;
    }
  }
  return root;
}

function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

/** Warm colours for JavaScript, by where it lives: ours, Node's, a dependency's; grey for native/GC. */
function colourOf(name: string): string {
  let hash = 0;
  for (let i = 0; i < name.length; i++) hash = (hash * 31 + name.charCodeAt(i)) >>> 0;
  const v = hash % 55;
  // Frames without a script location are native (bindings, GC, the profiler's "(program)").
  if (!name.includes(' ')) return `rgb(${165 + v},${165 + v},${165 + v})`;
  if (name.includes(' src/') || name.includes(' dist/') || name.includes(' test/')) return `rgb(${80 + v},${190 + (v % 40)},${80})`;
  if (name.includes(' node:')) return `rgb(${230},${120 + v},${50})`;
  return `rgb(${220},${190 + (v % 40)},${60})`;
}

export interface SvgOptions {
  readonly title: string;
  readonly subtitle?: string;
  readonly width?: number;
  /** Frames narrower than this many pixels are left out (their time stays in the parent). */
  readonly minWidthPx?: number;
}

/** A classic bottom-up flame graph; hovering a frame shows its name, µs and share. */
export function flameGraphSvg(folded: Folded, options: SvgOptions): string {
  const width = options.width ?? 1200;
  const frameH = 16;
  const pad = 10;
  const top = options.subtitle ? 50 : 34;
  const minWidth = options.minWidthPx ?? 0.3;
  const root = treeOf(folded);
  const scale = (width - 2 * pad) / Math.max(root.us, 1);
  const rects: { node: Tree; x: number; depth: number; w: number }[] = [];
  let depthMax = 0;
  const walk = (node: Tree, x: number, depth: number) => {
    depthMax = Math.max(depthMax, depth);
    let cx = x;
    const kids = [...node.children.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const kid of kids) {
      const w = kid.us * scale;
      if (w >= minWidth) {
        rects.push({ node: kid, x: cx, depth: depth + 1, w });
        walk(kid, cx, depth + 1);
      }
      cx += w;
    }
  };
  walk(root, pad, 0);
  const height = top + (depthMax + 1) * frameH + pad + 20;
  const yOf = (depth: number) => height - pad - 20 - depth * frameH;
  const body = rects.map((r) => {
    const share = ((100 * r.node.us) / Math.max(root.us, 1)).toFixed(2);
    const label = r.w > 24 ? escapeXml(r.node.name.slice(0, Math.floor((r.w - 6) / 6.4))) : '';
    return (
      `<g><title>${escapeXml(r.node.name)} — ${Math.round(r.node.us / 1000)} ms, ${share} %</title>` +
      `<rect x="${r.x.toFixed(1)}" y="${yOf(r.depth)}" width="${r.w.toFixed(1)}" height="${frameH - 1}" fill="${colourOf(r.node.name)}" rx="2"/>` +
      (label ? `<text x="${(r.x + 3).toFixed(1)}" y="${yOf(r.depth) + 11.5}">${label}</text>` : '') +
      '</g>'
    );
  });
  const allY = yOf(0);
  return [
    `<?xml version="1.0" standalone="no"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Verdana, sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fdfdf6"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15">${escapeXml(options.title)}</text>`,
    options.subtitle ? `<text x="${width / 2}" y="38" text-anchor="middle" fill="#555">${escapeXml(options.subtitle)}</text>` : '',
    `<g><title>all — ${Math.round(root.us / 1000)} ms of CPU</title><rect x="${pad}" y="${allY}" width="${width - 2 * pad}" height="${frameH - 1}" fill="#ddd" rx="2"/>`,
    `<text x="${pad + 3}" y="${allY + 11.5}">all: ${Math.round(root.us / 1000)} ms of CPU (idle excluded)</text></g>`,
    ...body,
    `<text x="${pad}" y="${height - 6}" fill="#555" font-size="10">green: ucgate (src/), orange: Node's own JavaScript (node:), yellow: dependencies, grey: native code and GC that V8 cannot attribute to a frame. Width = CPU time; hover for figures.</text>`,
    `</svg>`,
    '',
  ].join('\n');
}
