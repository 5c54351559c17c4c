import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { badRequest } from '../core/http/problem.ts';

const compiled = new WeakMap<TSchema, ReturnType<typeof Compile>>();

/** Checks `value` against `schema`, answering 400 naming the first field at fault under `field`. */
export function checkParameters(schema: TSchema, value: unknown, field: string): void {
  let validator = compiled.get(schema);
  if (!validator) {
    validator = Compile(schema);
    compiled.set(schema, validator);
  }
  if (validator.Check(value)) return;
  const [first] = validator.Errors(value);
  const params = (first?.params ?? {}) as Record<string, unknown>;
  const missing = params.requiredProperties;
  const path = (first?.instancePath ?? '').split('/').filter(Boolean);
  if (Array.isArray(missing)) path.push(missing.join(','));
  const additional = params.additionalProperties;
  if (Array.isArray(additional)) path.push(additional.join(','));
  throw badRequest([field, ...path].join('.'), Array.isArray(additional) ? 'is not an accepted parameter' : first?.message ?? 'is invalid');
}
