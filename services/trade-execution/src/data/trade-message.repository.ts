import type { SqlRunner } from '@orrange/db';
import { open, seal, type EncryptionKeyring, type SealedColumn } from '@orrange/secrets';
import type { TradeMessage } from '../domain/trade';

/** A row as stored: sealed (key_id, iv, tag, ciphertext), or plaintext in body when written before sealing. */
interface MessageRow {
  id: string;
  seq: string;
  trade_id: string;
  sender_id: string;
  body: string | null;
  key_id: string | null;
  iv: Buffer | null;
  tag: Buffer | null;
  ciphertext: Buffer | null;
  created_at: Date;
}

const COLUMNS = 'id, seq::text, trade_id, sender_id, body, key_id, iv, tag, ciphertext, created_at';

/** Binds a message's ciphertext to its trade and id: a row's sealed body cannot be moved to another message. */
const messageAad = (tradeId: string, id: string) => `trade-message:v1:${tradeId}:${id}`;

function bodyOf(keyring: EncryptionKeyring, row: MessageRow): string {
  if (row.key_id === null) return row.body!;
  return open(
    keyring,
    { keyId: row.key_id, iv: row.iv!, tag: row.tag!, ciphertext: row.ciphertext! },
    messageAad(row.trade_id, row.id),
  );
}

const toMessage = (keyring: EncryptionKeyring, row: MessageRow): TradeMessage => ({
  id: row.id,
  seq: row.seq,
  tradeId: row.trade_id,
  senderId: row.sender_id,
  body: bodyOf(keyring, row),
  createdAt: row.created_at,
});

export async function insertMessage(
  tx: SqlRunner,
  keyring: EncryptionKeyring,
  m: { id: string; tradeId: string; senderId: string; body: string },
): Promise<TradeMessage> {
  const s = seal(keyring, m.body, messageAad(m.tradeId, m.id));
  const [row] = await tx.query<MessageRow>(
    `INSERT INTO trade_messages (id, trade_id, sender_id, key_id, iv, tag, ciphertext) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
    [m.id, m.tradeId, m.senderId, s.keyId, s.iv, s.tag, s.ciphertext],
  );
  return {
    id: row!.id,
    seq: row!.seq,
    tradeId: row!.trade_id,
    senderId: row!.sender_id,
    body: m.body,
    createdAt: row!.created_at,
  };
}

/** A trade's messages in order of writing after `afterSeq`. The ORDER BY names the table column: a bare `seq` is the text output column. */
export async function listMessagesAfter(
  db: SqlRunner,
  keyring: EncryptionKeyring,
  tradeId: string,
  afterSeq: string | null,
  limit: number,
): Promise<TradeMessage[]> {
  const rows = await db.query<MessageRow>(
    `SELECT ${COLUMNS} FROM trade_messages WHERE trade_id = $1 AND ($2::bigint IS NULL OR trade_messages.seq > $2::bigint) ORDER BY trade_messages.seq LIMIT $3`,
    [tradeId, afterSeq, limit],
  );
  return rows.map((row) => toMessage(keyring, row));
}

export async function countMessages(tx: SqlRunner, tradeId: string): Promise<number> {
  const [row] = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM trade_messages WHERE trade_id = $1', [
    tradeId,
  ]);
  return row!.n;
}

/** For pnpm secrets:reencrypt: every message not sealed under the active key, plaintext ones included, by seq. */
export const sealedMessages: SealedColumn<MessageRow & { cursor: string }> = {
  name: 'trade.trade_messages',
  stale: (tx, activeKid, after, limit) =>
    tx.query(
      `SELECT seq::text AS cursor, ${COLUMNS} FROM trade_messages
        WHERE key_id IS DISTINCT FROM $1 AND ($2::bigint IS NULL OR trade_messages.seq > $2::bigint)
        ORDER BY trade_messages.seq LIMIT $3 FOR UPDATE`,
      [activeKid, after, limit],
    ),
  async reseal(tx, keyring, row) {
    const s = seal(keyring, bodyOf(keyring, row), messageAad(row.trade_id, row.id));
    await tx.query(
      'UPDATE trade_messages SET body = NULL, key_id = $2, iv = $3, tag = $4, ciphertext = $5 WHERE id = $1',
      [row.id, s.keyId, s.iv, s.tag, s.ciphertext],
    );
  },
};
