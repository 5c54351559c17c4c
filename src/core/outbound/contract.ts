/**
 * The one way onair calls another address (webhooks, REST hooks, the live scheduler's notifications): a guarded HTTP
 * client and the delivery log every attempt is kept in.
 */

/**
 * Whose URL it is. `operator`: from the configuration (hook applications), any address. `api`: it arrived through the
 * API (a webhook subscription, a notification_url): the address guard applies, ONAIR_ALLOWED_PRIVATE_ADDRESSES aside.
 */
export type Trust = 'operator' | 'api';

/** Where an attempt goes in the delivery log (one log for webhooks and REST hooks alike). */
export interface DeliveryTag {
  kind: 'webhook' | 'hook';
  /** The webhook subscription's id, or the hook application's name. */
  subscriber: string;
  /** The message the attempt carries: a webhook's `webhook-id`; null for a REST hook call. */
  message: string | null;
  /** The outbox id of the event it tells of, when there is one. */
  eventId: number | null;
  /** The event type (webhooks) or the REST method (hooks). */
  type: string;
  /** 1 for the first attempt of a message. */
  attempt: number;
}

export interface OutboundRequest {
  url: string;
  trust: Trust;
  /** POST when omitted. */
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** 15 s when omitted. */
  timeoutMs?: number;
  /** The answer's body is read up to this many bytes (64 KiB when omitted); past it the attempt fails as too large. */
  maxResponseBytes?: number;
  signal?: AbortSignal;
  /** Keeps the attempt in the delivery log. */
  log?: DeliveryTag;
}

/** An answer, whatever its status: redirects are answers too, never followed. */
export interface OutboundResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  durationMs: number;
  /** The delivery log's id of this attempt, when it was logged. */
  delivery: string | undefined;
}

/**
 * Why no answer came. `refused-address`: the guard refused where the URL leads; `send`: no answer at all (DNS,
 * connection refused or reset), the one kind a REST hook retries; `timeout`; `too-large`: the answer passed its cap.
 */
export type OutboundFailure = 'refused-address' | 'send' | 'timeout' | 'too-large';

export class OutboundError extends Error {
  readonly failure: OutboundFailure;
  readonly durationMs: number;
  /** The delivery log's id of this attempt, when it was logged. */
  readonly delivery: string | undefined;

  constructor(failure: OutboundFailure, message: string, durationMs: number, delivery?: string) {
    super(message);
    this.failure = failure;
    this.durationMs = durationMs;
    this.delivery = delivery;
  }
}

/** One attempt as the delivery log keeps it; headers without secrets. */
export interface DeliveryAttempt extends DeliveryTag {
  id: string;
  at: number;
  url: string;
  requestHeaders: Record<string, string>;
  status: number | null;
  durationMs: number;
  error: string | null;
  responseHeaders: Record<string, string>;
  /** The answer's first bytes (up to 1 KiB). */
  excerpt: string | null;
}

export interface DeliveryFilter {
  kind: DeliveryTag['kind'];
  subscriber?: string;
  message?: string;
  /** Attempts at or after this time (epoch ms). */
  since?: number;
  /** Only attempts that failed (no 2xx answer). */
  failed?: boolean;
  /** Newest first: attempts logged before this id (the previous page's last). */
  before?: string;
  limit: number;
}

export interface Outbound {
  /**
   * Checks a URL that arrives through the API before it is stored: http or https, and every address its host
   * resolves to allowed. InvalidInput naming `field` otherwise.
   */
  check(url: string, field: string): Promise<void>;
  /** Sends one request, connecting only to an address that was checked; throws OutboundError when no answer came. */
  send(request: OutboundRequest): Promise<OutboundResponse>;
  deliveries(filter: DeliveryFilter): Promise<DeliveryAttempt[]>;
  delivery(id: string): Promise<DeliveryAttempt | undefined>;
}
