// A real hole on a running daemon: a node receives another node's newest
// entries before the ones they follow, sent as that node itself would
// relay them, so it holds them and knows the seqs before them exist.
import { join } from 'node:path'
import { clientIdOf, LogDoc, NodeIdentity } from '@ylog/core'
import { encodeStructGroups, entryClock } from '@ylog/core/internal'
import { authenticate, encodeSyncStep1, encodeSyncUpdate, rawClient, untilReceived, type RawClient } from '@ylog/sync/testing'
import * as Y from 'yjs'
import { getJson, waitIdentical, type ProxiedCluster } from './cluster.js'
import { postEvent } from './node-process.js'

/**
 * Member `writer` writes one entry every node gets, is then cut off from the
 * others (its proxies blackholed), and writes `held` more that only it holds
 * (topic "agents", data {step: "held-i"}). Returns its id, and how many of its
 * entries the node at `observer` holds: the first seq it does not.
 */
export async function cutOffWriter(
  cluster: ProxiedCluster,
  writer: number,
  observer: string,
  held: number,
): Promise<{ node: string; base: number }> {
  const url = cluster.urls()[writer] as string
  const { node } = await postEvent(url, { step: 'seen' }, 'agents')
  await waitIdentical(cluster.urls())
  for (const proxy of cluster.around(writer)) proxy.partition('blackhole')
  for (let i = 0; i < held; i++) await postEvent(url, { step: `held-${i}` }, 'agents')
  const { heads } = await getJson<{ heads: Array<{ node: string; length: number }> }>(`${observer}/api/heads`)
  return { node, base: heads.find((h) => h.node === node)?.length ?? 0 }
}

/**
 * Sends cluster member `writer`'s entries from `fromSeq` on to the node at
 * `target` (a URL), authenticated with the writer's own key, without the
 * entries before them. Returns the connection; close it when done.
 */
export async function sendAhead(cluster: ProxiedCluster, writer: number, target: string, fromSeq: number): Promise<RawClient> {
  const member = cluster.members[writer]
  if (member === undefined) throw new Error(`no cluster member ${writer}`)
  const identity = NodeIdentity.load(join(member.data, 'node.key'))
  const whole = await replicaOf(portOf(member.node.url))
  const newest = Y.decodeUpdate(Y.encodeStateAsUpdate(whole.doc)).structs.filter(
    (s) => s.id.client === clientIdOf(identity.id) && s.id.clock >= entryClock(fromSeq),
  )
  const client = await rawClient(portOf(target))
  if (!(await authenticate(client, identity)).ok) throw new Error(`node ${target} did not authenticate member ${writer}`)
  client.send(encodeSyncUpdate(encodeStructGroups([newest])))
  return client
}

/** Everything a node holds, read over its sync endpoint as a read-only client, into a replica (checked by the guard). */
async function replicaOf(port: number): Promise<LogDoc> {
  const client = await rawClient(port)
  const replica = new LogDoc()
  client.send(encodeSyncStep1(Y.encodeStateVector(replica.doc)))
  await untilReceived(client, () => client.messages.some((m) => m.type === 'sync-step2'), 'the catch-up')
  for (const m of client.messages) if (m.type === 'sync-step2' || m.type === 'sync-update') replica.applyRemote(m.update)
  client.ws.close()
  return replica
}

export function portOf(url: string): number {
  return Number(new URL(url).port)
}
