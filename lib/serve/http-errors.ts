// How errors become HTTP answers: a bad request (the library's typed errors, a schema
// violation, a commander parse error) is 400 with the message that names the problem;
// a refused job keeps its own status (409, 429, 503); anything else is a 500 whose
// details go to the log only.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

import { ArgumentRangeError, ShearsError } from '../errors';
import { JobRefusedError } from './job-queue';
import { JOB_KINDS, NOT_FOR_JOBS, notForJobs } from './job-options';

interface SchemaError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
  /** The value at instancePath (ajv's verbose option). */
  data?: unknown;
}

/** One sentence for the first schema violation, with the option named as in the request. */
export function describeSchemaError(errors: SchemaError[], dataVar: string): Error {
  const e = errors[0];
  const at = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : dataVar;
  const p = e.params;
  let message: string;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      message = key in NOT_FOR_JOBS ? notForJobs(key) : `unknown option '${key}' (the options are those of \`shears <kind>\`, camelCased)`;
      break;
    }
    case 'required':
      message = `missing option '${String(p.missingProperty)}'`;
      break;
    case 'enum':
      message = `${at} must be one of ${(p.allowedValues as unknown[]).join(', ')}, got ${JSON.stringify(e.data)}`;
      break;
    case 'discriminator':
      message = `kind must be one of ${JOB_KINDS.join(', ')}${p.tagValue === undefined ? '' : `, got ${JSON.stringify(p.tagValue)}`}`;
      break;
    default:
      message = `${at} ${e.message ?? e.keyword}`;
  }
  return new ArgumentRangeError(message, 'E_REQUEST');
}

export function sendError(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void {
  const code = (error as { code?: unknown }).code;
  if (error instanceof JobRefusedError) {
    reply.status(error.status).send({ error: error.code, message: error.message });
  } else if ((error as FastifyError).validation) {
    reply.status(400).send({ error: 'E_REQUEST', message: error.message });
  } else if (error instanceof RangeError || error instanceof ShearsError) {
    // The library's typed errors, and its plain RangeErrors (an unknown method): the request's fault.
    reply.status(400).send({ error: typeof code === 'string' ? code : 'E_RANGE', message: error.message });
  } else {
    const status = (error as FastifyError).statusCode;
    // Fastify's own refusals (malformed JSON, an unsupported media type, a body too large).
    if (status !== undefined && status >= 400 && status < 500) reply.status(status).send({ error: typeof code === 'string' ? code : 'E_REQUEST', message: error.message });
    else {
      request.log.error({ err: error }, 'internal error');
      reply.status(500).send({ error: 'E_INTERNAL', message: 'internal error (see the server log)' });
    }
  }
}
