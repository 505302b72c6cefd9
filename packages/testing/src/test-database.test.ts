import pg from 'pg';
import { createTestDatabase, dropTestDatabase } from './test-database';

describe('test databases', () => {
  it('when created, then the database exists with "test" in its name, and drop removes it', async () => {
    const db = await createTestDatabase();
    expect(db.name).toContain('test');
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    expect((await client.query('SELECT current_database() AS name')).rows[0].name).toBe(db.name);
    await client.end();
    await db.drop();
  });

  it('when asked to drop a database without "test" in its name, then it refuses', async () => {
    await expect(dropTestDatabase('orrange')).rejects.toThrow(/refusing/);
  });
});
