// Checks that parsed JSON has the structure the agent wrote, before a state file is trusted: a file
// that parses but holds something else (another version's, a hand edit, bit rot) must not reach
// code that assumes its fields.

export const isObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);
export const isString = (x: unknown): x is string => typeof x === 'string';
export const isNumber = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
export const isBoolean = (x: unknown): x is boolean => typeof x === 'boolean';
export const isArrayOf = <T>(x: unknown, item: (y: unknown) => y is T): x is T[] => Array.isArray(x) && x.every(item);
export const isStringMap = (x: unknown): x is Record<string, string> => isObject(x) && Object.values(x).every(isString);
/** An optional field: absent, or of its type. */
export const optional = <T>(x: unknown, is: (y: unknown) => y is T): x is T | undefined => x === undefined || is(x);
export const oneOf =
  <T extends string>(...values: T[]) =>
  (x: unknown): x is T =>
    values.includes(x as T);
