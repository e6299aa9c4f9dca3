#!/usr/bin/env node
// A svc-registry (amnesia, the same startRegistry the bin runs) preloaded with descriptors through its
// own governance API before it announces itself, for benchmarks/governance.mjs.
//   GOV_KEY=<key file JSON> GOV_DESCRIPTORS=50000 GOV_SERVICES=10000 GOV_REGIONS=10 node governance-server.mjs
// The signer set is GOV_KEY alone with threshold 1: every descriptor is proposed with one Ed25519
// signature (verified by governance.propose) and applied (quorum, append to the log, fold into the read
// model, stream publish), in-process, so the preload costs no HTTP round trips. Prints one JSON line
// {"event":"preloaded","url",…} once done; the regular ready line comes before it.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const reg = await import(join(root, 'packages/registry/dist/src/index.js'));
const { createLogger } = await import(join(root, 'packages/kernel/dist/src/index.js'));

const key = JSON.parse(process.env.GOV_KEY ?? '');
const N = Number(process.env.GOV_DESCRIPTORS ?? 50_000);
const SERVICES = Number(process.env.GOV_SERVICES ?? 10_000);
const REGIONS = Number(process.env.GOV_REGIONS ?? 10);

await reg.initChain();
const { config } = reg.loadRegistryConfig({
  env: { REGISTRY_ADDR: '127.0.0.1:0', METRICS_ADDR: '127.0.0.1:0', AMNESIA: '1', SIGNER_ALLOWLIST: key.signer_id, SIG_THRESHOLD: '1' },
});
const r = await reg.startRegistry({ config, logger: createLogger('svc-registry', process.env.LOG_LEVEL ?? 'info'), defaultCollectors: false });
const gov = r.governance;
const registryId = r.registry.registryId;

/** Descriptor i: the first SERVICES are services spread over REGIONS regions, the rest nodes. */
function descriptorFor(i) {
  const region = `region-${i % REGIONS}`;
  const addr = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:9000`;
  return i < SERVICES
    ? { id: `svc-${i}@${region}`, kind: 'service', version: 1, body: { region, addr, tls: true, weight: 1 + (i % 5) } }
    : { id: `node-${i}`, kind: 'node', version: 1, body: { region, addr } };
}

const t0 = performance.now();
for (let i = 0; i < N; i++) {
  const descriptor = descriptorFor(i);
  const subject = { op: 'publish', descriptor };
  const sig = reg.signBytes(key, reg.governanceSignedBytes(registryId, subject));
  const p = await gov.propose({ op: 'publish', descriptor, signatures: [sig] });
  await gov.apply(p.proposal_id);
}
const preloadMs = performance.now() - t0;
process.stdout.write(
  `${JSON.stringify({ event: 'preloaded', url: r.apiUrl, admin_url: r.adminUrl, descriptors: N, services: SERVICES, regions: REGIONS, preload_ms: Math.round(preloadMs), head: r.registry.head.version })}\n`,
);

const stop = () => {
  r.close(1000).then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
