// How many bytes a part of a response takes once encoded, near enough for the response budget: the
// strings it holds plus protobuf framing (a field's tag and length varint, a map entry's three). The
// count is in UTF-16 units, so text outside ASCII is undercounted; the endpoint measures the
// encoded record as well.

/** Tag and length of a string or embedded message field, lengths up to 2 MiB. */
export const FIELD_BYTES = 4;
/** A map<string, string> entry: the entry's tag and length, and those of its key and value. */
export const ENTRY_BYTES = 3 * FIELD_BYTES;

/** The encoded size of a plain response part; an object's keys are counted too (a map's are encoded, a message's field names overcount a little). */
export function wireSize(v: unknown): number {
  if (typeof v === 'string') return v.length + FIELD_BYTES;
  if (typeof v === 'number' || typeof v === 'boolean') return FIELD_BYTES + 2;
  if (Array.isArray(v)) { let n = 0; for (const x of v) n += wireSize(x); return n; }
  if (v && typeof v === 'object') { let n = FIELD_BYTES; for (const [k, x] of Object.entries(v)) n += k.length + wireSize(x); return n; }
  return 0;
}
