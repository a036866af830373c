// InstallDU / Update arguments beyond the package: each valid form becomes the engine's settings, each
// invalid value or missing mandatory argument of an argument object is 7027 naming the argument.
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DmError } from '../../src/dm/errors.js';
import { type EEArgsPolicy, parseAllowList, parseInstallArgs } from '../../src/model/software-modules/install-args.js';
import { tempDir } from '../helpers.js';

const none: EEArgsPolicy = { roles: new Set(), userRoles: new Set(), hostPaths: [] };

/** The call fails with 7027 and its message names the argument. */
function refused(input: Record<string, string>, arg: string, policy = none): void {
  assert.throws(
    () => parseInstallArgs(input, policy),
    (e: unknown) => e instanceof DmError && e.code === 7027 && e.message.includes(`'${arg}'`),
    `${JSON.stringify(input)} should be refused naming ${arg}`,
  );
}

const restart: Record<string, string> = {
  'AutoRestart.Enable': 'true',
  'AutoRestart.RetryMinimumWaitInterval': '2',
  'AutoRestart.RetryMaximumWaitInterval': '60',
  'AutoRestart.RetryIntervalMultiplier': '1500',
};

test('no argument of ours: no settings (the engine keeps its defaults)', () => {
  assert.deepEqual(parseInstallArgs({ URL: 'http://x/a.tgz', Privileged: 'false' }, none), {});
});

test('AutoRestart.*: the per-DU policy; each mandatory argument of the object required, min <= max', () => {
  assert.deepEqual(parseInstallArgs({ ...restart, 'AutoRestart.ResetPeriod': '30' }, none).settings?.restart, {
    enabled: true,
    minWait: 2,
    maxWait: 60,
    multiplier: 1500,
    maxRetries: 10,
    resetPeriod: 30,
  });
  for (const k of Object.keys(restart)) {
    const rest = { ...restart };
    delete rest[k];
    refused(rest, k);
  }
  refused({ ...restart, 'AutoRestart.RetryMinimumWaitInterval': '0' }, 'AutoRestart.RetryMinimumWaitInterval');
  refused({ ...restart, 'AutoRestart.RetryMaximumWaitInterval': '1' }, 'AutoRestart.RetryMaximumWaitInterval');
  refused({ ...restart, 'AutoRestart.RetryIntervalMultiplier': '999' }, 'AutoRestart.RetryIntervalMultiplier');
  refused({ 'AutoRestart.MaximumRetryCount': '3' }, 'AutoRestart.Enable');
});

test('Resources.*: -1 or a positive limit, CPU at most 100', () => {
  assert.deepEqual(parseInstallArgs({ 'Resources.AllocatedMemory': '65536' }, none).settings?.resources, {
    diskKiB: -1,
    memoryKiB: 65536,
    cpuPercent: -1,
  });
  refused({ 'Resources.AllocatedMemory': '0' }, 'Resources.AllocatedMemory');
  refused({ 'Resources.AllocatedMemory': '-2' }, 'Resources.AllocatedMemory');
  refused({ 'Resources.AllocatedCPUPercent': '101' }, 'Resources.AllocatedCPUPercent');
  refused({ 'Resources.AllocatedDiskSpace': '0' }, 'Resources.AllocatedDiskSpace');
});

test('ShutdownDelay: seconds, bounded', () => {
  assert.equal(parseInstallArgs({ ShutdownDelay: '3' }, none).settings?.shutdownDelayS, 3);
  refused({ ShutdownDelay: '86401' }, 'ShutdownDelay');
});

test('roles: kept; a required role the EE does not make available is refused, an optional one is kept', () => {
  const ee: EEArgsPolicy = { ...none, roles: new Set(['net']), userRoles: new Set(['admin']) };
  assert.deepEqual(
    parseInstallArgs({ RequiredRoles: 'net', OptionalRoles: 'cam,mic', RequiredUserRoles: 'admin' }, ee).settings
      ?.roles,
    { required: ['net'], optional: ['cam', 'mic'], requiredUser: ['admin'] },
  );
  refused({ RequiredRoles: 'net,storage' }, 'RequiredRoles', ee);
  refused({ RequiredUserRoles: 'root' }, 'RequiredUserRoles', ee);
});

test('EnvVariable.{i}.: keys without = or NUL, not the agent own, not twice; Key and Value mandatory', () => {
  assert.deepEqual(
    parseInstallArgs(
      {
        'EnvVariable.1.Key': 'MODE',
        'EnvVariable.1.Value': 'a=b',
        'EnvVariable.2.Key': 'X',
        'EnvVariable.2.Value': '',
      },
      none,
    ).settings?.env,
    [
      { key: 'MODE', value: 'a=b' },
      { key: 'X', value: '' },
    ],
  );
  refused({ 'EnvVariable.1.Key': 'A=B', 'EnvVariable.1.Value': '1' }, 'EnvVariable.1.Key');
  refused({ 'EnvVariable.1.Key': 'A\0', 'EnvVariable.1.Value': '1' }, 'EnvVariable.1.Key');
  refused({ 'EnvVariable.1.Key': 'CPE_EUID', 'EnvVariable.1.Value': '1' }, 'EnvVariable.1.Key');
  refused({ 'EnvVariable.1.Key': 'PATH', 'EnvVariable.1.Value': '/tmp' }, 'EnvVariable.1.Key');
  refused({ 'EnvVariable.3.Key': 'A' }, 'EnvVariable.3.Value');
  refused({ 'EnvVariable.1.Value': 'v' }, 'EnvVariable.1.Key');
  refused(
    { 'EnvVariable.1.Key': 'A', 'EnvVariable.1.Value': '1', 'EnvVariable.2.Key': 'A', 'EnvVariable.2.Value': '2' },
    'EnvVariable.2.Key',
  );
});

test('HostObject.{i}.: only from the allow-list, no traversal, no symbolic link, rw only where allowed', () => {
  const { dir, cleanup } = tempDir();
  try {
    mkdirSync(join(dir, 'share', 'sub'), { recursive: true });
    mkdirSync(join(dir, 'rw'));
    mkdirSync(join(dir, 'secret'));
    symlinkSync(join(dir, 'secret'), join(dir, 'share', 'link'));
    const ee: EEArgsPolicy = { ...none, hostPaths: parseAllowList(`${dir}/share,${dir}/rw:rw,relative,/a/../b`) };
    assert.equal(ee.hostPaths.length, 2, 'entries that are not clean absolute paths are dropped');
    const ho = (src: string, options?: string) => ({
      'HostObject.1.Source': src,
      'HostObject.1.Destination': '/mnt/in',
      ...(options !== undefined ? { 'HostObject.1.Options': options } : {}),
    });
    assert.deepEqual(parseInstallArgs(ho(`${dir}/share/sub`), ee).settings?.hostObjects, [
      { source: `${dir}/share/sub`, destination: '/mnt/in', options: '', readOnly: true },
    ]);
    assert.equal(parseInstallArgs(ho(`${dir}/rw`, 'rw'), ee).settings?.hostObjects?.[0]?.readOnly, false);
    refused(ho(`${dir}/share/sub`), 'HostObject.1.Source'); // nothing allowed by default
    refused(ho(`${dir}/share/../secret`), 'HostObject.1.Source', ee);
    refused(ho(`${dir}/share/link`), 'HostObject.1.Source', ee);
    refused(ho(`${dir}/secret`), 'HostObject.1.Source', ee);
    refused(ho(`${dir}/shared`), 'HostObject.1.Source', ee); // a prefix of a name is not the directory
    refused(ho(`${dir}/share/missing`), 'HostObject.1.Source', ee);
    refused(ho(`${dir}/share/sub`, 'rw'), 'HostObject.1.Options', ee);
    refused(ho(`${dir}/share/sub`, 'exec'), 'HostObject.1.Options', ee);
    refused({ ...ho(`${dir}/share/sub`), 'HostObject.1.Destination': '/mnt/../etc' }, 'HostObject.1.Destination', ee);
    refused({ 'HostObject.1.Destination': '/x' }, 'HostObject.1.Source', ee);
  } finally {
    cleanup();
  }
});
