// Chat templates come from the model's tokenizer_config.json: code from a file, run
// in-process by @huggingface/jinja, which has no limits (`range(1000000000)` aborts V8
// with "invalid size"). A worker thread with resourceLimits does not help: measured, a
// worker growing an array past its heap limit still aborts the whole process. So the
// interpreter itself is bounded, before any allocation can run away:
//  - range() refuses more than maxItems items before building them, and a loop over more
//    items than that stops before its setup (one object and closure per item) runs;
//  - every evaluation step (each node, and each block: a loop's every iteration) counts
//    against a step budget and a wall-clock deadline;
//  - every value a step produces is weighed (bytes it can expand to when printed, shared
//    sub-values counted each time, memoized: values are immutable) against a per-value cap,
//    and the values a step creates count against a total allocation budget;
//  - the filters and methods that can multiply their input in one native call (replace,
//    indent, tojson's indent, join's separator) are bounded from their arguments first.
import { FormatError } from '../errors';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const jinja = require('@huggingface/jinja') as JinjaModule;

/* The parts of @huggingface/jinja's runtime used here (its types are ESM-only). */
interface RuntimeValue {
  type: string;
  value: unknown;
  builtins?: Map<string, RuntimeValue>;
}
interface Node {
  type: string;
  [k: string]: unknown;
}
interface InterpreterLike {
  evaluate(node: Node | undefined, env: unknown): RuntimeValue;
  run(program: unknown): RuntimeValue;
}
/** Private in its TypeScript source, reachable at run time: what the guard hooks into. */
interface InterpreterInternals extends InterpreterLike {
  applyFilter(operand: RuntimeValue, filter: Node, env: unknown): RuntimeValue;
  evaluateArguments(args: unknown, env: unknown): [RuntimeValue[], Map<string, RuntimeValue>];
  evaluateBlock(statements: Node[], env: unknown): RuntimeValue;
}
interface JinjaModule {
  Environment: new () => { set(name: string, value: unknown): void };
  Interpreter: new (env: unknown) => InterpreterLike;
  Template: new (source: string) => { parsed: unknown };
}

export interface ChatTemplateLimits {
  /** Evaluation steps per render. */
  maxSteps: number;
  /** Milliseconds per render. */
  maxMillis: number;
  /** Bytes one value (and so the output) may expand to. */
  maxValueBytes: number;
  /** Bytes all values created during one render may add up to. */
  maxAllocBytes: number;
  /** Items range() may produce and a loop may run over. */
  maxItems: number;
}

/** Generous for real chat templates (a few thousand steps, kilobytes per message). */
export function defaultChatLimits(inputBytes: number): ChatTemplateLimits {
  const maxValueBytes = Math.max(16 * 2 ** 20, 8 * inputBytes);
  return { maxSteps: 10_000_000, maxMillis: 2000, maxValueBytes, maxAllocBytes: 16 * maxValueBytes, maxItems: 100_000 };
}

/** A chat template that went over a limit: names the tokenizer_config.json it came from. */
export class ChatTemplateLimitError extends FormatError {
  constructor(file: string, what: string) {
    super(file, `chat_template stopped: ${what}`);
  }
}

// Node types whose result is a value made by the step itself (not one read from a variable).
const CREATING = new Set(['StringLiteral', 'ArrayLiteral', 'TupleLiteral', 'ObjectLiteral', 'BinaryExpression', 'UnaryExpression',
  'FilterExpression', 'FilterStatement', 'CallExpression', 'For', 'If', 'Program', 'Macro', 'CallStatement']);

class Budget {
  steps = 0;
  alloc = 0;
  readonly deadline: number;
  private readonly weights = new WeakMap<object, { bytes: number; depth: number }>();
  constructor(
    readonly limits: ChatTemplateLimits,
    readonly file: string,
  ) {
    this.deadline = Date.now() + limits.maxMillis;
  }

  fail(what: string): never {
    throw new ChatTemplateLimitError(this.file, what);
  }

  step(): void {
    if (++this.steps > this.limits.maxSteps) this.fail(`more than ${this.limits.maxSteps} evaluation steps`);
    // Every step: a step can be long (a loop's setup over 100k items), so no sampling.
    if (Date.now() > this.deadline) this.fail(`rendering took more than ${this.limits.maxMillis} ms`);
  }

  /** Bytes `v` can print as (UTF-16, plus quoting and separators) and its nesting depth. */
  weigh(v: RuntimeValue): { bytes: number; depth: number } {
    if (typeof v.value === 'string') return { bytes: 2 * v.value.length + 2, depth: 0 };
    if (v.value === null || typeof v.value !== 'object') return { bytes: 16, depth: 0 };
    const known = this.weights.get(v);
    if (known) return known;
    let bytes = 2;
    let depth = 0;
    const items = Array.isArray(v.value) ? (v.value as RuntimeValue[]) : v.value instanceof Map ? [...(v.value as Map<string, RuntimeValue>).values()] : [];
    if (v.value instanceof Map) for (const k of (v.value as Map<string, RuntimeValue>).keys()) bytes += 2 * k.length + 8;
    for (const item of items) {
      const w = this.weigh(item);
      bytes += w.bytes + 4;
      depth = Math.max(depth, w.depth + 1);
      if (bytes > this.limits.maxValueBytes) break;
    }
    const w = { bytes, depth };
    this.weights.set(v, w);
    return w;
  }

  checkValue(v: RuntimeValue, created: boolean): void {
    const { bytes } = this.weigh(v);
    if (bytes > this.limits.maxValueBytes) this.fail(`a value grew past ${this.limits.maxValueBytes} bytes`);
    if (!created) return;
    this.alloc += bytes;
    if (this.alloc > this.limits.maxAllocBytes) this.fail(`values created add up to more than ${this.limits.maxAllocBytes} bytes`);
  }

  /** A loop's iterable: its items count as steps (the loop's setup is one call per item). */
  loop(v: RuntimeValue): void {
    const x = v.value;
    const n = typeof x === 'string' || Array.isArray(x) ? x.length : x instanceof Map ? x.size : 0;
    if (n > this.limits.maxItems) this.fail(`a loop over ${n} items (at most ${this.limits.maxItems})`);
    this.steps += n;
    this.step();
  }

  /** The bytes a one-call expansion would make, checked before it runs. */
  checkExpansion(bytes: number, what: string): void {
    if (bytes > this.limits.maxValueBytes) this.fail(`${what} would make more than ${this.limits.maxValueBytes} bytes`);
  }
}

function occurrences(s: string, part: string): number {
  if (part.length === 0) return s.length + 1;
  let n = 0;
  for (let i = s.indexOf(part); i !== -1; i = s.indexOf(part, i + part.length)) n++;
  return n;
}

/** An Interpreter whose every step is counted and whose values are weighed (see top). */
function guardedInterpreter(env: unknown, budget: Budget): InterpreterLike {
  // The expressions loops iterate over: weighed as loops when evaluated.
  const iterables = new WeakSet<Node>();
  const Base = jinja.Interpreter as unknown as new (env: unknown) => InterpreterInternals;
  class Guarded extends Base {
    override evaluate(node: Node | undefined, environment: unknown): RuntimeValue {
      budget.step();
      if (node?.type === 'For') {
        const it = node.iterable as Node;
        iterables.add(it.type === 'SelectExpression' ? (it.lhs as Node) : it);
      }
      if (node?.type === 'MemberExpression' && !node.computed && (node.property as Node).type === 'Identifier' && (node.property as Node).value === 'replace') {
        const object = this.evaluate(node.object as Node, environment);
        if (typeof object.value === 'string') return guardedReplace(object, budget);
      }
      const v = super.evaluate(node, environment);
      budget.checkValue(v, node !== undefined && CREATING.has(node.type));
      if (node && iterables.has(node)) budget.loop(v);
      return v;
    }

    // A loop runs its body through here once per iteration, even an empty body that
    // evaluates no node: counting it here bounds `for` over `for` with nothing inside.
    override evaluateBlock(statements: Node[], environment: unknown): RuntimeValue {
      budget.step();
      const v = super.evaluateBlock(statements, environment);
      budget.checkValue(v, true);
      return v;
    }

    override applyFilter(operand: RuntimeValue, filter: Node, environment: unknown): RuntimeValue {
      const name = filter.type === 'Identifier' ? (filter.value as string) : ((filter.callee as Node | undefined)?.value as string | undefined);
      if (filter.type === 'CallExpression' && name !== undefined && ['indent', 'tojson', 'join', 'replace'].includes(name)) {
        // Evaluated here and again by the filter: arguments are plain expressions in practice.
        const [args, kwargs] = this.evaluateArguments(filter.args, environment);
        const all = [...args, ...kwargs.values()];
        if (name === 'replace' && typeof operand.value === 'string') {
          checkReplace(operand.value as string, args, budget);
          return super.applyFilter(operand, filter, environment);
        }
        // Each line / item / node may gain the longest string or the largest count among the arguments.
        const gain = Math.max(0, ...all.map((a) => (typeof a.value === 'string' ? 2 * a.value.length : typeof a.value === 'number' ? 2 * a.value : 0)));
        const { bytes, depth } = budget.weigh(operand);
        const units = typeof operand.value === 'string' ? operand.value.length : bytes;
        budget.checkExpansion(bytes + gain * (units + 1) * (depth + 1), `the ${name} filter`);
      }
      return super.applyFilter(operand, filter, environment);
    }
  }
  return new Guarded(env);
}

function checkReplace(s: string, args: RuntimeValue[], budget: Budget): void {
  const [from, to] = args;
  if (typeof from?.value !== 'string' || typeof to?.value !== 'string') return;
  const n = occurrences(s, from.value);
  budget.checkExpansion(2 * (s.length + n * Math.max(0, to.value.length - from.value.length)), 'replace');
}

/** str.replace(old, new[, count]) whose result size is known before it is built. */
function guardedReplace(object: RuntimeValue, budget: Budget): RuntimeValue {
  const original = object.builtins!.get('replace')!;
  const fn = (args: RuntimeValue[], scope: unknown): RuntimeValue => {
    checkReplace(object.value as string, args, budget);
    return (original.value as (a: RuntimeValue[], s: unknown) => RuntimeValue)(args, scope);
  };
  return new (original.constructor as new (f: typeof fn) => RuntimeValue)(fn);
}

/** Python's range() that refuses to build more than maxItems items. */
function boundedRange(budget: Budget) {
  return (start: number, stop?: number, step = 1): number[] => {
    if (stop === undefined) [start, stop] = [0, start];
    if (step === 0) throw new Error('range() step must not be zero');
    const n = Math.max(0, Math.ceil((stop - start) / step));
    if (!Number.isFinite(n) || n > budget.limits.maxItems) budget.fail(`range() of ${n} items (at most ${budget.limits.maxItems})`);
    return Array.from({ length: n }, (_, i) => start + i * step);
  };
}

/** UTF-16 bytes of the strings in `v` (the messages), without recursing past a sane depth. */
function textBytes(v: unknown, depth = 0): number {
  if (typeof v === 'string') return 2 * v.length;
  if (typeof v !== 'object' || v === null || depth > 32) return 8;
  let n = 0;
  for (const x of Array.isArray(v) ? v : Object.values(v)) n += textBytes(x, depth + 1);
  return n;
}

export interface CompiledChatTemplate {
  render(context: Record<string, unknown>): string;
}

/**
 * Parses `source` (the chat_template of `file`) and returns a renderer bounded by
 * `limits` (default: defaultChatLimits of the context's size). Parse errors and template
 * errors propagate as they are; limits throw ChatTemplateLimitError naming `file`.
 */
export function compileChatTemplate(source: string, file: string, limits?: ChatTemplateLimits): CompiledChatTemplate {
  const parsed = new jinja.Template(source).parsed;
  return {
    render(context) {
      const budget = new Budget(limits ?? defaultChatLimits(textBytes(context)), file);
      const env = new jinja.Environment();
      // The globals of @huggingface/jinja's setupGlobals, with a bounded range().
      const globals: Record<string, unknown> = {
        false: false, true: true, none: null, False: false, True: true, None: null,
        raise_exception: (msg: string) => {
          throw new Error(msg);
        },
        range: boundedRange(budget),
        // strftime_now is left undefined: templates then use their fixed default date,
        // so a calibration set renders the same on every day.
      };
      for (const [k, v] of Object.entries({ ...globals, ...context })) env.set(k, v);
      try {
        return guardedInterpreter(env, budget).run(parsed).value as string;
      } catch (e) {
        // V8's own limits (a string past ~2^29 characters) are limits too.
        if (e instanceof RangeError) budget.fail(e.message);
        throw e;
      }
    },
  };
}
