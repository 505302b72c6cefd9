import { defineMigrationConfig } from '@orrange/db/migrations';

export default defineMigrationConfig({ schema: 'order_book' });
