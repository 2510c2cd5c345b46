/**
 * Errors the caller can act on: each has a stable `code` and a message a person understands.
 */

export type DecodeErrorCode =
  | 'truncated'
  | 'oversized'
  | 'bad-version'
  | 'unknown-type'
  | 'bad-value'
  | 'trailing-bytes'
  | 'unknown-node-ref';

/** Bytes that cannot be read as a protocol message. The decoder never changes state before throwing it. */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  constructor(
    readonly code: DecodeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type EngramErrorCode =
  | 'invalid-argument'
  | 'not-found'
  | 'not-started'
  | 'stopped'
  | 'storage-failed'
  /** The browser's storage for the site is full: nothing of the write was saved. */
  | 'storage-full'
  /** The node's database is gone (site data cleared, deleted by another tab): nothing is saved any more. */
  | 'storage-lost'
  /** A version or rumour from a peer that no honest node could have produced (admission.ts): refused, counted, skipped. */
  | 'refused'
  /** A bound of limits.ts is reached (e.g. this node's dot counter): the call cannot be carried out. */
  | 'limit-reached';

/** A call into the node that cannot be carried out. */
export class EngramError extends Error {
  override readonly name = 'EngramError';
  constructor(
    readonly code: EngramErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
