import { randomBytes } from 'node:crypto';
import { Database, type Tx } from '@orrange/db';
import { createTestDatabase, type TestDatabase } from '@orrange/testing';
import { open, parseEncryptionKeyring, resealColumn, seal, type EncryptionKeyring, type SealedColumn } from '../src';

const key = () => randomBytes(32).toString('base64');
const aad = (id: string) => `note:${id}`;

interface NoteRow {
  cursor: string;
  id: string;
  body: string | null;
  key_id: string | null;
  iv: Buffer | null;
  tag: Buffer | null;
  ciphertext: Buffer | null;
}

/** A sealed column as a service describes one: plaintext rows from before encryption have body and no key_id. */
const notes: SealedColumn<NoteRow> = {
  name: 'svc.notes.body',
  stale: (tx: Tx, activeKid, after, limit) =>
    tx.query<NoteRow>(
      `SELECT id AS cursor, id, body, key_id, iv, tag, ciphertext FROM notes
        WHERE key_id IS DISTINCT FROM $1 AND ($2::text IS NULL OR id > $2) ORDER BY id LIMIT $3 FOR UPDATE`,
      [activeKid, after, limit],
    ),
  async reseal(tx, keyring, row) {
    const plaintext =
      row.key_id === null
        ? row.body!
        : open(keyring, { keyId: row.key_id, iv: row.iv!, tag: row.tag!, ciphertext: row.ciphertext! }, aad(row.id));
    const s = seal(keyring, plaintext, aad(row.id));
    await tx.query('UPDATE notes SET body = NULL, key_id = $2, iv = $3, tag = $4, ciphertext = $5 WHERE id = $1', [
      row.id,
      s.keyId,
      s.iv,
      s.tag,
      s.ciphertext,
    ]);
  },
};

async function readAll(db: Database, keyring: EncryptionKeyring): Promise<string[]> {
  const rows = await db.query<NoteRow>('SELECT id, body, key_id, iv, tag, ciphertext FROM notes ORDER BY id');
  return rows.map((r) =>
    r.key_id === null
      ? r.body!
      : open(keyring, { keyId: r.key_id, iv: r.iv!, tag: r.tag!, ciphertext: r.ciphertext! }, aad(r.id)),
  );
}

describe('resealColumn', () => {
  let testDb: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = new Database({ url: testDb.url, name: 'secrets-test', schema: 'svc', healthIntervalMs: 0 });
    await db.query('CREATE SCHEMA svc');
    await db.query(
      'CREATE TABLE notes (id text PRIMARY KEY, body text, key_id text, iv bytea, tag bytea, ciphertext bytea)',
    );
  });

  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });

  it('when the keys rotate, then every row (plaintext ones too) is sealed under the active key in batches, once, and reads without the old key', async () => {
    const oldKey = key();
    const before = parseEncryptionKeyring(`k1:${oldKey}`);
    const texts = Array.from({ length: 7 }, (_, i) => `note ${i}: IBAN DE89 3704 0044 0532 0130 0${i}`);
    for (const [i, text] of texts.entries()) {
      const id = `n${i}`;
      if (i < 2) {
        await db.query('INSERT INTO notes (id, body) VALUES ($1, $2)', [id, text]);
      } else {
        const s = seal(before, text, aad(id));
        await db.query('INSERT INTO notes (id, key_id, iv, tag, ciphertext) VALUES ($1, $2, $3, $4, $5)', [
          id,
          s.keyId,
          s.iv,
          s.tag,
          s.ciphertext,
        ]);
      }
    }

    const newKey = key();
    const rotated = parseEncryptionKeyring(`k2:${newKey},k1:${oldKey}`);
    expect(await readAll(db, rotated)).toEqual(texts);

    expect(await resealColumn(db, rotated, notes, 3)).toEqual({ name: 'svc.notes.body', resealed: 7, failed: 0 });
    expect(await db.query('SELECT DISTINCT key_id, body FROM notes')).toEqual([{ key_id: 'k2', body: null }]);
    const retired = parseEncryptionKeyring(`k2:${newKey}`);
    expect(await readAll(db, retired)).toEqual(texts);
    expect(await resealColumn(db, rotated, notes, 3)).toEqual({ name: 'svc.notes.body', resealed: 0, failed: 0 });
  });

  it('when a row cannot be opened, then it is counted and skipped and the rows behind it are still resealed', async () => {
    await db.query('TRUNCATE notes');
    const lost = parseEncryptionKeyring(`gone:${key()}`);
    const s = seal(lost, 'sealed under a key nobody has', aad('a'));
    await db.query('INSERT INTO notes (id, key_id, iv, tag, ciphertext) VALUES ($1, $2, $3, $4, $5)', [
      'a',
      s.keyId,
      s.iv,
      s.tag,
      s.ciphertext,
    ]);
    await db.query('INSERT INTO notes (id, body) VALUES ($1, $2), ($3, $4)', ['b', 'plain b', 'c', 'plain c']);

    const keyring = parseEncryptionKeyring(`k3:${key()}`);
    const report = await resealColumn(db, keyring, notes, 1);
    expect(report).toMatchObject({ resealed: 2, failed: 1 });
    expect(report.firstFailure).toMatch(/^a: unknown encryption key id "gone"/);
    expect(await db.query('SELECT id, key_id FROM notes ORDER BY id')).toEqual([
      { id: 'a', key_id: 'gone' },
      { id: 'b', key_id: 'k3' },
      { id: 'c', key_id: 'k3' },
    ]);
  });
});
