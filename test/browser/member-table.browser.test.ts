/** The member table in Chromium: what a restarted tab shows before its peers answer. */
import { describe, expect, it } from 'vitest';
import type { Member } from '../../src/core/types.js';
import '../../src/ui/member-table.js';

function member(id: string, state: Member['state']): Member {
  return { id, state, incarnation: 0, lastHeardAt: 0, stateChangedAt: 0 };
}

async function table(members: Member[], countedTotal: number | undefined) {
  const element = document.createElement('engram-member-table');
  element.members = members;
  element.selfId = 'me';
  element.countedTotal = countedTotal;
  document.body.append(element);
  await element.updateComplete;
  return element;
}

describe('engram-member-table', () => {
  it('says how many members seen before a restart have not answered, which have no row', async () => {
    const element = await table([member('me', 'alive')], 3);
    const note = element.shadowRoot!.querySelector('[data-testid="members-unheard"]');
    expect(note?.textContent).toContain('+ 2 members this tab saw before it restarted');
    expect(element.shadowRoot!.querySelectorAll('tbody tr')).toHaveLength(1);
    element.remove();
  });

  it('says nothing when every counted member has a row (left ones are not counted)', async () => {
    const element = await table([member('me', 'alive'), member('b', 'dead'), member('c', 'left')], 2);
    expect(element.shadowRoot!.querySelector('[data-testid="members-unheard"]')).toBeNull();
    element.remove();
  });
});
