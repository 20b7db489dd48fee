import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { Static, TSchema } from '@sinclair/typebox';
import { LoaError, type ErrorCode } from './errors.js';

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: true, coerceTypes: false });
addFormats(ajv);

export interface SchemaIssue {
  path: string;
  message: string;
}

function issues(errors: ErrorObject[] | null | undefined): SchemaIssue[] {
  return (errors ?? []).map((e) => ({
    path: e.instancePath || '/',
    message: e.keyword === 'additionalProperties'
      ? `unknown property "${String((e.params as { additionalProperty?: string }).additionalProperty)}"`
      : e.message ?? 'invalid',
  }));
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
  }
  return o;
}

/** A compiled schema check: all errors reported, defaults applied, result frozen. */
export interface Checker<S extends TSchema> {
  readonly schema: S;
  /** Returns the frozen value or throws a LoaError with `code` listing every problem. */
  parse(value: unknown, what?: string): Static<S>;
  is(value: unknown): value is Static<S>;
}

export function checker<S extends TSchema>(schema: S, code: ErrorCode = 'LOA_ERR_SCHEMA'): Checker<S> {
  // Compiled on first use: an agent only pays (memory, start-up time) for the schemas it actually checks.
  let compiled: ValidateFunction | undefined;
  const fn = (v: unknown): boolean => (compiled ??= ajv.compile(schema))(v);
  Object.defineProperty(fn, 'errors', { get: () => compiled?.errors });
  return {
    schema,
    parse(value: unknown, what = (schema.title) ?? 'input'): Static<S> {
      const copy: unknown = structuredClone(value);
      if (!fn(copy)) {
        const list = issues(compiled?.errors);
        const summary = list.slice(0, 10).map((i) => `${i.path}: ${i.message}`).join('; ');
        throw new LoaError(code, `${what} is invalid: ${summary}${list.length > 10 ? ` (+${list.length - 10} more)` : ''}`, { details: { issues: list } });
      }
      return deepFreeze(copy as Static<S>);
    },
    is(value: unknown): value is Static<S> {
      return fn(structuredClone(value));
    },
  };
}

/** Parses JSON text with a size cap first; errors are coded. */
export function parseJsonText(text: string | Buffer, maxBytes: number, what: string, tooLarge: ErrorCode = 'LOA_ERR_INPUT_TOO_LARGE'): unknown {
  const size = typeof text === 'string' ? Buffer.byteLength(text) : text.length;
  if (size > maxBytes) throw new LoaError(tooLarge, `${what} is ${size} bytes; the limit is ${maxBytes}`, { details: { size, maxBytes } });
  try {
    return JSON.parse(typeof text === 'string' ? text : text.toString('utf8')) as unknown;
  } catch (e) {
    throw new LoaError('LOA_ERR_JSON_PARSE', `${what} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
}
