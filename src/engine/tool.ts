// Runs a system tool (mount, mkfs.ext4, truncate ...) and turns its failure into an engine error that
// names the command and the tool's last word on it.
import { execa } from 'execa';
import { EngineCode, EngineError } from './errors.js';

export const lastLine = (s: string) => s.trim().split('\n').pop() ?? '';

export async function runTool(cmd: string, args: string[]): Promise<void> {
  const r = await execa(cmd, args, { reject: false });
  if (r.exitCode !== 0) throw new EngineError(EngineCode.InternalError, `${cmd} ${args.join(' ')} failed: ${lastLine(r.stderr)}`);
}
