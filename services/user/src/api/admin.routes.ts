import type { Router } from 'express';
import { pageQuery, parse, readPage, requireRole, serviceRouter } from '@orrange/http';
import { listAudit } from '../data/audit.repository';
import type { Deps } from '../domain/deps';
import { changeRoles, changeStatus } from '../domain/users.use-case';
import { auditContext, requireSession } from './request';
import { auditOrder, rolesBody, statusBody } from './schemas';

export function adminRouter(deps: Deps): Router {
  const router = serviceRouter();
  const admin = [requireRole('admin'), requireSession];

  router.patch('/api/v1/admin/users/:id/roles', ...admin, async (req, res) => {
    const { roles } = parse(rolesBody, req.body);
    res.json(await changeRoles(deps, String(req.params.id), roles, auditContext(req)));
  });

  router.patch('/api/v1/admin/users/:id/status', ...admin, async (req, res) => {
    const { status } = parse(statusBody, req.body);
    res.json(await changeStatus(deps, String(req.params.id), status, auditContext(req)));
  });

  // The audit log. Also under /admin/users/ so the gateway's existing route reaches it.
  router.get(['/api/v1/admin/audit', '/api/v1/admin/users/audit'], ...admin, async (req, res) => {
    res.json(
      await readPage(auditOrder, parse(pageQuery, req.query), (before, rowsMax) =>
        deps.store.query((db) => listAudit(db, rowsMax, before?.id)),
      ),
    );
  });

  return router;
}
