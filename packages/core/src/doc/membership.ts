import { YlogError } from '../errors.js'
import { clientIdOf, isNodeId, type NodeId } from '../entry/identity.js'

/** Which node keys may write to the log. Checked for every incoming struct. */
export interface Membership {
  isMember(node: NodeId): boolean
  /** For status pages: 'open' admits any key, 'list' only the listed ones. */
  describe(): { mode: 'open' } | { mode: 'list'; members: NodeId[] }
}

/** Any Ed25519 key may write (each only its own part). For tests and closed networks. */
export const openMembership: Membership = {
  isMember: () => true,
  describe: () => ({ mode: 'open' }),
}

/** Only the listed keys may write. Refuses lists whose keys share a Yjs client id. */
export function memberList(nodes: Iterable<NodeId>): Membership {
  const members = new Set<NodeId>()
  const clients = new Map<number, NodeId>()
  for (const node of nodes) {
    if (!isNodeId(node))
      throw new YlogError('BAD_KEY', `member ${JSON.stringify(node)} is not a node id (64 lowercase hex digits of an Ed25519 public key)`)
    const client = clientIdOf(node)
    const other = clients.get(client)
    if (other !== undefined && other !== node) {
      throw new YlogError(
        'BAD_KEY',
        `members ${other} and ${node} map to the same Yjs client id ${client}; generate a new key for one of them`,
      )
    }
    clients.set(client, node)
    members.add(node)
  }
  const list = [...members].sort()
  return {
    isMember: (node) => members.has(node),
    describe: () => ({ mode: 'list', members: list }),
  }
}
