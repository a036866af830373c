// State files the agent can't trust (not JSON, not the structure it wrote, a journal line that is
// neither a transaction nor the torn end of one) are moved aside as `<name>.corrupt` for a person to
// look at, logged, and remembered, so that the agent starts without them instead of refusing to start
// or quietly replacing them. The log names the file and what is wrong, never what it holds (it may
// hold credentials). Only the newest copy of each file is kept, and a few per directory.
import { copyFileSync, readdirSync, readFileSync, renameSync, rmSync, statSync, truncateSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { Logger } from './logger.js';

const SUFFIX = '.corrupt';
/** Copies kept per directory: enough to see what went wrong, bounded whatever keeps going wrong. */
const KEEP = 8;

export type Problem =
  | 'not JSON'
  | 'not the expected structure'
  | 'a journal line that is not a transaction'
  | 'its journal has no base without it';

export class Quarantine {
  private readonly moved: string[] = [];

  /** root: the state directory; files are named relative to it in the log and in files(). */
  constructor(
    private readonly root: string,
    private readonly log: Logger,
  ) {}

  /** The files moved aside so far, relative to the state directory. */
  files(): readonly string[] {
    return this.moved;
  }

  /** Reads a JSON state file: undefined when it is absent, or when it is moved aside as corrupt. */
  readJson<T>(file: string, valid: (x: unknown) => x is T): T | undefined {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    let value: unknown;
    // The parser's message quotes the text: it is not passed on.
    try {
      value = JSON.parse(text);
    } catch {
      this.file(file, 'not JSON');
      return undefined;
    }
    if (!valid(value)) {
      this.file(file, 'not the expected structure');
      return undefined;
    }
    return value;
  }

  /** Moves a whole file aside. */
  file(file: string, problem: Problem): void {
    const to = `${file}${SUFFIX}`;
    try {
      renameSync(file, to);
    } catch (e) {
      // Still not used: the agent starts without it either way; whoever reads the log can act.
      this.log.error(
        { file: this.name(file), problem, code: (e as NodeJS.ErrnoException).code },
        'corrupt state file could not be moved aside; starting without it',
      );
      this.moved.push(this.name(file));
      return;
    }
    this.prune(dirname(file));
    this.log.error(
      { file: this.name(file), problem, keptAs: this.name(to) },
      'corrupt state file moved aside; starting without it',
    );
    this.moved.push(this.name(file));
  }

  /**
   * Keeps the first `trusted` bytes of a file in place (a journal's whole transactions before the
   * bad one) and a copy of all of it aside. Cutting it needs no space; the copy does, and is skipped
   * on a full disk rather than keeping the bad part where the next start would meet it again.
   */
  tail(file: string, trusted: number, problem: Problem): void {
    const to = `${file}${SUFFIX}`;
    let kept = true;
    try {
      copyFileSync(file, to);
    } catch {
      kept = false;
    }
    // Where it can't be cut (a read-only disk), the caller writes over the bad part from `trusted`.
    try {
      truncateSync(file, trusted);
    } catch {
      /* see above */
    }
    if (kept) this.prune(dirname(file));
    this.log.error(
      { file: this.name(file), problem, trustedBytes: trusted, ...(kept ? { keptAs: this.name(to) } : {}) },
      kept
        ? 'corrupt state file: the part before the damage is used, the whole kept aside'
        : 'corrupt state file: the part before the damage is used; no room to keep the rest',
    );
    this.moved.push(this.name(file));
  }

  private name(file: string): string {
    const rel = relative(this.root, file);
    return rel.startsWith('..') ? file : rel;
  }

  /** Oldest first out: a rename or copy sets the change time, so ctime is when it was put aside. */
  private prune(dir: string): void {
    const kept = readdirSync(dir)
      .filter((f) => f.endsWith(SUFFIX))
      .map((f) => ({ f, at: statSync(join(dir, f)).ctimeMs }));
    kept.sort((a, b) => b.at - a.at);
    for (const { f } of kept.slice(KEEP)) rmSync(join(dir, f), { force: true });
  }
}
