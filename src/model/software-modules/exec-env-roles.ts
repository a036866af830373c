// ExecEnv.{i}.ModifyAvailableRoles(): the roles DUs installed into the EE may be given (InstallDU
// RequiredRoles is checked against them, install-args.ts). Each AvailableRoles entry must name a row of
// Device.LocalAgent.ControllerTrust.Role (TR-181's strong reference); user roles are kept as given.
import type { DataModel } from '../../dm/datamodel.js';
import { DmError, UspError } from '../../dm/errors.js';
import { ME, SM } from './rows.js';

export function registerExecEnvRoles(dm: DataModel): void {
  dm.command(`${SM}ExecEnv.{i}.ModifyAvailableRoles()`, async (req) => {
    const roles = req.input.AvailableRoles ?? '';
    for (const r of roles.split(',').filter(Boolean))
      if (!/^Device\.LocalAgent\.ControllerTrust\.Role\.\d+\.?$/.test(r) || !dm.node(`${r.replace(/\.$/, '')}.`))
        throw new DmError(UspError.InvalidCommandArguments, `AvailableRoles: '${r}' is not a ControllerTrust.Role row`);
    dm.update(req.node.path, { AvailableRoles: roles, AvailableUserRoles: req.input.AvailableUserRoles ?? '' }, ME);
    return {};
  });
}
