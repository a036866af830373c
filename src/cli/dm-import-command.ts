// `cpe-agent dm-import`: regenerates datamodel/*.json from Broadband Forum TR-181 XML files.
import { CliError, type Command, parseOptions } from './command.js';

export const dmImportCommand: Command = {
  name: 'dm-import',
  help: `Usage: cpe-agent dm-import --spec DIR --out DIR

Reads the TR-181 component XML files in --spec (tr-181-2-*.xml, with the USP and CWMP overlays)
and writes the objects the agent supports, in its own definition format, to --out (one JSON file
per area). Descriptions are not copied; names, types, access and constraints are.

Options:
  --spec DIR   folder with the TR-181 XML files
  --out DIR    folder to write the definition files to (usually datamodel/)
  -h, --help   this help`,
  async run(argv) {
    const { values } = parseOptions(argv, { spec: { type: 'string' }, out: { type: 'string' } });
    if (!values.spec || !values.out) throw new CliError('needs --spec DIR and --out DIR');
    // Loaded on demand: the XML parser has no business in the running agent's memory.
    const { importTr181 } = await import('./dm-import.js');
    for (const f of await importTr181(values.spec, values.out)) console.log(`wrote ${f}`);
    return 0;
  },
};
