import type { Nodes, SeqRange } from '@ylog/client'
import { client, getText } from './api.js'
import { refusedByReason } from './metrics.js'
import { usePoll } from './poll.js'
import { NotLoaded } from './token.js'
import { Short, Time } from './time.js'

export function ranges(list: readonly SeqRange[]): string {
  return list.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}–${r.to}`)).join(', ')
}

async function load(): Promise<{ nodes: Nodes; refused: Array<{ reason: string; count: number }> }> {
  const [nodes, metrics] = await Promise.all([client().nodes(), getText('/metrics').catch(() => '')])
  return { nodes, refused: refusedByReason(metrics) }
}

/** Every node this node knows, its peers and connections, and the updates it refused. */
export function NodesPage() {
  const loaded = usePoll(load, 1000)
  if (loaded.state !== 'ok') return <NotLoaded loaded={loaded} />
  const { nodes, refused } = loaded.value
  const member = (id: string): string => (nodes.membership.mode === 'open' ? 'open' : nodes.membership.members.includes(id) ? 'yes' : 'no')
  return (
    <section aria-labelledby="nodes-title">
      <h1 id="nodes-title">Nodes</h1>
      <p>
        This node <Short hex={nodes.self} n={16} /> in cluster <strong>{nodes.cluster}</strong>
        {`, membership ${nodes.membership.mode}. Updated `}
        <Time ms={loaded.at} />.
      </p>
      <div class="scroll">
        <table class="nodes">
          <caption>Heads as this node holds them</caption>
          <thead>
            <tr>
              <th scope="col">node</th>
              <th scope="col">length</th>
              <th scope="col">last hash</th>
              <th scope="col">last append</th>
              <th scope="col">holes</th>
              <th scope="col">forked</th>
              <th scope="col">gap entries</th>
              <th scope="col">member</th>
            </tr>
          </thead>
          <tbody>
            {nodes.nodes.map((n) => (
              <tr key={n.node} data-node={n.node} class={n.holes.length > 0 || n.forked ? 'warn' : ''}>
                <th scope="row">
                  <Short hex={n.node} />
                  {n.node === nodes.self ? ' (self)' : ''}
                </th>
                <td class="num">{n.length}</td>
                <td>
                  <Short hex={n.hash} />
                </td>
                <td>
                  <Time ms={n.at} />
                </td>
                <td data-holes={n.holes.length}>{n.holes.length === 0 ? 'none' : <mark>{ranges(n.holes)}</mark>}</td>
                <td>{n.forked ? <mark>forked</mark> : 'no'}</td>
                <td class="num">{n.gaps}</td>
                <td>{member(n.node)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div class="scroll">
        <table class="peers">
          <caption>Peers this node dials</caption>
          <thead>
            <tr>
              <th scope="col">url</th>
              <th scope="col">state</th>
              <th scope="col">node</th>
              <th scope="col">last message</th>
              <th scope="col">lag</th>
            </tr>
          </thead>
          <tbody>
            {nodes.peers.length === 0 && (
              <tr>
                <td colSpan={5} class="muted">
                  no --peer configured
                </td>
              </tr>
            )}
            {nodes.peers.map((p) => (
              <tr key={p.url} data-peer={p.url} class={p.lag > 0 || p.state !== 'open' ? 'warn' : ''}>
                <th scope="row">
                  <code>{p.url}</code>
                </th>
                <td>{p.state}</td>
                <td>{p.node === null ? '–' : <Short hex={p.node} />}</td>
                <td>
                  <Time ms={p.lastMessageAt} />
                </td>
                <td class="num" data-lag={p.lag}>
                  {p.lag}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div class="scroll">
        <table>
          <caption>Connections accepted on /sync</caption>
          <thead>
            <tr>
              <th scope="col">from</th>
              <th scope="col">node</th>
              <th scope="col">last message</th>
              <th scope="col">in</th>
              <th scope="col">out</th>
            </tr>
          </thead>
          <tbody>
            {nodes.connections.length === 0 && (
              <tr>
                <td colSpan={5} class="muted">
                  none
                </td>
              </tr>
            )}
            {nodes.connections.map((c, i) => (
              <tr key={i}>
                <th scope="row">{c.remoteAddress ?? '–'}</th>
                <td>{c.node === null ? 'read-only follower' : <Short hex={c.node} />}</td>
                <td>
                  <Time ms={c.lastMessageAt} />
                </td>
                <td class="num">{c.messagesIn}</td>
                <td class="num">{c.messagesOut}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>Refused updates</h2>
      {refused.length === 0 ? (
        <p class="muted">None since this node started (ylog_refused_updates_total).</p>
      ) : (
        <ul>
          {refused.map((r) => (
            <li key={r.reason}>
              <code>{r.reason}</code>: {r.count}
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}
