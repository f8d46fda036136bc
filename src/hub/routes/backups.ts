// Backups (ADMIN only; docs/operations.md#backups): list them, start one now, verify one by restore.
// Starting and verifying answer 202 with the row at once; the work goes on in the hub, and
// GET /api/backups shows its outcome. A hub that does not own its database answers 409 with why.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import Type from 'typebox'
import type { Backup } from '../../db/backups.ts'
import { Id } from '../../agent-protocol/ids.ts'
import { ForbiddenError } from '../errors.ts'
import { principalOf } from '../plugins/auth.ts'
import { isAdmin } from '../rbac.ts'

const BackupParams = Type.Object({ id: Id })
const iso = (d: Date | null) => d === null ? null : d.toISOString()

export function backupJson (b: Backup) {
  return {
    ...b,
    startedAt: b.startedAt.toISOString(),
    finishedAt: iso(b.finishedAt),
    verifiedAt: iso(b.verifiedAt),
    prunedAt: iso(b.prunedAt),
    sizeBytes: b.sizeBytes === null ? null : Number(b.sizeBytes)
  }
}

const backupsRoutes: FastifyPluginAsyncTypebox = async app => {
  app.addHook('preHandler', async (request: FastifyRequest) => {
    if (!isAdmin(principalOf(request))) throw new ForbiddenError('only an ADMIN manages backups')
  })

  app.get('/api/backups', async () => {
    const status = app.backups.status()
    const archive = status.archive === undefined ? undefined : { ...status.archive, lastArchivedAt: status.archive.lastArchivedAt?.toISOString() }
    return { items: (await app.backups.list()).map(backupJson), status: { ...status, archive } }
  })

  app.post('/api/backups', async (request, reply) => {
    return await reply.code(202).send(backupJson(await app.backups.start()))
  })

  app.post('/api/backups/:id/verify', { schema: { params: BackupParams } }, async (request, reply) => {
    return await reply.code(202).send(backupJson(await app.backups.verify(request.params.id)))
  })
}

export default backupsRoutes
