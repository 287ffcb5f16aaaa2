/**
 * A simulated CUCM node in a process of its own, so a test can SIGSTOP it
 * (a hung Tomcat) or SIGKILL it. Options come as JSON in argv[2]; the port is
 * printed as `port=N` once listening.
 */
import { startCucmNode, type CucmNodeOptions } from '../../src/sim/cucm-node.js';

const options = JSON.parse(process.argv[2]!) as CucmNodeOptions;
const node = await startCucmNode(options);
process.stdout.write(`port=${node.port}\n`);
process.on('SIGTERM', () => void node.close().then(() => process.exit(0)));
