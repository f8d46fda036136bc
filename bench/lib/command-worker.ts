// A load-generator process for the command benchmarks: holds a slice of the agents (the
// simulator's agent client, answering every command at once) and sends POST .../actions for the
// servers of its slice, open loop at a rate with a bound on requests in flight. Several run at
// once (bench/command-throughput.ts): agents and HTTP load in one process saturate its core long
// before the hub does. Reports its own CPU time, so a saturated generator shows in the result.
import http from 'node:http'
import { performance } from 'node:perf_hooks'
import { createAgentClient, type AgentClient } from '../../agent-simulator/agent-client.ts'
import { serve } from './rpc.ts'

interface Setup { url: string, token: string, nodes: Array<{ agentToken: string, servers: string[] }> }

let setup: Setup
const agents: AgentClient[] = []
let servers: string[] = []
let commands = 0
let counts = { accepted: 0, conflicts: 0, other: 0, skipped: 0 }
let inFlight = 0
const BODY = Buffer.from('{"action":"RESTART"}')

const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6 }

// node:http with a keep-alive agent: fetch (undici's WHATWG layer) costs several times the CPU per
// request, and this process must not be what limits the run.
let agent: http.Agent

function post (serverId: string): void {
  inFlight++
  const done = (kind: 'accepted' | 'conflicts' | 'other') => { counts[kind]++; inFlight-- }
  const req = http.request(`${setup.url}/api/servers/${serverId}/actions`, {
    method: 'POST',
    agent,
    headers: { authorization: `Bearer ${setup.token}`, 'content-type': 'application/json', 'content-length': BODY.length }
  }, res => {
    res.resume()
    res.on('end', () => done(res.statusCode === 202 ? 'accepted' : res.statusCode === 409 ? 'conflicts' : 'other'))
    res.on('error', () => done('other'))
  })
  req.on('error', () => done('other'))
  req.end(BODY)
}

serve({
  async connect (arg: Setup & { sockets: number }) {
    setup = arg
    agent = new http.Agent({ keepAlive: true, maxSockets: arg.sockets })
    const ws = arg.url.replace('http', 'ws') + '/agent/v1'
    for (let i = 0; i < arg.nodes.length; i += 50) {
      const slice = arg.nodes.slice(i, i + 50).map(node => createAgentClient({
        url: ws,
        token: node.agentToken,
        servers: node.servers.map(serverId => ({ serverId, status: 'STOPPED' as const, seq: 0 })),
        onCommand: () => { commands++; return { ok: true } }
      }))
      await Promise.all(slice.map(async a => await a.connect()))
      agents.push(...slice)
    }
    servers = arg.nodes.flatMap(n => n.servers)
    return agents.length
  },
  /** Sends at `perSecond` for `seconds` over this slice's servers (round robin), at most `maxInFlight` at once. */
  async run (arg: { perSecond: number, seconds: number, maxInFlight: number }) {
    counts = { accepted: 0, conflicts: 0, other: 0, skipped: 0 }
    commands = 0
    const cpu0 = cpu()
    const start = performance.now()
    const total = Math.round(arg.perSecond * arg.seconds)
    let sent = 0
    while (sent < total) {
      const due = Math.min(total, Math.floor((performance.now() - start) / 1000 * arg.perSecond) + 1)
      while (sent < due) {
        if (inFlight >= arg.maxInFlight) counts.skipped++
        else post(servers[sent % servers.length] as string)
        sent++
      }
      await new Promise(resolve => setTimeout(resolve, 1))
    }
    const sendSeconds = (performance.now() - start) / 1000
    const busy = () => inFlight > 0
    while (busy()) await new Promise(resolve => setTimeout(resolve, 5))
    return { ...counts, sendSeconds, cpuSeconds: cpu() - cpu0 }
  },
  /** Commands received and CPU seconds so far. */
  read () { return { commands, cpuSeconds: cpu() } },
  async close () {
    await Promise.all(agents.map(async a => { await a.close() }))
    agents.length = 0
  }
})
