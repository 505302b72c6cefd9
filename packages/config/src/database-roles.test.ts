import { asServiceRole } from './database-roles';

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
