import type { FastifySchemaCompiler, FastifySchemaValidationError, RouteOptions } from 'fastify';
import { Type, type TSchema, type TStringOptions } from 'typebox';
import { Compile } from 'typebox/compile';
import { Value } from 'typebox/value';

/** How deep objects and arrays may nest in a request: far more than any route needs, little enough to be safe to walk. */
const MAX_DEPTH = 32;

export interface ValidationIssue {
  keyword?: string;
  instancePath?: string;
  schemaPath?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** What each pattern of a request schema asks for, in words: a refusal says that, never the expression. */
// TypeBox's key pattern of a record of any string names (it refuses a line break).
const PATTERN_WORDS = new Map<string, string>([['^.*$', 'a name on one line']]);

/** A string schema with a pattern, and what the pattern asks for in words (`words` follows "must be"). */
export function Text(pattern: string, words: string, options: TStringOptions = {}) {
  PATTERN_WORDS.set(pattern, words);
  return Type.String({ ...options, pattern });
}

/** On a union refused as a whole (one message for the field): what it asks for, in words. A symbol survives Type.Optional's copy. */
const CHOICE_WORDS = Symbol('choice words');

/**
 * A union refused as a whole: "must be `words`" for the field, rather than what each of its choices found wrong (a
 * missing property of one, a wrong format in another).
 */
export function Choice<T extends TSchema>(union: T, words: string): T {
  return Object.assign(union, { [CHOICE_WORDS]: words });
}

const choiceWords = (schema: unknown): string | undefined => (schema as { [CHOICE_WORDS]?: string } | undefined)?.[CHOICE_WORDS];

/** The schema a validation issue's schemaPath (#/properties/a/anyOf/0…) points to, if it can be followed. */
function schemaAt(root: TSchema, schemaPath: string): unknown {
  let at: unknown = root;
  for (const key of schemaPath.split('/').slice(1)) at = (at as Record<string, unknown> | undefined)?.[key];
  return at;
}

/** The schema path of the outermost Choice an issue lies in, if any. */
function choiceOf(root: TSchema, issue: ValidationIssue): string | undefined {
  const segments = (issue.schemaPath ?? '').split('/');
  for (let end = 1; end <= segments.length; end++) {
    const path = segments.slice(0, end).join('/');
    if (choiceWords(schemaAt(root, path)) !== undefined) return path;
  }
  return undefined;
}

/**
 * The issues, those inside a Choice replaced by one per place the Choice was refused: the places of the issues
 * about the union or one of its choices (or their choices, for unions within it) as a whole; a choice's inner fields lie deeper.
 */
function collapseChoices(root: TSchema, issues: ValidationIssue[]): ValidationIssue[] {
  const kept: ValidationIssue[] = [];
  const choices = new Map<string, ValidationIssue[]>();
  for (const issue of issues) {
    const choice = choiceOf(root, issue);
    if (choice === undefined) kept.push(issue);
    else choices.set(choice, [...(choices.get(choice) ?? []), issue]);
  }
  for (const [path, found] of choices) {
    const whole = found.filter((i) => /^(\/anyOf\/\d+)*$/.test(i.schemaPath!.slice(path.length)));
    if (whole.length === 0) kept.push(...found);
    const message = `must be ${choiceWords(schemaAt(root, path))}`;
    for (const at of new Set(whole.map((i) => i.instancePath))) kept.push({ keyword: 'choice', instancePath: at, schemaPath: path, params: {}, message });
  }
  return kept;
}

/** What a pattern asks for, in words; undefined for a pattern made without Text. */
export function patternWords(pattern: string): string | undefined {
  return PATTERN_WORDS.get(pattern);
}

/** JSON types and formats as a person names them. */
const TYPE_WORDS: Record<string, string> = {
  string: 'text', integer: 'a whole number', number: 'a number', boolean: 'true or false', object: 'a JSON object',
  array: 'a list', null: 'null',
};
const FORMAT_WORDS: Record<string, string> = {
  uuid: 'a UUID such as 3f2c8a4e-9b1d-4c6e-8f0a-2d5b7e9c1a34', 'date-time': 'an ISO 8601 date-time such as 2026-12-04T20:00:00Z',
};

function messageOf(issue: ValidationIssue): string {
  const { keyword, params } = issue;
  if (keyword === 'boolean' && (issue.schemaPath ?? '').endsWith('/additionalProperties')) return 'is an unknown field';
  if (keyword === 'required') return 'is required';
  if (keyword === 'choice') return issue.message!;
  if (keyword === 'pattern') return `must be ${patternWords(String(params?.pattern)) ?? 'written as the API reference shows'}`;
  if (keyword === 'type' && TYPE_WORDS[String(params?.type)]) return `must be ${TYPE_WORDS[String(params?.type)]}`;
  if (keyword === 'format' && FORMAT_WORDS[String(params?.format)]) return `must be ${FORMAT_WORDS[String(params?.format)]}`;
  return issue.message ?? 'is invalid';
}

/**
 * Where a validation issue lies (the path down to the field, a missing property's name included) and what to say of
 * it. TypeBox reports an unknown property twice, once on its own ("schema is false") and once in a list on its parent:
 * the first is kept, reading "is an unknown field", and the list is dropped.
 */
export function describeIssue(issue: ValidationIssue): { path: string[]; message: string } | undefined {
  if (issue.keyword === 'additionalProperties') return undefined;
  const path = (issue.instancePath ?? '').split('/').filter(Boolean).map((key) => key.replaceAll('~1', '/').replaceAll('~0', '~'));
  const missing = issue.params?.requiredProperties ?? issue.params?.missingProperty;
  if (Array.isArray(missing) || typeof missing === 'string') path.push([missing].flat().join(','));
  return { path, message: messageOf(issue) };
}

function pointer(path: string[]): string {
  return path.map((key) => `/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

function refusal(path: string[], keyword: string, message: string): FastifySchemaValidationError {
  return { keyword, instancePath: pointer(path), schemaPath: '#', params: {}, message };
}

/**
 * The first thing no route accepts: U+0000 in a string or a property name (PostgreSQL cannot store it, so SQLite must
 * not either), or nesting deeper than MAX_DEPTH. Walked with a stack of its own, so that any depth is safe.
 */
function unacceptable(value: unknown): FastifySchemaValidationError | undefined {
  const stack: Array<{ value: unknown; path: string[] }> = [{ value, path: [] }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const { value, path } = next;
    if (typeof value === 'string' && value.includes('\0')) return refusal(path, 'nul', 'must not contain the character U+0000');
    if (typeof value !== 'object' || value === null) continue;
    if (path.length >= MAX_DEPTH) return refusal(path, 'depth', `is nested more than ${MAX_DEPTH} levels deep`);
    for (const [key, item] of Object.entries(value)) {
      if (key.includes('\0')) return refusal([...path, key], 'nul', 'must not contain the character U+0000 in its name');
      stack.push({ value: item, path: [...path, key] });
    }
  }
  return undefined;
}

interface Numeral {
  spelling: RegExp;
  message: string;
}

/** How a number must be written in a URL: `limit=1.5` is refused, not read as 1. */
const NUMERALS: Record<string, Numeral> = {
  integer: { spelling: /^-?\d+$/, message: 'must be a whole number' },
  number: { spelling: /^-?\d+(\.\d+)?$/, message: 'must be a decimal number' },
};

/** Top-level properties of a query or path schema that hold numbers (alone, or as a list), with the spelling each needs. */
function numericProperties(schema: TSchema): Array<[string, Numeral]> {
  const properties = (schema as { properties?: Record<string, TSchema> }).properties ?? {};
  const numeral = (property: TSchema | undefined) => NUMERALS[String((property as { type?: unknown } | undefined)?.type)];
  return Object.entries(properties).flatMap(([name, property]) => {
    const found = numeral(property) ?? numeral((property as { items?: TSchema }).items);
    return found ? [[name, found] as [string, Numeral]] : [];
  });
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
 * TypeBox validation, after the checks every route shares (no U+0000, bounded nesting) and with the schema's
 * defaults applied. Strings from the URL are converted to the schema's types, but only plain decimal
 * numerals become numbers: `limit=true`, `1e2`, `0x10` or `1.5` are refused rather than read as 1, 100, 16 or 1.
 */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const validator = Compile(schema);
  const numeric = httpPart === 'body' ? [] : numericProperties(schema);
  return (value: any) => {
    const refused = unacceptable(value);
    if (refused) return { error: [refused] };
    for (const [name, { spelling, message }] of numeric) {
      const raw = value?.[name];
      const texts = Array.isArray(raw) ? raw : [raw];
      if (texts.some((text) => typeof text === 'string' && !spelling.test(text))) return { error: [refusal([name], 'type', message)] };
    }
    const converted = withDefaults(schema, httpPart === 'body' ? value : Value.Convert(schema, value));
    if (validator.Check(converted)) return { value: converted };
    return { error: collapseChoices(schema, validator.Errors(converted)) as unknown as FastifySchemaValidationError[] };
  };
};

/**
 * An onRoute hook: every documented route refuses query parameters it does not know (400 naming them), whether or not
 * it declares any.
 */
export function refuseUnknownQuery(route: RouteOptions): void {
  const schema = (route.schema ?? {}) as { hide?: boolean; querystring?: TSchema };
  if (schema.hide) return;
  route.schema = { ...schema, querystring: closed(schema.querystring ?? Type.Object({})) };
}

/** A copy of an object schema that accepts no other property; TypeBox's hidden properties are copied with the rest. */
function closed(schema: TSchema): TSchema {
  const descriptors = Object.getOwnPropertyDescriptors(schema);
  return Object.defineProperties({}, { ...descriptors, additionalProperties: { value: false, enumerable: true, writable: true, configurable: true } });
}
