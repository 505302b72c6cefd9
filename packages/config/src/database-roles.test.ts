import { assertNoDevSecrets } from '.';
import { asMigrationRole, asServiceRole, DATABASE_ROLES, rolePasswordsFrom } from './database-roles';

describe('asServiceRole', () => {
  it("when a service's URL is made from DATABASE_URL, then only the user and password change, every host kept", () => {
    expect(
      asServiceRole('postgresql://postgres:secret@db:5432/orrange?sslmode=verify-full', 'order-book', 'p@ss'),
    ).toBe('postgresql://orrange_order_book:p%40ss@db:5432/orrange?sslmode=verify-full');
    expect(asServiceRole('postgresql://postgres@db-a:5432,db-b:5433/orrange', 'user', 'pw')).toBe(
      'postgresql://orrange_user:pw@db-a:5432,db-b:5433/orrange',
    );
    expect(asServiceRole('postgresql://postgres:5432/orrange', 'dispute', 'pw')).toBe(
      'postgresql://orrange_dispute:pw@postgres:5432/orrange',
    );
  });
});

describe('the migration role', () => {
  it('when the db commands connect to DATABASE_URL to migrate, then they connect as orrange_migrator with its password', () => {
    const url = 'postgresql://postgres:admin@db-a:5432,db-b:5433/orrange?sslmode=verify-full';
    expect(asMigrationRole(url, { MIGRATOR_DB_PASSWORD: 's3cret/' })).toBe(
      'postgresql://orrange_migrator:s3cret%2F@db-a:5432,db-b:5433/orrange?sslmode=verify-full',
    );
    expect(asMigrationRole(url, {})).toBe(
      'postgresql://orrange_migrator:orrange_migrator-dev-password@db-a:5432,db-b:5433/orrange?sslmode=verify-full',
    );
  });

  it('when production keeps the development password of the migration role, then it is refused, as for every service role', () => {
    const production = { NODE_ENV: 'production' };
    expect(() =>
      assertNoDevSecrets({ ...production, MIGRATOR_DB_PASSWORD: rolePasswordsFrom({}).orrange_migrator }),
    ).toThrow(/MIGRATOR_DB_PASSWORD/);
    expect(() => assertNoDevSecrets({ ...production, MIGRATOR_DB_PASSWORD: 'm'.repeat(32) })).not.toThrow();
    expect(DATABASE_ROLES.map((r) => r.dbRole)).toEqual([
      'orrange_user',
      'orrange_order_book',
      'orrange_trade',
      'orrange_dispute',
      'orrange_migrator',
    ]);
  });
});
