import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { Value } from 'typebox/value';
import { invalid } from '../core/errors.ts';
import { describeIssue, withDefaults } from '../core/http/validation.ts';

/** Parameters are stored, shown and handed to operations whole: they are configuration, not data. */
const MAX_BYTES = 64 * 1024;

interface Checker {
  validator: ReturnType<typeof Compile>;
  /** Whether the schema documents a default anywhere: only then do parameters need one filled in. */
  defaults: boolean;
}

const checkers = new WeakMap<TSchema, Checker>();

function checkerOf(schema: TSchema): Checker {
  let checker = checkers.get(schema);
  if (!checker) {
    checker = { validator: Compile(schema), defaults: JSON.stringify(schema).includes('"default":') };
    checkers.set(schema, checker);
  }
  return checker;
}

/**
 * Checks the size of `given` (nesting is bounded for every request, see MAX_DEPTH), and `given` against `schema` once
 * the schema's defaults are applied (to a copy), answering 400 naming the first field at fault under `field`; answers
 * the parameters with their defaults.
 */
export function checkParameters(schema: TSchema, given: Record<string, unknown>, field: string): Record<string, unknown> {
  const { validator, defaults } = checkerOf(schema);
  const bytes = Buffer.byteLength(JSON.stringify(given));
  if (bytes > MAX_BYTES) throw invalid(field, `are ${bytes} bytes of JSON; at most ${MAX_BYTES} are accepted`);
  const value = defaults ? withDefaults(schema, Value.Clone(given)) as Record<string, unknown> : given;
  if (validator.Check(value)) return value;
  const [first] = validator.Errors(value).map(describeIssue).filter((described) => described !== undefined);
  throw invalid([field, ...(first?.path ?? [])].join('.'), first?.message ?? 'is invalid');
}
