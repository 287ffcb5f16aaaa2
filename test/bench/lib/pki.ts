/**
 * Every certificate of a run, made fresh with the project's own PKI code and
 * written to the run's temp folder:
 * - the simulated CUCM CA and one Tomcat leaf per node (RSA-2048, as CUCM);
 * - a front CA (the "test CA") and ONE RSA-2048 leaf for ucgw.example.test
 *   that every contestant serves, so handshake costs are comparable;
 * - an ECDSA P-256 leaf for the same name from the same CA, served beside
 *   the RSA one only by the `--dual` contestants (ucgate's dual certificate:
 *   `certificates.keyTypes: [rsa-2048, ecdsa-p256]`).
 *
 * Node leaves carry every node's FQDN (CUCM's "multi-server SAN" Tomcat
 * certificate). Why: nginx and Caddy cannot vary the verified upstream name
 * per server of one upstream group, so with one-name-per-node certificates
 * they could not verify the backup node at all. ucgate and HAProxy still send
 * and verify each node's own name.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCa, issueLeaf } from '../../../src/pki/x509.js';

export const FQDN = 'ucgw.example.test';
export const NODES = [
  { name: 'pub', hostname: 'cucm-pub.example.test' },
  { name: 'sub1', hostname: 'cucm-sub1.example.test' },
] as const;
export type NodeName = (typeof NODES)[number]['name'];

export interface BenchPki {
  readonly dir: string;
  /** Trust for clients of every proxy. */
  readonly frontCaFile: string;
  readonly frontCertFile: string;
  readonly frontKeyFile: string;
  /** Leaf + key in one PEM (HAProxy's `crt`). */
  readonly frontBundleFile: string;
  readonly frontCertPem: string;
  readonly frontKeyPem: string;
  /** The ECDSA P-256 leaf and key for the same name (dual-certificate contestants only). */
  readonly frontEcdsaCertPem: string;
  readonly frontEcdsaKeyPem: string;
  /** Trust for the upstream leg (what every proxy verifies nodes against). */
  readonly nodeCaFile: string;
  readonly nodeFiles: Readonly<Record<NodeName, { certFile: string; keyFile: string }>>;
}

export async function makePki(baseDir: string): Promise<BenchPki> {
  const dir = join(baseDir, 'pki');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const write = (name: string, text: string): string => {
    const file = join(dir, name);
    writeFileSync(file, text, { mode: 0o600 });
    return file;
  };
  const nodeCa = await createCa({ commonName: 'ucgate bench simulated CUCM CA' });
  const frontCa = await createCa({ commonName: 'ucgate bench front CA' });
  const allNames = NODES.map((n) => n.hostname);
  const nodeFiles = {} as Record<NodeName, { certFile: string; keyFile: string }>;
  for (const node of NODES) {
    const leaf = await issueLeaf({
      issuer: nodeCa,
      commonName: node.hostname,
      subjectAltNames: [node.hostname, ...allNames.filter((n) => n !== node.hostname), '127.0.0.1'],
      keyType: 'rsa-2048',
    });
    nodeFiles[node.name] = { certFile: write(`${node.name}.pem`, leaf.certPem), keyFile: write(`${node.name}-key.pem`, leaf.keyPem) };
  }
  const front = await issueLeaf({ issuer: frontCa, commonName: FQDN, subjectAltNames: [FQDN, '127.0.0.1'], keyType: 'rsa-2048' });
  const frontEcdsa = await issueLeaf({ issuer: frontCa, commonName: FQDN, subjectAltNames: [FQDN, '127.0.0.1'], keyType: 'ecdsa-p256' });
  return {
    dir,
    frontCaFile: write('front-ca.pem', frontCa.certPem),
    frontCertFile: write('front.pem', front.certPem),
    frontKeyFile: write('front-key.pem', front.keyPem),
    frontBundleFile: write('front-bundle.pem', front.certPem + front.keyPem),
    frontCertPem: front.certPem,
    frontKeyPem: front.keyPem,
    frontEcdsaCertPem: frontEcdsa.certPem,
    frontEcdsaKeyPem: frontEcdsa.keyPem,
    nodeCaFile: write('node-ca.pem', nodeCa.certPem),
    nodeFiles,
  };
}
