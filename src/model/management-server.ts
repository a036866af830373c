// Device.ManagementServer: what the CWMP client supports, as read-only facts, and the checks on
// configuration an operator writes (the client itself reads the rest when it starts).
import type { DataModel } from '../dm/datamodel.js';
import { DmError, UspError } from '../dm/errors.js';

const MS = 'Device.ManagementServer.';

export function registerManagementServer(dm: DataModel): void {
  dm.param(`${MS}SupportedConnReqMethods`, { get: () => 'HTTP' });
  dm.param(`${MS}AliasBasedAddressing`, { get: () => 'false' });
  dm.param(`${MS}InstanceWildcardsSupported`, { get: () => 'false' });
  dm.param(`${MS}HTTPCompressionSupported`, { get: () => '' });
  dm.param(`${MS}URL`, {
    validate: (v) => {
      if (v !== '' && !/^https?:\/\/[^\s/]+/i.test(v))
        throw new DmError(UspError.InvalidValue, `ManagementServer.URL must be an http:// or https:// URL, not '${v}'`);
      if (/^https?:\/\/[^/]*@/i.test(v))
        throw new DmError(
          UspError.InvalidValue,
          'ManagementServer.URL must not carry credentials; use Username and Password',
        );
    },
  });
}
