import { Type, type TSchema } from 'typebox';
import type { ErrorForm } from '../core/http/problem.ts';

/** The cloud live API's errors: `{"error": "..."}`, and 401 `{"message": "Unauthorized"}` as its gateway answers. */
export const LIVE_ERRORS: ErrorForm = {
  body: (status, detail) => (status === 401 ? { message: 'Unauthorized' } : { error: detail }),
  schema: (status) => (status === 401
    ? Type.Object({ message: Type.Literal('Unauthorized') })
    : Type.Object({ error: Type.String({ description: 'What is wrong, naming the field' }) })),
};

/**
 * A route's own error answers in this form, each with what it means (documented, and known to the serializer). A 400
 * is left to the core, which documents it on every route in this form and as a problem document (a path that does not
 * decode is refused before the route is known).
 */
export function errorAnswers(meanings: Record<number, string>): Record<number, TSchema> {
  return Object.fromEntries(Object.entries(meanings).filter(([code]) => code !== '400')
    .map(([code, description]) => [code, { ...LIVE_ERRORS.schema(Number(code)), description }]));
}
