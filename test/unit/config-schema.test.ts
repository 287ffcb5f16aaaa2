/**
 * The configuration schema's JSON output is what ajv validates against: the
 * typed constructors of schema-parts.ts (which give the config its TypeScript
 * type) must emit exactly the JSON Schema written before them, key order
 * included. fixtures/config-schema.json is that schema; change it only with
 * a change to the schema that is meant.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { configSchema } from '../../src/config/schema.js';
import { parseConfig } from '../../src/config/load.js';
import type { UcgateConfig } from '../../src/config/types.js';

const FIXTURE = new URL('./fixtures/config-schema.json', import.meta.url);

t.test('the emitted JSON Schema is unchanged', async (t) => {
  const expected = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { properties: { workers: { default: unknown } } };
  // The one machine-dependent default (one data-plane process per core).
  expected.properties.workers.default = Math.min(64, availableParallelism());
  t.equal(JSON.stringify(configSchema, null, 2), JSON.stringify(expected, null, 2));
});

// Compile-time checks: `Equal<A, B>` fails to type-check (npx tsc) when the derived type drifts.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(): T | undefined {
  return undefined;
}

t.test('the config type follows the schema: defaulted keys present, others optional', async (t) => {
  type Store = UcgateConfig['certificates']['store'];
  assertType<Equal<Store['lockLeaseMs'], number>>();
  assertType<Equal<Store['type'], 'file' | 'redis'>>();
  assertType<Equal<Store['url'], string | undefined>>();
  assertType<Equal<UcgateConfig['gateway']['instances'], readonly string[]>>();
  assertType<Equal<UcgateConfig['listen']['admin'], { readonly host: string; readonly port: number; readonly tls: boolean; readonly tokenFile?: string } | undefined>>();
  assertType<Equal<UcgateConfig['routes'][number]['methods'], readonly ('GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'OPTIONS' | 'PATCH')[] | undefined>>();
  assertType<Equal<UcgateConfig['clusters'][number]['healthCheck']['expectBody'], string | undefined>>();
  assertType<Equal<UcgateConfig['clusters'][number]['healthCheck']['intervalMs'], number>>();
  assertType<Equal<UcgateConfig['log']['format'], 'json' | 'pretty' | undefined>>();

  // And at run time the loader delivers what the type promises for a minimal file.
  const config = parseConfig(
    { gateway: { fqdn: 'ucgw.example.test' }, clusters: [{ name: 'cucm', nodes: [{ name: 'pub', url: 'https://pub.example.test:8443' }] }] },
    { baseDir: '/', configFile: '' },
  );
  t.equal(typeof config.certificates.store.lockLeaseMs, 'number');
  t.equal(typeof config.certificates.store.checkIntervalMs, 'number');
  t.same(config.gateway.instances, []);
  t.equal(typeof config.clusters[0]!.healthCheck.intervalMs, 'number');
  t.ok(Object.isFrozen(config.certificates.store), 'deep-frozen');
});
