/**
 * The lines `ucgate demo` accepts on stdin: take a simulated CUCM node down
 * or freeze it and bring it back, reprint the dashboard login, list the
 * commands (`help`). Kept apart from demo.ts so the command table is one
 * list that `help` prints and the parser reads.
 */
import { createInterface } from 'node:readline';
import type { CucmCluster } from '../sim/cucm-cluster.js';

export interface DemoCommandContext {
  readonly cucm: CucmCluster;
  /** The dashboard URL and login token lines, reprinted by `dashboard`. */
  readonly dashboardLines: () => readonly string[];
  /** Where the demo writes its answers (stderr; a test may pass its own). */
  readonly write?: (text: string) => void;
  /** `quit`: what stops the demo (the default sends this process SIGINT, the graceful stop). */
  readonly quit?: () => void;
}

/** What `help` prints: one line per command. */
export const DEMO_COMMANDS: readonly { readonly usage: string; readonly does: string }[] = [
  { usage: 'stop NODE', does: 'stop the node: its port refuses connections (the gateway marks it down)' },
  { usage: 'start NODE', does: 'start a stopped node again' },
  { usage: 'hang NODE', does: 'freeze the node: it accepts connections and never answers' },
  { usage: 'normal NODE', does: 'thaw a hung node: it answers again' },
  { usage: 'nodes', does: 'list the simulated nodes and what was last done to each' },
  { usage: 'dashboard', does: 'print the dashboard URL and login token again' },
  { usage: 'help', does: 'this list' },
  { usage: 'quit', does: 'stop the demo (as Ctrl-C does)' },
];

export function demoHelpText(nodeNames: readonly string[]): string {
  const width = Math.max(...DEMO_COMMANDS.map((c) => c.usage.length));
  return [
    'demo commands:',
    ...DEMO_COMMANDS.map((c) => `  ${c.usage.padEnd(width)}  ${c.does}`),
    `nodes: ${nodeNames.join(', ')} (the first is the publisher)`,
    '',
  ].join('\n');
}

/** Reads commands line by line from stdin until it closes; the demo keeps running after that. */
export function acceptDemoCommands(context: DemoCommandContext): void {
  if (!process.stdin.readable) return;
  const rl = createInterface({ input: process.stdin });
  const handle = demoCommandHandler(context);
  rl.on('line', handle);
  // Without a terminal (CI, docker run without -t) stdin ends at once; that must not stop the demo.
  rl.on('close', () => undefined);
}

/** One line in, the answer written: exported for tests that drive it without stdin. */
export function demoCommandHandler(context: DemoCommandContext): (line: string) => void {
  const { cucm } = context;
  const write = context.write ?? ((text: string) => void process.stderr.write(text));
  const quit = context.quit ?? (() => void process.kill(process.pid, 'SIGINT'));
  const names = cucm.nodes.map((n) => n.name);
  const lastDone = new Map<string, string>(names.map((n) => [n, 'normal']));
  return (line: string) => {
    const [verb, name, ...extra] = line.trim().split(/\s+/);
    if (!verb) return;
    const word = verb.toLowerCase();
    if (word === 'help' || word === '?' || word === 'h') return write(demoHelpText(names));
    if (word === 'nodes') {
      return write(cucm.nodes.map((n, i) => `  ${(i === 0 ? 'publisher' : 'subscriber').padEnd(10)} ${n.name.padEnd(5)} ${n.url}  ${lastDone.get(n.name)}`).join('\n') + '\n');
    }
    if (word === 'dashboard') return write(context.dashboardLines().join('\n') + '\n');
    if (word === 'quit' || word === 'exit') return quit();
    if (!['stop', 'start', 'hang', 'normal'].includes(word)) {
      return write(`unknown command "${verb}"; type "help" for the list\n`);
    }
    const node = cucm.nodes.find((candidate) => candidate.name === name);
    if (!node || extra.length > 0) {
      return write(`${word} takes one node name: ${names.join(', ')} (e.g. "${word} ${names[0] ?? 'pub'}")\n`);
    }
    const done = (what: string) => {
      lastDone.set(node.name, word === 'start' ? 'normal' : word === 'stop' ? 'stopped' : word === 'hang' ? 'hung' : 'normal');
      write(`${node.name}: ${what}\n`);
    };
    const failed = (err: Error) => write(`${node.name}: ${word} failed: ${err.message}\n`);
    if (word === 'stop') node.stop().then(() => done('stopped (connections refused); the dashboard shows it down within seconds'), failed);
    else if (word === 'start') node.restart().then(() => done(`listening again on ${node.url}`), failed);
    else if (word === 'hang') (node.setBehaviour('hang'), done('hung: accepts connections, never answers'));
    else (node.setBehaviour('normal'), done('answering normally'));
  };
}
