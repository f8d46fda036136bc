// Node administration (`nodes.manage`): create nodes and issue, rotate and revoke agent tokens.
// Rotating a token or deleting a node ends its live agent connection at once (4401).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import Type from 'typebox'
import { CLOSE } from '../../agent-protocol/index.ts'
import type { AgentTokens } from '../agent-tokens.ts'
import { ForbiddenError, NotFoundError } from '../errors.ts'
import { principalOf } from '../plugins/auth.ts'
import { can } from '../rbac.ts'
import { Id } from '../../agent-protocol/ids.ts'

const NodeParams = Type.Object({ id: Id })
const CreateNodeBody = Type.Object({ name: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.-]+$' }) }, { additionalProperties: false })

const nodesRoutes: FastifyPluginAsyncTypebox<{ tokens: AgentTokens }> = async (app, { tokens }) => {
  const { nodes } = app.repos
  const revokeLive = (nodeId: string, reason: string) => app.agents.get(nodeId)?.close(CLOSE.UNAUTHORIZED, reason)

  app.addHook('preHandler', async (request: FastifyRequest) => {
    if (!can(principalOf(request), 'nodes.manage')) throw new ForbiddenError('permission nodes.manage is required')
  })

  app.get('/api/nodes', async () => ({ items: await nodes.list(), next: null }))

  app.post('/api/nodes', { schema: { body: CreateNodeBody } }, async (request, reply) => {
    const node = await nodes.create(request.body.name)
    return await reply.code(201).send({ node, agentToken: await tokens.issue({ nodeId: node.id, version: node.tokenVersion }) })
  })

  app.post('/api/nodes/:id/token', { schema: { params: NodeParams } }, async (request, reply) => {
    const node = await nodes.rotateToken(request.params.id)
    if (node === null) throw new NotFoundError('node not found')
    revokeLive(node.id, 'agent token rotated')
    return await reply.code(201).send({ agentToken: await tokens.issue({ nodeId: node.id, version: node.tokenVersion }) })
  })

  app.delete('/api/nodes/:id', { schema: { params: NodeParams } }, async (request, reply) => {
    await nodes.delete(request.params.id)
    revokeLive(request.params.id, 'node deleted')
    return await reply.code(204).send()
  })
}

export default nodesRoutes
