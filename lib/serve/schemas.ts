// The JSON schemas of the API, generated from the CLI's own option definitions (the same
// commander Options ./job-options.ts parses a job with): a flag is a boolean, a choice
// list an enum, a value option a string, number or integer as its parser takes it, a
// required option is required. Fastify validates requests with them and
// @fastify/swagger publishes them in the OpenAPI document.
import type { Option } from 'commander';

import { cliCommand, isFlag, isPathOption, JOB_KINDS, JobKind, jobOptions } from './job-options';

type Schema = Record<string, unknown>;

/** What a value parser accepts, asked of the parser itself: '0.5' is a number to num(), not to int(). */
function valueSchema(option: Option): Schema {
  if (option.argChoices) return { type: 'string', enum: option.argChoices };
  const parse = option.parseArg;
  if (!parse) return { type: 'string' };
  const probe = (s: string): unknown => {
    try {
      return parse(s, undefined);
    } catch {
      return undefined;
    }
  };
  const half = probe('0.5');
  if (Array.isArray(half)) {
    const item = { type: typeof half[0] === 'number' ? 'number' : 'string' };
    return { anyOf: [{ type: 'string' }, { type: 'array', items: item }] };
  }
  if (typeof half === 'number') return { type: 'number' };
  if (typeof probe('2') === 'number') return { type: 'integer' };
  return { type: 'string' };
}

function optionSchema(option: Option): Schema {
  const schema: Schema = isFlag(option) ? { type: 'boolean' } : valueSchema(option);
  const description = `${option.long}: ${option.description}${isPathOption(option) ? ' (a path inside the server\'s roots, relative to the first)' : ''}`;
  return { ...schema, description, ...(option.defaultValue !== undefined ? { default: option.defaultValue } : {}) };
}

/** The body of POST /jobs for one kind. */
export function jobSchema(kind: JobKind): Schema {
  const options = jobOptions(cliCommand(kind));
  return {
    type: 'object',
    title: `${kind} job`,
    description: `the options of \`shears ${kind}\`, camelCased`,
    properties: { kind: { type: 'string', const: kind }, ...Object.fromEntries(options.map((o) => [o.attributeName(), optionSchema(o)])) },
    required: ['kind', ...options.filter((o) => o.mandatory).map((o) => o.attributeName())],
    additionalProperties: false,
  };
}

/** POST /jobs: one of the kinds, told apart by `kind`. */
export function submitSchema(): Schema {
  return {
    type: 'object',
    required: ['kind'],
    properties: { kind: { type: 'string', enum: [...JOB_KINDS] } },
    discriminator: { propertyName: 'kind' },
    oneOf: JOB_KINDS.map(jobSchema),
  };
}

const jobError = {
  type: 'object',
  properties: { name: { type: 'string' }, code: { type: 'string' }, message: { type: 'string' } },
};

/** A job as GET /jobs/:id shows it. */
export const jobView: Schema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    kind: { type: 'string', enum: [...JOB_KINDS] },
    state: { type: 'string', enum: ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted'] },
    request: { type: 'object', additionalProperties: true },
    createdAt: { type: 'string' },
    startedAt: { type: 'string' },
    finishedAt: { type: 'string' },
    runs: { type: 'integer' },
    progress: { type: 'object', additionalProperties: true },
    error: jobError,
    warnings: { type: 'array', items: { type: 'string' } },
    summary: { type: 'object', additionalProperties: true },
    files: { type: 'array', items: { type: 'string' } },
  },
};

export const errorBody: Schema = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' } },
};

export const idParams: Schema = {
  type: 'object',
  properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } },
  required: ['id'],
};
