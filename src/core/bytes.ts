/**
 * The byte-level codec every protocol message is built from: LEB128 varints, length-prefixed
 * UTF-8 strings and byte arrays, IEEE-754 doubles.
 *
 * Written here rather than taken from lib0 because the reader must be hostile-input safe in a
 * way the protocol can rely on: every read is bounds-checked against the remaining bytes and
 * a per-message length cap, and fails with a typed DecodeError (never a RangeError, never a
 * silently short read, never an allocation sized by an attacker-controlled length).
 */
import { DecodeError } from './errors.js';

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Strings up to this many UTF-16 units are tried as ASCII by hand first. Ids, tags and most
 * memories are short ASCII, and a call into TextEncoder (a native call and an allocation) cost
 * more than copying them: in heal profiles TextEncoder.encode was the largest item after the
 * browser's own work (~0.8 s of ~5 s over five tabs for a 10K-record heal).
 */
const ASCII_FAST_PATH_MAX = 256;

/** Whether `value` is all ASCII (and short enough to be worth checking by hand). */
function isShortAscii(value: string): boolean {
  if (value.length > ASCII_FAST_PATH_MAX) return false;
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** The UTF-8 bytes of `value`; equal to TextEncoder's, faster for short ASCII strings. */
export function utf8(value: string): Uint8Array {
  if (!isShortAscii(value)) return textEncoder.encode(value);
  const out = new Uint8Array(value.length);
  for (let i = 0; i < value.length; i++) out[i] = value.charCodeAt(i);
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Largest integer a varint may carry: counters and lengths stay exact as JS numbers. */
const MAX_VARINT = Number.MAX_SAFE_INTEGER;

export class ByteWriter {
  private buffer: Uint8Array;
  private view: DataView;
  private length = 0;

  constructor(initialCapacity = 64) {
    this.buffer = new Uint8Array(initialCapacity);
    this.view = new DataView(this.buffer.buffer);
  }

  get size(): number {
    return this.length;
  }

  private ensure(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < this.length + extra) capacity *= 2;
    const next = new Uint8Array(capacity);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
    this.view = new DataView(next.buffer);
  }

  u8(value: number): this {
    this.ensure(1);
    this.buffer[this.length++] = value & 0xff;
    return this;
  }

  /** Unsigned LEB128. */
  varint(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > MAX_VARINT) {
      throw new RangeError(`varint out of range: ${value}`);
    }
    this.ensure(8);
    let rest = value;
    while (rest >= 0x80) {
      this.buffer[this.length++] = (rest % 0x80) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    this.buffer[this.length++] = rest;
    return this;
  }

  f64(value: number): this {
    this.ensure(8);
    this.view.setFloat64(this.length, value, true);
    this.length += 8;
    return this;
  }

  bytes(value: Uint8Array): this {
    this.varint(value.length);
    this.raw(value);
    return this;
  }

  /** Bytes without a length prefix (fixed-size fields such as digests). */
  raw(value: Uint8Array): this {
    this.ensure(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
    return this;
  }

  string(value: string): this {
    if (!isShortAscii(value)) return this.bytes(textEncoder.encode(value));
    // Length-prefixed like bytes(), copied straight into the buffer: no intermediate array.
    this.varint(value.length);
    this.ensure(value.length);
    for (let i = 0; i < value.length; i++) this.buffer[this.length++] = value.charCodeAt(i);
    return this;
  }

  bool(value: boolean): this {
    return this.u8(value ? 1 : 0);
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

export class ByteReader {
  private offset = 0;
  private readonly view: DataView;

  constructor(private readonly input: Uint8Array) {
    this.view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  }

  get remaining(): number {
    return this.input.length - this.offset;
  }

  get position(): number {
    return this.offset;
  }

  private need(count: number, what: string): void {
    if (count > this.remaining) {
      throw new DecodeError('truncated', `message ends inside ${what} (needs ${count} bytes, ${this.remaining} left)`);
    }
  }

  u8(what = 'a byte'): number {
    this.need(1, what);
    return this.input[this.offset++] as number;
  }

  varint(what = 'a varint'): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const byte = this.u8(what);
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (result > MAX_VARINT) throw new DecodeError('bad-value', `${what} exceeds 2^53`);
        return result;
      }
      scale *= 0x80;
    }
    throw new DecodeError('bad-value', `${what} is longer than 8 bytes`);
  }

  /** A varint that must not exceed `max` (lengths and counts: guards allocations). */
  boundedVarint(max: number, what: string): number {
    const value = this.varint(what);
    if (value > max) throw new DecodeError('oversized', `${what} is ${value}, more than the limit ${max}`);
    return value;
  }

  f64(what = 'a number'): number {
    this.need(8, what);
    const value = this.view.getFloat64(this.offset, true);
    this.offset += 8;
    return value;
  }

  bytes(maxLength: number, what = 'a byte string'): Uint8Array {
    const length = this.boundedVarint(maxLength, `length of ${what}`);
    return this.raw(length, what);
  }

  raw(length: number, what = 'bytes'): Uint8Array {
    this.need(length, what);
    const out = this.input.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  string(maxBytes: number, what = 'a string'): string {
    const encoded = this.bytes(maxBytes, what);
    try {
      return textDecoder.decode(encoded);
    } catch {
      throw new DecodeError('bad-value', `${what} is not valid UTF-8`);
    }
  }

  bool(what = 'a flag'): boolean {
    const value = this.u8(what);
    if (value > 1) throw new DecodeError('bad-value', `${what} must be 0 or 1, got ${value}`);
    return value === 1;
  }

  /** Every message must be consumed exactly: trailing bytes mean the sender and we disagree on the format. */
  end(): void {
    if (this.remaining !== 0) {
      throw new DecodeError('trailing-bytes', `${this.remaining} unexpected bytes after the message`);
    }
  }
}
