// Builds tar.gz archives entry by entry for tests, hostile ones included (the real tar refuses to).
import { gzipSync } from 'node:zlib';

export interface Entry {
  name: string;
  type?: '0' | '2' | '1' | '3' | '5' | '6';
  data?: string | Buffer;
  link?: string;
  mode?: number;
  uid?: number;
  gid?: number;
}

export function header(e: Entry, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(e.name.slice(0, 100), 0, 'utf8');
  h.write(`${(e.mode ?? 0o644).toString(8).padStart(7, '0')}\0`, 100);
  h.write(`${(e.uid ?? 0).toString(8).padStart(7, '0')}\0`, 108);
  h.write(`${(e.gid ?? 0).toString(8).padStart(7, '0')}\0`, 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write(
    `${Math.floor(Date.now() / 1000)
      .toString(8)
      .padStart(11, '0')}\0`,
    136,
  );
  h.write('        ', 148);
  h.write(e.type ?? '0', 156);
  if (e.link) h.write(e.link.slice(0, 100), 157);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

export function tarGz(entries: Entry[], opts: { truncate?: number } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.type === undefined || e.type === '0' ? Buffer.from(e.data ?? '') : Buffer.alloc(0);
    parts.push(header(e, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  let tar = Buffer.concat(parts);
  if (opts.truncate) tar = tar.subarray(0, opts.truncate);
  return gzipSync(tar);
}

export const manifest = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    name: 'hello',
    vendor: 'example.org',
    version: '1.0',
    services: [{ name: 'web', command: 'bin/run.sh' }],
    ...over,
  });
