// --base: the method an allocation, refinement or clustering method builds on (owl,
// rl-allocation, dsnot, kmeans). One check for all of them, so the refusal reads the same.
import { ArgumentRangeError } from '../errors';

/** The base `base` names, one of `allowed` (the first is the default); a typed error names the method and the choices. */
export function baseMethod<T extends string>(method: string, allowed: readonly T[], base: string | undefined): T {
  const name = base ?? allowed[0];
  if (!(allowed as readonly string[]).includes(name)) throw new ArgumentRangeError(`--base for ${method} must be one of ${allowed.join(', ')}, got '${name}'`);
  return name as T;
}
