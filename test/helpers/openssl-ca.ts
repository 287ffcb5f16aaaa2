/**
 * A real two-tier OpenSSL CA (root → issuing CA) for certificate-workflow
 * tests, driven through the `openssl` CLI as a security team would: `openssl
 * ca` signs CSRs (copying their requested extensions), can back-date or
 * post-date a certificate, and `openssl pkcs12 -export` bundles results in the
 * modern or the legacy encoding. Also: a byte-for-byte snapshot of a folder,
 * to show that a refused import changed nothing.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, relative } from 'node:path';

export function openssl(args: readonly string[], cwd: string): string {
  return execFileSync('openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export type LeafKind = 'rsa' | 'ec' | 'rsa1024';

export interface SignOptions {
  readonly csrFile: string;
  readonly out: string;
  readonly days?: number;
  /** `YYYYMMDDHHMMSSZ`; with `enddate`, replaces `days`. */
  readonly startdate?: string;
  readonly enddate?: string;
  /** Overrides the SANs the CSR asked for, e.g. `DNS:other.example.test`. */
  readonly subjectAltName?: string;
  /** Overrides the extended key usage (default: what the CSR asked for). */
  readonly extendedKeyUsage?: string;
}

export interface OpensslCa {
  readonly dir: string;
  readonly rootFile: string;
  readonly rootPem: string;
  readonly intermediateFile: string;
  /** Issuing CA then root, as a CA hands out its chain. */
  readonly chainFile: string;
  /** Signs a CSR with the issuing CA; returns the PEM (also written to `out`). */
  sign(options: SignOptions): string;
  /** A fresh key + CSR made by openssl (not by ucgate). */
  request(name: string, options: { kind?: LeafKind; cn: string; sans: readonly string[] }): { keyFile: string; csrFile: string };
  /** A PKCS#12 bundle of cert + key (+ chain). */
  pkcs12(options: { certFile: string; keyFile: string; out: string; passphrase: string; legacy?: boolean; chain?: boolean }): string;
}

/** Makes the CA under `dir` (a test folder). */
export function createOpensslCa(dir: string, name = 'ucgate Test'): OpensslCa {
  mkdirSync(join(dir, 'newcerts'), { recursive: true });
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '1000\n');
  openssl(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'root.key', '-out', 'root.pem', '-subj', `/CN=${name} Root CA`, '-days', '3650',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
  openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'issuing.key', '-out', 'issuing.csr', '-subj', `/CN=${name} Issuing CA`], dir);
  writeFileSync(
    join(dir, 'issuing.ext'),
    'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n',
  );
  openssl(['x509', '-req', '-in', 'issuing.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-CAcreateserial', '-days', '3650', '-extfile', 'issuing.ext', '-out', 'issuing.pem'], dir);
  writeFileSync(join(dir, 'chain.pem'), readFileSync(join(dir, 'issuing.pem'), 'utf8') + readFileSync(join(dir, 'root.pem'), 'utf8'));
  writeFileSync(
    join(dir, 'ca.cnf'),
    [
      '[ ca ]', 'default_ca = issuing',
      '[ issuing ]', `dir = ${dir}`, 'database = $dir/index.txt', 'new_certs_dir = $dir/newcerts', 'serial = $dir/serial',
      'certificate = $dir/issuing.pem', 'private_key = $dir/issuing.key', 'default_md = sha256', 'default_days = 90',
      'policy = policy_any', 'copy_extensions = copy', 'unique_subject = no', 'email_in_dn = no',
      '[ policy_any ]', 'commonName = supplied',
      '[ leaf ]', 'basicConstraints = CA:FALSE', 'authorityKeyIdentifier = keyid',
      '',
    ].join('\n'),
  );
  let counter = 0;
  return {
    dir,
    rootFile: join(dir, 'root.pem'),
    rootPem: readFileSync(join(dir, 'root.pem'), 'utf8'),
    intermediateFile: join(dir, 'issuing.pem'),
    chainFile: join(dir, 'chain.pem'),
    sign(options) {
      const args = ['ca', '-batch', '-notext', '-config', 'ca.cnf', '-in', options.csrFile, '-out', options.out];
      if (options.startdate) args.push('-startdate', options.startdate, '-enddate', options.enddate ?? '20991231000000Z');
      else args.push('-days', String(options.days ?? 90));
      if (options.subjectAltName || options.extendedKeyUsage) {
        const ext = join(dir, `override-${++counter}.ext`);
        const lines = ['[ override ]', 'basicConstraints = CA:FALSE', 'authorityKeyIdentifier = keyid'];
        if (options.subjectAltName) lines.push(`subjectAltName = ${options.subjectAltName}`);
        if (options.extendedKeyUsage) lines.push(`extendedKeyUsage = ${options.extendedKeyUsage}`);
        writeFileSync(ext, lines.join('\n') + '\n');
        args.push('-extfile', ext, '-extensions', 'override');
      } else args.push('-extensions', 'leaf');
      openssl(args, dir);
      return readFileSync(options.out, 'utf8');
    },
    request(name, options) {
      const keyFile = join(dir, `${name}.key`);
      const csrFile = join(dir, `${name}.csr`);
      const kind = options.kind ?? 'rsa';
      if (kind === 'rsa1024') openssl(['genrsa', '-out', keyFile, '1024'], dir);
      else if (kind === 'ec') openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile], dir);
      else openssl(['genrsa', '-out', keyFile, '2048'], dir);
      const san = options.sans.map((entry) => (/^[\d.]+$|:/.test(entry) ? `IP:${entry}` : `DNS:${entry}`)).join(',');
      openssl(['req', '-new', '-key', keyFile, '-out', csrFile, '-subj', `/CN=${options.cn}`, '-addext', `subjectAltName=${san}`], dir);
      return { keyFile, csrFile };
    },
    pkcs12(options) {
      const args = ['pkcs12', '-export', '-in', options.certFile, '-inkey', options.keyFile, '-out', options.out, '-passout', `pass:${options.passphrase}`];
      if (options.chain !== false) args.push('-certfile', join(dir, 'chain.pem'));
      if (options.legacy) args.push('-legacy');
      openssl(args, dir);
      return options.out;
    },
  };
}

/** Every file and folder under `root` with its mode and SHA-256: equal snapshots mean nothing changed. */
export function snapshotTree(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const info = statSync(path);
      const rel = relative(root, path);
      if (info.isDirectory()) {
        out.push(`${rel}/ ${(info.mode & 0o777).toString(8)}`);
        walk(path);
      } else out.push(`${rel} ${(info.mode & 0o777).toString(8)} ${createHash('sha256').update(readFileSync(path)).digest('hex')}`);
    }
  };
  walk(root);
  return out;
}
