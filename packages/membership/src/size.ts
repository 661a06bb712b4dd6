/**
 * The size msgpack gives a plain value (objects as maps, arrays, strings, numbers,
 * booleans, null), computed without encoding it. Strings count one byte per UTF-16 unit,
 * which is exact for ASCII (ids, names, addresses) and an underestimate otherwise: this is
 * a budget and a statistic, not a codec.
 */
export function msgpackSize(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return strSize(value.length);
    case 'number':
      return numSize(value);
    case 'boolean':
      return 1;
    case 'undefined':
      return 1;
    case 'bigint':
      return 9;
    case 'object': {
      if (value === null) return 1;
      if (Array.isArray(value)) {
        let size = headerSize(value.length);
        for (const item of value) size += msgpackSize(item);
        return size;
      }
      if (value instanceof Uint8Array) return binSize(value.byteLength);
      let size = 0;
      let count = 0;
      for (const key in value) {
        const v = (value as Record<string, unknown>)[key];
        if (v === undefined) continue;
        count++;
        size += strSize(key.length) + msgpackSize(v);
      }
      return size + headerSize(count);
    }
    default:
      return 1;
  }
}

function strSize(len: number): number {
  if (len < 32) return 1 + len;
  if (len < 256) return 2 + len;
  if (len < 65536) return 3 + len;
  return 5 + len;
}

function binSize(len: number): number {
  if (len < 256) return 2 + len;
  if (len < 65536) return 3 + len;
  return 5 + len;
}

function headerSize(count: number): number {
  if (count < 16) return 1;
  if (count < 65536) return 3;
  return 5;
}

function numSize(n: number): number {
  if (!Number.isInteger(n)) return 9;
  if (n >= 0) {
    if (n < 128) return 1;
    if (n < 256) return 2;
    if (n < 65536) return 3;
    if (n < 4294967296) return 5;
    return 9;
  }
  if (n >= -32) return 1;
  if (n >= -128) return 2;
  if (n >= -32768) return 3;
  if (n >= -2147483648) return 5;
  return 9;
}
