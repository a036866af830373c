// OCI image pulls from a real registry (docker-registry on loopback): a ~30 MB image (a 25 MB base
// layer and a 5 MB one, incompressible) pulled cold into an empty image store, and warm: a second image
// sharing the base layer, pulled after the first, which fetches and unpacks only its own 5 MB. The time
// is the whole pull: manifest, blobs verified while streaming, layers unpacked in overlay form, the
// DU manifest made. Median of 3, each in a fresh store. Skipped (no figures) without docker-registry.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backend } from '../src/engine/backends/backend.js';
import { OciImages } from '../src/engine/image/oci-images.js';
import type { EERecord } from '../src/engine/types.js';
import { silentLogger } from '../src/util/logger.js';
import { image, layer, push } from '../test/engine/image/oci-builder.js';
import { which } from '../test/helpers.js';
import { DockerRegistry } from '../test/system/docker-registry.js';
import type { Figure } from './figures.js';

const RUNS = 3;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const OCI = { execEnvClass: { name: 'OCI', vendor: 'bench', version: '1', formats: ['oci'] } } as unknown as Backend;
const EE = { id: 'oci-1', name: 'oci-1' } as EERecord;

export async function imageFigures(): Promise<Figure[]> {
  if (!which('docker-registry')) {
    console.log('images: docker-registry not on PATH (apt-get install docker-registry): no figures');
    return [];
  }
  const dir = mkdtempSync(join(tmpdir(), 'cpe-bench-img-'));
  const registry = new DockerRegistry(join(dir, 'registry'));
  await registry.start();
  try {
    const base = layer([{ name: 'usr/lib/base.bin', data: randomBytes(25 * 2 ** 20) }]);
    const one = image([base, layer([{ name: 'srv/one.bin', data: randomBytes(5 * 2 ** 20) }])]);
    const two = image([base, layer([{ name: 'srv/two.bin', data: randomBytes(5 * 2 ** 20) }])]);
    await push(registry.url, 'bench/one', 'v1', [one]);
    await push(registry.url, 'bench/two', 'v1', [two]);
    const mb = (one.config.size + one.layers.reduce((n, l) => n + l.size, 0)) / 2 ** 20;
    const cold: number[] = [];
    const warm: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const store = join(dir, `store-${i}`);
      const images = new OciImages(store);
      const pull = async (repo: string, n: number) => {
        const staging = join(store, `staging-${n}`);
        mkdirSync(staging, { recursive: true });
        const ctx = { opts: { stateDir: dir, logger: silentLogger }, detached: new AbortController().signal };
        const t0 = performance.now();
        await images.fromReference(
          { ...ctx, fileUrlDirectory: '' },
          { url: `docker://${registry.host}/${repo}:v1` },
          EE,
          OCI,
          staging,
        );
        return performance.now() - t0;
      };
      cold.push(await pull('bench/one', 1));
      warm.push(await pull('bench/two', 2));
      rmSync(store, { recursive: true, force: true });
    }
    return [
      {
        name: `image pull cold (${mb.toFixed(0)} MB, 2 layers, loopback registry)`,
        value: median(cold),
        unit: 'ms',
        target: 5000,
        better: 'lower',
      },
      {
        name: 'image pull warm (base layer shared, 5 MB new)',
        value: median(warm),
        unit: 'ms',
        target: 1500,
        better: 'lower',
      },
    ];
  } finally {
    await registry.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
