// The DU UUID rule of TR-181 Annex (spec/notes/du-uuid.md): a version 5 UUID in the DNS namespace
// of "<Name>.<Vendor>.", the name percent-encoding every character outside [0-9A-Za-z_-].
import { createHash } from 'node:crypto';

const DNS_NAMESPACE = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';

export function uuidV5(namespace: string, name: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const h = createHash('sha1').update(ns).update(Buffer.from(name, 'utf8')).digest().subarray(0, 16);
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export function duUuid(name: string, vendor: string): string {
  const encoded = [...Buffer.from(name, 'utf8')]
    .map((b) => {
      const c = String.fromCharCode(b);
      return /[0-9A-Za-z_-]/.test(c) ? c : `%${b.toString(16).padStart(2, '0')}`;
    })
    .join('');
  return uuidV5(DNS_NAMESPACE, `${encoded}.${vendor}.`);
}
