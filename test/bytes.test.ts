import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteReader, ByteWriter, utf8 } from '../src/core/bytes.js';

const strings = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'grapheme', maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.constantFrom('', 'a', 'x'.repeat(256), 'x'.repeat(257), `${'x'.repeat(255)}é`, 'tomates 🍅'),
);

describe('UTF-8 strings in the codec', () => {
  it('utf8() gives exactly what TextEncoder gives, ASCII fast path or not', () => {
    fc.assert(
      fc.property(strings, (value) => {
        expect(utf8(value)).toEqual(new TextEncoder().encode(value));
      }),
      { numRuns: 2_000 },
    );
  });

  it('ByteWriter.string writes the same bytes as a length-prefixed TextEncoder encoding, and reads back equal', () => {
    fc.assert(
      fc.property(strings, (value) => {
        const fast = new ByteWriter(4).string(value).finish();
        const reference = new ByteWriter(4).bytes(new TextEncoder().encode(value)).finish();
        expect(fast).toEqual(reference);
        const reader = new ByteReader(fast);
        // A lone surrogate has no UTF-8 form: it reads back as U+FFFD, as TextEncoder wrote it.
        expect(reader.string(4_096)).toBe(new TextDecoder().decode(new TextEncoder().encode(value)));
      }),
      { numRuns: 2_000 },
    );
  });
});
