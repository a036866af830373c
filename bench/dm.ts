// Data model figures (issue: foundation): get of Device. over 1,000 DUs and 3,000 EUs, a search
// expression over 5,000 instances, and the heap that tree takes. Run: npm run bench
import { DataModel } from '../src/dm/datamodel.js';
import { Schema } from '../src/dm/schema.js';
import { datamodelDir } from '../src/util/package-info.js';
import { type Figure, medianMs } from './figures.js';

const caller = { kind: 'usp', endpointId: 'proto::bench' } as const;
const gc = (globalThis as { gc?: () => void }).gc;

function heapMB(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

function uuid(i: number): string {
  const h = i.toString(16).padStart(12, '0');
  return `6ba7b810-9dad-51d1-80b4-${h}`;
}

/** A model holding the SoftwareModules tree of a busy device. */
export function buildSoftwareModules(schema: Schema, dus: number, eusPerDu: number): DataModel {
  const dm = new DataModel({ schema });
  dm.open();
  const ee = dm.addInstance('Device.SoftwareModules.ExecEnv.', {
    Name: 'default',
    Enable: 'true',
    Status: 'Up',
    Type: 'LXC',
    Vendor: 'linuxcontainers.org',
    Version: '5.0',
  });
  for (let d = 1; d <= dus; d++) {
    const eus: string[] = [];
    for (let e = 0; e < eusPerDu; e++) {
      const n = (d - 1) * eusPerDu + e;
      eus.push(
        dm
          .addInstance('Device.SoftwareModules.ExecutionUnit.', {
            EUID: `eu-${n}`,
            Name: `service-${n}`,
            ExecEnvLabel: `app${d}.service${e}`,
            Status: n % 4 === 0 ? 'Idle' : 'Active',
            Vendor: 'ACME',
            Version: '1.0.0',
            Description: 'A service of a benchmark application',
            MemoryInUse: String(n % 5000),
            DiskSpaceInUse: String(n % 700),
            ExecutionEnvRef: ee.slice(0, -1),
            AutoStart: 'true',
            RunLevel: '2',
          })
          .slice(0, -1),
      );
    }
    dm.addInstance('Device.SoftwareModules.DeploymentUnit.', {
      UUID: uuid(d),
      DUID: `du-${d}`,
      Name: `app${d}`,
      Status: 'Installed',
      Resolved: 'true',
      URL: `http://127.0.0.1/app${d}.sqfs`,
      Description: 'A benchmark application',
      Vendor: 'ACME',
      Version: '1.0.0',
      ExecutionUnitList: eus.join(','),
      ExecutionEnvRef: ee.slice(0, -1),
    });
  }
  return dm;
}

export function dmFigures(): Figure[] {
  const schema = Schema.load(datamodelDir);
  const before = heapMB();
  const dm = buildSoftwareModules(schema, 1000, 3);
  const heap = heapMB() - before;
  // The get alone is timed; its parameters are counted once, outside (Object.keys over 153k
  // parameters in every run made a sixth of the figure).
  let got = dm.get('Device.', caller);
  const params = got.reduce((n, o) => n + Object.keys(o.params).length, 0);
  const getMs = medianMs(
    () => {
      got = dm.get('Device.', caller);
    },
    21,
    5,
  );
  if (got.length === 0) throw new Error('get Device. returned nothing');
  const big = buildSoftwareModules(schema, 1, 5000);
  let hits = 0;
  const search = 'Device.SoftwareModules.ExecutionUnit.[Status=="Active"&&MemoryInUse>4000].Name';
  const searchMs = medianMs(
    () => {
      hits = big.get(search, caller).length;
    },
    51,
    10,
  );
  if (hits === 0 || params < 50_000) throw new Error(`benchmark tree is wrong: ${hits} hits, ${params} parameters`);
  return [
    {
      name: `get Device. (1,000 DUs, 3,000 EUs, ${params} parameters)`,
      value: getMs,
      unit: 'ms',
      target: 20,
      better: 'lower',
    },
    { name: `search over 5,000 instances (${hits} matches)`, value: searchMs, unit: 'ms', target: 5, better: 'lower' },
    { name: 'heap of the 1,000 DU / 3,000 EU tree', value: heap, unit: 'MB', target: 20, better: 'lower' },
  ];
}
