// Runs a system tool (mount, mkfs.ext4, unsquashfs ...) and turns its failure into an engine error
// that names the tool; its command line and its last word on it (host paths, names it echoes) are
// the error's detail, for the debug log only. Node's execFile, not execa, because these sit on the
// install path and execa's extra ~1.5 ms per call showed in the install benchmark.
import { execFile } from 'node:child_process';
import { EngineCode, EngineError } from './errors.js';

const lastLine = (s: string) => s.trim().split('\n').pop() ?? '';

export interface ToolResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs cmd to its end; never throws for a non-zero exit (the caller decides). */
export function tool(cmd: string, args: readonly string[], maxBuffer = 64 * 1024 * 1024): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === 'number'
          ? (err as { code: number }).code
          : 127
        : 0;
      resolve({ exitCode: code, stdout, stderr: stderr || (err && code === 127 ? err.message : '') });
    });
  });
}

/** The detail of a tool's failure: what it was asked and what it said last. */
export const toolDetail = (
  cmd: string,
  args: readonly string[],
  r: { readonly exitCode?: number | undefined; readonly stderr: string },
): string => `${cmd} ${args.join(' ')}: exit ${r.exitCode}: ${lastLine(r.stderr)}`;

export async function runTool(cmd: string, args: string[]): Promise<void> {
  const r = await tool(cmd, args);
  if (r.exitCode !== 0)
    throw new EngineError(
      EngineCode.InternalError,
      `${cmd} failed (exit code ${r.exitCode})`,
      undefined,
      toolDetail(cmd, args, r),
    );
}
