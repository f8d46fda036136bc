// Configuration templates (PROTOCOL.md "HTTP API" and 1.1 "Server configuration"): anyone with
// a session reads them; `servers.create` adds and changes them, since a template is what agents
// run (docs/agent.md, trust model). Every refusal of a template's content is a 400 naming the
// field (provisioning/template.ts); a change reaches the agents of every server made from it.
// A template still used by servers cannot be deleted (409 with their count).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { conflict } from '../../db/domain-errors.ts'
import { ForbiddenError, NotFoundError } from '../errors.ts'
import { principalOf } from '../plugins/auth.ts'
import { createConfigWrites } from '../provisioning/config-writes.ts'
import { TemplateFields } from '../provisioning/schemas.ts'
import { can } from '../rbac.ts'

const AltParams = Type.Object({ id: Type.String({ format: 'uuid' }) })

const { name, image, startup, stop, doneRegex, install, variables } = TemplateFields

const CreateAltBody = Type.Object({
  name,
  image,
  startup,
  stop: Type.Optional(stop),
  doneRegex: Type.Optional(doneRegex),
  install: Type.Optional(install),
  variables: Type.Optional(variables)
}, { additionalProperties: false })

const PatchAltBody = Type.Partial(CreateAltBody, { additionalProperties: false, minProperties: 1 })

const altsRoutes: FastifyPluginAsyncTypebox = async app => {
  const { alts } = app.repos
  const writes = createConfigWrites(app.db.prisma, app.repos)

  const mayWrite = (request: Parameters<typeof principalOf>[0]) => {
    if (!can(principalOf(request), 'servers.create')) throw new ForbiddenError('permission servers.create is required')
  }

  app.get('/api/alts', async () => ({ items: await alts.list(), next: null }))

  app.get('/api/alts/:id', { schema: { params: AltParams } }, async request => {
    const alt = await alts.get(request.params.id)
    if (alt === null) throw new NotFoundError('alt not found')
    return alt
  })

  app.post('/api/alts', { schema: { body: CreateAltBody } }, async (request, reply) => {
    mayWrite(request)
    return await reply.code(201).send(await writes.createAlt(request.body))
  })

  app.patch('/api/alts/:id', { schema: { params: AltParams, body: PatchAltBody } }, async request => {
    mayWrite(request)
    const alt = await writes.updateAlt(request.params.id, request.body)
    if (alt === null) throw new NotFoundError('alt not found')
    return alt
  })

  app.delete('/api/alts/:id', { schema: { params: AltParams } }, async (request, reply) => {
    mayWrite(request)
    const used = await alts.serverCount(request.params.id)
    if (used > 0) throw conflict(`${used} server${used === 1 ? ' is' : 's are'} still made from this template: delete them first`, { servers: used })
    if (!await alts.delete(request.params.id)) throw new NotFoundError('alt not found')
    return await reply.code(204).send()
  })
}

export default altsRoutes
