/**
 * Text that once broke replication, in two real tabs (issue 10): a tag of 60 CJK characters
 * (180 bytes of UTF-8, past the wire's 128 while `remember` counted 64 UTF-16 units: acknowledged,
 * then every receiver rejected the whole message and healing between the tabs aborted for good),
 * content with a lone surrogate (held as-is by the writer, as U+FFFD by every receiver), and
 * content of 4,000 emoji, astral and ZWJ sequences. Each is either refused at `remember` with a
 * typed error or replicated with identical UTF-16 code units; plain writes made alongside and
 * after them arrive, and the Merkle roots become equal.
 *
 * Strings travel as arrays of UTF-16 code units and are built and compared inside the pages: a
 * lone surrogate would not survive the trip through the test runner's JSON.
 */
import { expect, test } from '@playwright/test';
import { openCluster, startEngramServer, waitForConvergence, waitForVisibility, type BrowserNode } from './cluster.js';

interface Case {
  readonly name: string;
  readonly content: string;
  readonly tags: readonly string[];
}

const units = (text: string): number[] => Array.from({ length: text.length }, (_, i) => text.charCodeAt(i));

const FAMILY = '\u{1F469}\u200D\u{1F469}\u200D\u{1F467}\u200D\u{1F466}'; // 👩‍👩‍👧‍👦, one emoji of 7 code points
const TECHNOLOGIST = '\u{1F9D1}\u{1F3FD}\u200D\u{1F4BB}'; // 🧑🏽‍💻, with a skin-tone modifier
const CASES: readonly Case[] = [
  { name: 'a tag of 60 CJK characters', content: 'a memory with a long CJK tag', tags: ['記'.repeat(60)] },
  { name: 'content with a lone surrogate', content: 'x\uD800y', tags: [] },
  { name: 'content of 4,000 emoji', content: '\u{1F600}'.repeat(3_900) + `${FAMILY}${TECHNOLOGIST}`.repeat(50), tags: ['emoji'] },
];

type Outcome = { accepted: true; id: string } | { accepted: false; name: string; code: string | undefined; message: string };

/** Writes a case built from code units; the id, or the error `remember` threw. */
function rememberCase(node: BrowserNode, written: Case): Promise<Outcome> {
  return node.page.evaluate(
    async ([content, tags]) => {
      const text = (codes: readonly number[]) => codes.map((code) => String.fromCharCode(code)).join('');
      try {
        const { id } = await window.engram!.remember({ content: text(content), tags: tags.map(text) });
        return { accepted: true as const, id };
      } catch (error) {
        const failure = error as { name: string; code?: string; message: string };
        return { accepted: false as const, name: failure.name, code: failure.code, message: failure.message };
      }
    },
    [units(written.content), written.tags.map(units)] as const,
  );
}

/** The shown version's content and tags as code units, or undefined when the node lacks the memory. */
function heldAs(node: BrowserNode, id: string): Promise<{ content: number[]; tags: number[][] } | undefined> {
  return node.page.evaluate(async (wanted) => {
    const record = await window.engram!.get(wanted);
    const version = record?.siblings[0];
    if (!version) return undefined;
    const codes = (text: string) => Array.from({ length: text.length }, (_, i) => text.charCodeAt(i));
    return { content: codes(version.content), tags: version.tags.map(codes) };
  }, id);
}

function rememberPlain(node: BrowserNode, content: string): Promise<string> {
  return node.page.evaluate(async (text) => (await window.engram!.remember({ content: text })).id, content);
}

test('a 60-character CJK tag, a lone surrogate and 4,000 emoji are refused with a typed error or replicated identically, and plain writes around them still replicate and converge', async ({ browser }) => {
  const server = await startEngramServer();
  const { context, nodes } = await openCluster(browser, `${server.url}?room=unicode-${Date.now()}`, 2);
  const [writer, reader] = nodes as [BrowserNode, BrowserNode];
  try {
    for (const node of nodes) await waitForVisibility(node, 2, 2);

    for (const written of CASES) {
      await test.step(written.name, async () => {
        // Plain neighbours in the same instant share its replication batch, as in the bug report.
        const [outcome, ...neighbours] = await Promise.all([rememberCase(writer, written), ...[0, 1, 2].map((k) => rememberPlain(writer, `neighbour ${k} of ${written.name}`))]);
        if (outcome.accepted) {
          // Soft, so a case that does not replicate still goes on to show whether it blocked its neighbours.
          await expect.soft.poll(() => heldAs(reader, outcome.id), { timeout: 10_000 }).toEqual({ content: units(written.content), tags: written.tags.map(units) });
          // ... and the writer holds exactly what was asked too (nothing replaced at the edge).
          expect.soft(await heldAs(writer, outcome.id)).toEqual({ content: units(written.content), tags: written.tags.map(units) });
        } else {
          expect({ name: outcome.name, code: outcome.code }, outcome.message).toEqual({ name: 'EngramError', code: 'invalid-argument' });
        }
        console.log(`[unicode] ${written.name}: ${outcome.accepted ? 'accepted' : `refused (${outcome.code}: ${outcome.message})`}`);
        for (const id of neighbours) await expect.poll(() => heldAs(reader, id).then((held) => held !== undefined), { timeout: 10_000 }).toBe(true);
      });
    }

    await test.step('a plain write made after them arrives within seconds and the Merkle roots become equal', async () => {
      const started = Date.now();
      const id = await rememberPlain(writer, 'a plain memory after the unicode cases');
      await expect.poll(() => heldAs(reader, id).then((held) => held !== undefined), { timeout: 5_000, intervals: [20] }).toBe(true);
      const arrivedMs = Date.now() - started;
      await waitForConvergence(nodes, 10_000);
      console.log(`[unicode] plain write arrived in ${arrivedMs} ms; roots equal after ${Date.now() - started} ms`);
    });
  } finally {
    await context.close();
    await server.close();
  }
});
