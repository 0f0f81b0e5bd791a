// Option parsers shared by the commands. They name their option, so that a bad value
// reaches the user as "shears: --seq-len expects an integer, got 'x'".
import { ArgumentRangeError } from '../errors';

export const int = (option: string) => (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n)) throw new ArgumentRangeError(`${option} expects an integer, got '${v}'`);
  return n;
};

export const num = (option: string) => (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || Number.isNaN(n)) throw new ArgumentRangeError(`${option} expects a number, got '${v}'`);
  return n;
};

/** For repeatable options: --include a --include b -> ['a', 'b']. */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
