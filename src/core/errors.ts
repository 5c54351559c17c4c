/**
 * What an area refuses, said in the product's words. Services throw these; the HTTP layer alone turns each kind into
 * a status code (core/http/problem.ts), so no area decides on, or tests for, status numbers.
 */
export type DomainErrorKind = 'invalid' | 'not-found' | 'conflict' | 'busy' | 'unavailable' | 'too-large' | 'timed-out' | 'refused';

export interface FieldError {
  field: string;
  message: string;
}

export class DomainError extends Error {
  readonly kind: DomainErrorKind;
  readonly errors: FieldError[] | undefined;

  constructor(kind: DomainErrorKind, detail: string, errors?: FieldError[]) {
    super(detail);
    this.kind = kind;
    this.errors = errors;
  }
}

/** A value given to an area is wrong: `field` names it as the caller wrote it. */
export class InvalidInput extends DomainError {
  readonly field: string;

  constructor(field: string, message: string) {
    super('invalid', `${field}: ${message}`, [{ field, message }]);
    this.field = field;
  }
}

export class NotFound extends DomainError {
  constructor(detail: string) {
    super('not-found', detail);
  }
}

/** A task names a dependency that does not exist. */
export class UnknownDependency extends NotFound {
  readonly dependency: string;

  constructor(dependency: string) {
    super(`Dependency ${dependency} does not exist`);
    this.dependency = dependency;
  }
}

/** The change contradicts what is stored (an id taken, a task already finished, a show that still has events). */
export class Conflict extends DomainError {
  /** `errors` names the fields whose values collide (a port another channel has). */
  constructor(detail: string, errors?: FieldError[]) {
    super('conflict', detail, errors);
  }
}

/** A channel is reserved or live already, or cannot take a source right now: waiting may help. */
export class ChannelBusy extends DomainError {
  readonly channel: string;

  constructor(channel: string, detail = `Channel ${channel} is already reserved or live`, kind: DomainErrorKind = 'busy') {
    super(kind, detail);
    this.channel = channel;
  }
}

/** The area cannot do this now (a shared resource is not as it must be); the detail says why and what to do. */
export class Unavailable extends DomainError {
  constructor(detail: string) {
    super('unavailable', detail);
  }
}

export class TooLarge extends DomainError {
  constructor(detail: string) {
    super('too-large', detail);
  }
}

export class TimedOut extends DomainError {
  constructor(detail: string) {
    super('timed-out', detail);
  }
}

/** Somebody whose word counts (a station's hook backend) said no: the detail is their reason. */
export class Refused extends DomainError {
  constructor(detail: string) {
    super('refused', detail);
  }
}

export const invalid = (field: string, message: string) => new InvalidInput(field, message);
export const notFound = (detail: string) => new NotFound(detail);
export const conflict = (detail: string) => new Conflict(detail);

/** What went wrong, as words: an Error's message, anything else as a string. */
export const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));
