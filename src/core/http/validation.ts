import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify';
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { Value } from 'typebox/value';

const DECIMAL = /^-?\d+(\.\d+)?$/;

function isNumeric(schema: TSchema): boolean {
  const { type } = schema as { type?: unknown };
  return type === 'integer' || type === 'number';
}

/** Top-level properties of a query or path schema that hold numbers (alone, or as a list). */
function numericProperties(schema: TSchema): string[] {
  const properties = (schema as { properties?: Record<string, TSchema> }).properties ?? {};
  return Object.entries(properties)
    .filter(([, property]) => isNumeric(property) || isNumeric((property as { items?: TSchema }).items ?? {}))
    .map(([name]) => name);
}

/**
 * `value` with the schema's defaults filled in (objects are changed in place). TypeBox 1.4 throws on a record
 * with `additionalProperties: false` holding a key outside its pattern: such a value is checked as it came, and refused.
 */
export function withDefaults(schema: TSchema, value: unknown): unknown {
  try {
    return Value.Default(schema, value);
  } catch {
    return value;
  }
}

/**
 * TypeBox validation, after the schema's defaults are applied. Strings from the URL are converted to the schema's types, but only plain decimal
 * strings become numbers: `limit=true`, `1e2` or `0x10` are refused rather than read as 1, 100 or 16.
 */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const validator = Compile(schema);
  const numeric = httpPart === 'body' ? [] : numericProperties(schema);
  return (value: any) => {
    for (const name of numeric) {
      const raw = value?.[name];
      const texts = Array.isArray(raw) ? raw : [raw];
      if (texts.some((text) => typeof text === 'string' && !DECIMAL.test(text))) {
        const error: FastifySchemaValidationError = {
          keyword: 'type', instancePath: `/${name}`, schemaPath: `#/properties/${name}`, params: {}, message: 'must be a decimal number',
        };
        return { error: [error] };
      }
    }
    const converted = withDefaults(schema, httpPart === 'body' ? value : Value.Convert(schema, value));
    if (validator.Check(converted)) return { value: converted };
    return { error: validator.Errors(converted) as unknown as FastifySchemaValidationError[] };
  };
};
