import { canonicalJson, GENESIS_HASH, nextEntry, verifyChain, type JournalEntry, type JournalHead } from './journal';

function chain(n: number): { entries: JournalEntry[]; head: JournalHead } {
  const entries: JournalEntry[] = [];
  let head: JournalHead = { seq: 0, hash: null };
  for (let i = 0; i < n; i++) {
    const entry = nextEntry(
      'd1',
      head,
      { action: 'EVIDENCE_ADDED', actorId: 'u1', data: { body: `entry ${i}`, n: i } },
      new Date(1_700_000_000_000 + i),
    );
    entries.push(entry);
    head = { seq: entry.seq, hash: entry.hash };
  }
  return { entries, head };
}

describe('case journal hash chain', () => {
  it('when keys come back in another order, then the canonical JSON is the same', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 'x'], c: null } })).toBe(
      canonicalJson({ a: { c: null, d: [1, 'x'] }, b: 1 }),
    );
  });

  it('when a chain is untouched, then it verifies', () => {
    const { entries, head } = chain(4);
    expect(entries[0]!.prevHash).toBe(GENESIS_HASH);
    expect(verifyChain(entries, head)).toEqual({ verified: true });
  });

  it('when an entry body is edited, then verification breaks at that entry', () => {
    const { entries, head } = chain(4);
    entries[2] = { ...entries[2]!, data: { body: 'rewritten', n: 2 } };
    expect(verifyChain(entries, head)).toEqual({ verified: false, brokenAt: 3 });
  });

  it('when an entry is removed or the tail truncated, then verification breaks', () => {
    const { entries, head } = chain(4);
    expect(verifyChain([entries[0]!, entries[2]!, entries[3]!], head)).toEqual({ verified: false, brokenAt: 2 });
    expect(verifyChain(entries.slice(0, 3), head)).toEqual({ verified: false, brokenAt: 4 });
  });

  it('when money-like floats are put in the data, then hashing refuses them', () => {
    expect(() => canonicalJson({ amount: 0.1 })).toThrow(TypeError);
  });
});
