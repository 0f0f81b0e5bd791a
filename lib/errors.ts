// Typed errors. Every message names the offending argument (or file) and what was
// expected. Native errors arrive with a `code`; fromNative() maps them onto these
// classes (instanceof does not survive realms, codes do).

export class ShearsError extends Error {
  readonly code: string;
  constructor(message: string, code = 'E_SHEARS', options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Wrong length, dimensions, or layout (including non-contiguous strides). */
export class ShapeError extends ShearsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'E_SHAPE', options);
  }
}

/** Wrong element type: a Float32Array where a Uint16Array was needed, an unknown dtype. */
export class DTypeError extends ShearsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'E_DTYPE', options);
  }
}

/** NaN or infinite values in weights, statistics or activations. */
export class NonFiniteError extends ShearsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'E_NONFINITE', options);
  }
}

/** A backend that is not compiled in or has no device. */
export class BackendError extends ShearsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'E_BACKEND', options);
  }
}

/** A distributed sweep's queue (Redis) that cannot be reached, or a cell its workers could not compute. */
export class QueueError extends ShearsError {
  constructor(message: string) {
    super(message, 'E_QUEUE');
  }
}

/** A feature that is listed but not implemented yet. */
export class NotImplementedError extends ShearsError {
  constructor(message: string) {
    super(message, 'E_NOT_IMPLEMENTED');
  }
}

/** A model file that cannot be read: truncated, malformed, or an unsupported variant. Names the file. */
export class FormatError extends ShearsError {
  readonly file: string;
  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super(`${file}: ${message}`, 'E_FORMAT', options);
    this.file = file;
  }
}

/** A value outside its allowed range. Base of the sparsity and pattern errors. */
export class ArgumentRangeError extends RangeError {
  readonly code: string;
  constructor(message: string, code = 'E_RANGE') {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Sparsity outside [0, 1). */
export class SparsityError extends ArgumentRangeError {
  constructor(message: string) {
    super(message, 'E_SPARSITY');
  }
}

/** An N:M pattern outside 1 <= N < M <= 32, or malformed. */
export class PatternError extends ArgumentRangeError {
  constructor(message: string) {
    super(message, 'E_PATTERN');
  }
}

/** Maps an error thrown by the native addon onto the typed classes above. */
export function fromNative(e: unknown): Error {
  const err = e as { code?: string; message?: string };
  const msg = err?.message ?? String(e);
  switch (err?.code) {
    case 'E_SHAPE':
      return new ShapeError(msg, { cause: e });
    case 'E_DTYPE':
      return new DTypeError(msg, { cause: e });
    case 'E_NONFINITE':
      return new NonFiniteError(msg, { cause: e });
    case 'E_BACKEND':
      return new BackendError(msg, { cause: e });
    case 'E_RANGE':
      return new ArgumentRangeError(msg);
    case undefined:
      return e instanceof Error ? e : new ShearsError(msg);
    default:
      return new ShearsError(msg, err.code, { cause: e });
  }
}

/** Awaits a native promise, rethrowing its failure as a typed error. */
export async function nativeCall<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    throw fromNative(e);
  }
}

/**
 * A --score formula that cannot be used: bad syntax, an unknown name, an empty text.
 * `position` is the 0-based character offset of the problem (when there is one); the
 * message shows the formula with a caret under it.
 */
export class FormulaError extends ArgumentRangeError {
  readonly formula: string;
  readonly position?: number;
  constructor(formula: string, message: string, position?: number) {
    super(position === undefined ? (formula ? `formula "${formula}": ${message}` : message) : `formula: ${message} at character ${position + 1}\n  ${formula}\n  ${' '.repeat(position)}^`, 'E_FORMULA');
    this.formula = formula;
    this.position = position;
  }
}
