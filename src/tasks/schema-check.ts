import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { Value } from 'typebox/value';
import { badRequest } from '../core/http/problem.ts';
import { describeIssue, withDefaults } from '../core/http/validation.ts';

const compiled = new WeakMap<TSchema, ReturnType<typeof Compile>>();
/** Parameters are stored, shown and handed to operations whole: they are configuration, not data. */
const MAX_BYTES = 64 * 1024;

/**
 * Checks the size of `given` (nesting is bounded for every request, see MAX_DEPTH), and `given` against `schema` once the schema's defaults are applied (to a copy), answering 400 naming the
 * first field at fault under `field`; answers the parameters with their defaults.
 */
export function checkParameters(schema: TSchema, given: Record<string, unknown>, field: string): Record<string, unknown> {
  let validator = compiled.get(schema);
  if (!validator) {
    validator = Compile(schema);
    compiled.set(schema, validator);
  }
  const bytes = Buffer.byteLength(JSON.stringify(given));
  if (bytes > MAX_BYTES) throw badRequest(field, `are ${bytes} bytes of JSON; at most ${MAX_BYTES} are accepted`);
  const value = withDefaults(schema, Value.Clone(given)) as Record<string, unknown>;
  if (validator.Check(value)) return value;
  const [first] = validator.Errors(value).map(describeIssue).filter((described) => described !== undefined);
  throw badRequest([field, ...(first?.path ?? [])].join('.'), first?.message ?? 'is invalid');
}
