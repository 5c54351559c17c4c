import type { Duplex } from 'node:stream';
import { Type, type Static, type TSchema } from 'typebox';
import type { DomainError, DomainErrorKind, FieldError } from '../errors.ts';

/** RFC 9457 problem details, with the fields at fault listed under `errors`. */
export const Problem = Type.Object({
  type: Type.String(),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.String(),
  errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
}, { $id: 'Problem', description: 'RFC 9457 problem details' });
export type Problem = Static<typeof Problem>;

/** A route's error answers: a problem document for each status. */
export const problems = (...codes: number[]) => Object.fromEntries(codes.map((code) => [code, Type.Ref('Problem')]));


const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  406: 'Not Acceptable', 408: 'Request Timeout', 409: 'Conflict', 411: 'Length Required', 413: 'Content Too Large',
  415: 'Unsupported Media Type', 416: 'Range Not Satisfiable', 422: 'Unprocessable Content', 429: 'Too Many Requests',
  431: 'Request Header Fields Too Large', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

export function titleOf(status: number): string {
  return TITLES[status] ?? (status < 500 ? 'Client Error' : 'Server Error');
}

/** An error a route throws to answer with a problem document. */
export class HttpError extends Error {
  readonly status: number;
  readonly errors: FieldError[] | undefined;

  constructor(status: number, detail: string, errors?: FieldError[]) {
    super(detail);
    this.status = status;
    this.errors = errors;
  }

  toProblem(): Problem {
    return problem(this.status, this.message, this.errors);
  }
}

/**
 * How a seed API writes its errors when they are not problem documents (seed 001: `{"error": "..."}`): a route names
 * its form in `config.errors`, and the core's error handler and the OpenAPI document both use it, as application/json.
 */
export interface ErrorForm {
  body(status: number, detail: string): unknown;
  /** The schema of the body of an answer of `status`. */
  schema(status: number): TSchema;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    errors?: ErrorForm;
  }
}

export function problem(status: number, detail: string, errors?: FieldError[]): Problem {
  return { type: 'about:blank', title: titleOf(status), status, detail, ...(errors ? { errors } : {}) };
}

/** The one place where what an area refuses becomes an HTTP status. */
const STATUS_OF: Record<DomainErrorKind, number> = {
  invalid: 400, 'not-found': 404, conflict: 409, busy: 409, unavailable: 503, 'too-large': 413, 'timed-out': 408, refused: 403,
};

export function domainProblem(error: DomainError): Problem {
  return problem(STATUS_OF[error.kind], error.message, error.errors);
}

const CLIENT_ERRORS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'The request headers are larger than the 16 KiB accepted'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'The request headers did not arrive in time'],
};

/**
 * Fastify's clientErrorHandler: what Node's HTTP parser refuses before any route, answered as a problem document
 * (without the document when the request, as far as it was read, is a HEAD).
 */
export function clientError(error: Error & { code?: string; rawPacket?: unknown }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) return;
  const [status, detail] = CLIENT_ERRORS[error.code ?? ''] ?? [400, 'The request is not valid HTTP'];
  const body = JSON.stringify(problem(status, detail));
  const head = Buffer.isBuffer(error.rawPacket) && error.rawPacket.subarray(0, 5).toString('latin1') === 'HEAD ';
  socket.end(`HTTP/1.1 ${status} ${titleOf(status)}\r\nContent-Type: application/problem+json; charset=utf-8\r\n`
    + `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${head ? '' : body}`);
}
