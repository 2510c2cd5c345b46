/** The console in Chromium on a fake handle: editing, the match count and paging, and the status area. */
import { describe, expect, it } from 'vitest';
import type { Member } from '../../src/core/types.js';
import type { EngramApp } from '../../src/ui/engram-app.js';
import '../../src/ui/engram-app.js';
import { FakeEngramHandle, type FakeHandleOptions } from '../../src/ui/fake-handle.js';
import { RECALL_PAGE_SIZE } from '../../src/ui/recall-box.js';

const SELF = 'selfnode000000000000';

function alive(id: string): Member {
  return { id, state: 'alive', incarnation: 0, lastHeardAt: 0, stateChangedAt: 0 };
}

async function mount(options: Partial<FakeHandleOptions> = {}): Promise<{ app: EngramApp; handle: FakeEngramHandle }> {
  const handle = new FakeEngramHandle({ id: SELF, room: 'garden', generation: 1, members: [alive(SELF)], ...options });
  const app = document.createElement('engram-app');
  app.handle = handle;
  document.body.append(app);
  await app.updateComplete;
  return { app, handle };
}

/** Waits for a condition the UI reaches after its (asynchronous, throttled) re-render; fails after 5 s. */
async function until<T>(read: () => T | undefined | null | false): Promise<T> {
  const deadline = performance.now() + 5_000;
  for (;;) {
    const value = read();
    if (value) return value;
    if (performance.now() > deadline) throw new Error('the UI did not reach the expected state within 5 s');
    await new Promise((resolve) => requestAnimationFrame(resolve));
  }
}

function part(app: EngramApp, tag: string): ShadowRoot {
  return app.shadowRoot!.querySelector(tag)!.shadowRoot!;
}

async function writeThroughForm(app: EngramApp, content: string): Promise<void> {
  const form = part(app, 'engram-remember-form');
  (form.querySelector('textarea[name="content"]') as HTMLTextAreaElement).value = content;
  (form.querySelector('button[type="submit"]') as HTMLButtonElement).click();
  await until(() => form.querySelector('[data-testid="remember-saved"]'));
}

describe('engram-app on a fake handle', () => {
  it('Edit loads a memory with a visible editing state; saving writes a version of it, and the next write is a new memory', async () => {
    const { app, handle } = await mount();
    await writeThroughForm(app, 'the gate code is 4711');
    const recall = part(app, 'engram-recall-box');
    const item = await until(() => recall.querySelector('li[data-memory]'));
    const id = item.getAttribute('data-memory')!;
    (item.querySelector('button[data-action="edit"]') as HTMLButtonElement).click();
    const form = part(app, 'engram-remember-form');
    const banner = await until(() => form.querySelector('[data-testid="remember-editing"]'));
    expect(banner.textContent).toContain(`Editing ${id}`);
    expect((form.querySelector('textarea[name="content"]') as HTMLTextAreaElement).value).toBe('the gate code is 4711');

    (form.querySelector('textarea[name="content"]') as HTMLTextAreaElement).value = 'the gate code is 0815';
    (form.querySelector('button[type="submit"]') as HTMLButtonElement).click();
    await until(() => form.querySelector('[data-testid="remember-saved"]')?.textContent?.includes('new version'));
    expect(form.querySelector('[data-testid="remember-editing"]')).toBeNull();

    await writeThroughForm(app, 'the bins go out on tuesday');
    const result = await handle.recall({});
    expect(result.results.map((r) => r.content).sort()).toEqual(['the bins go out on tuesday', 'the gate code is 0815']);
    expect(result.results.find((r) => r.id === id)?.content).toBe('the gate code is 0815');
    app.remove();
  });

  it('Cancel leaves editing: the next write is a new memory', async () => {
    const { app, handle } = await mount();
    await writeThroughForm(app, 'first');
    const recall = part(app, 'engram-recall-box');
    const item = await until(() => recall.querySelector('li[data-memory]'));
    (item.querySelector('button[data-action="edit"]') as HTMLButtonElement).click();
    const form = part(app, 'engram-remember-form');
    (await until(() => form.querySelector<HTMLButtonElement>('[data-testid="remember-cancel"]'))).click();
    await until(() => form.querySelector('[data-testid="remember-editing"]') === null);
    await writeThroughForm(app, 'second');
    expect((await handle.recall({})).results).toHaveLength(2);
    app.remove();
  });

  it('the confidence slider starts at the API default, 1.00', async () => {
    const { app } = await mount();
    expect(part(app, 'engram-remember-form').querySelector('[data-testid="confidence-value"]')!.textContent).toBe('1.00');
    app.remove();
  });

  it('recall says how many memories there are and pages through all of them', async () => {
    const { app, handle } = await mount();
    const total = 2 * RECALL_PAGE_SIZE + 5;
    for (let i = 0; i < total; i++) await handle.remember({ content: `note ${i}` });
    const recall = part(app, 'engram-recall-box');
    await until(() => recall.querySelector('[data-testid="recall-summary"]')?.textContent?.includes(`${total} memories`));
    expect(recall.querySelectorAll('li[data-memory]')).toHaveLength(RECALL_PAGE_SIZE);
    recall.querySelector<HTMLButtonElement>('[data-testid="recall-more"]')!.click();
    await until(() => recall.querySelectorAll('li[data-memory]').length === 2 * RECALL_PAGE_SIZE);
    recall.querySelector<HTMLButtonElement>('[data-testid="recall-more"]')!.click();
    await until(() => recall.querySelectorAll('li[data-memory]').length === total);
    expect(recall.querySelector('[data-testid="recall-more"]')).toBeNull();
    app.remove();
  });

  it('an empty store says so, rather than "no memories match"', async () => {
    const { app } = await mount();
    const recall = part(app, 'engram-recall-box');
    const empty = await until(() => recall.querySelector('[data-testid="recall-empty"]'));
    expect(empty.textContent).toContain('No memories yet');
    app.remove();
  });

  it('the status area gives the signaling refusal and the storage problem in words', async () => {
    const { app } = await mount({
      signalingStatus: { state: 'refused', code: 'origin-not-allowed' },
      storage: { state: 'full', persisted: true, usageBytes: 50 * 1024 * 1024, quotaBytes: 50 * 1024 * 1024 },
      secureContext: false,
    });
    const status = part(app, 'engram-status-area');
    const keys = [...status.querySelectorAll('li[data-status]')].map((li) => li.getAttribute('data-status'));
    expect(keys).toEqual(['insecure-context', 'storage-full', 'signaling-refused', 'alone']);
    expect(status.querySelector('[data-status="signaling-refused"]')!.textContent).toContain('only accepts pages from the origins');
    expect(status.querySelector('[data-status="storage-full"]')!.textContent).toContain('50.0 MiB of 50.0 MiB');
    app.remove();
  });

  it('a background failure announced by the handle appears in the status area, with its count', async () => {
    const { app, handle } = await mount();
    const status = part(app, 'engram-status-area');
    handle.addProblem({ source: 'replica-fold', message: 'Could not fold the idle replica n-old into this tab: it is held open', count: 2, lastAt: 0 });
    const line = await until(() => status.querySelector('[data-status="problem-replica-fold-0"]'));
    expect(line.textContent).toContain('Merging a replica a closed tab left failed, 2 times: Could not fold the idle replica n-old into this tab: it is held open');
    app.remove();
  });
});

