import type { Command } from '@commander-js/extra-typings'
import type { AckOptions, Consumer, EntryKind, Heads, Nodes, TopicView } from '@ylog/client'
import { contextOf, type GlobalOptions } from '../context.js'
import { UsageError } from '../output.js'
import { kindOption } from './read.js'

export function statusCommands(program: Command<[], GlobalOptions>): void {
  program
    .command('heads')
    .description("each node's committed length, last hash and time, holes and gap entries")
    .action(async (_options, command) => {
      const { out, client } = contextOf(command.optsWithGlobals())
      const heads = await client.heads()
      out.result(
        heads,
        (h: Heads) =>
          h.heads
            .map(
              (head) =>
                `${head.node} ${head.length} ${head.hash.slice(0, 16)} ${new Date(head.at).toISOString()}` +
                `${head.forked ? ' FORKED' : ''}${head.gaps > 0 ? ` gaps=${head.gaps}` : ''}` +
                (h.holes[head.node] ?? []).map((r) => ` hole=${r.from}-${r.to}`).join(''),
            )
            .join('\n') || '(no entries)',
      )
    })

  program
    .command('nodes')
    .description('the cluster as the node sees it: membership, nodes, peers, connections')
    .action(async (_options, command) => {
      const { out, client } = contextOf(command.optsWithGlobals())
      out.result(await client.nodes(), (n: Nodes) =>
        [
          `self ${n.self} cluster ${n.cluster} membership ${n.membership.mode}`,
          ...n.nodes.map(
            (node) =>
              `node ${node.node} ${node.length}${node.forked ? ' FORKED' : ''}` +
              (node.holes.length > 0 ? ` holes=${node.holes.map((r) => `${r.from}-${r.to}`).join(',')}` : ''),
          ),
          ...n.peers.map((p) => `peer ${p.url} ${p.state}${p.node === null ? '' : ` ${p.node}`} lag=${p.lag}`),
          ...n.connections.map((c) => `connection ${c.remoteAddress ?? '?'} ${c.node ?? 'read-only'}`),
        ].join('\n'),
      )
    })

  program
    .command('topics')
    .description('each topic with its entry count and newest entry')
    .action(async (_options, command) => {
      const { out, client } = contextOf(command.optsWithGlobals())
      const topics = await client.topics()
      if (out.json) for (const topic of topics) out.result(topic)
      else
        out.result(
          topics,
          (t: TopicView[]) =>
            t.map((v) => `${v.topic} ${v.count} ${v.latest.id} ${new Date(v.latest.at).toISOString()}`).join('\n') || '(no topics)',
        )
    })

  const consumers = program.command('consumers').description("named consumers' stored cursors")
  consumers
    .command('get')
    .description("a consumer's cursor (null if never acked), last ack, topic/kind filter and how far behind it is")
    .argument('<name>', 'the consumer: 1-128 characters of A-Z a-z 0-9 . _ -')
    .action(async (name, _options, command) => {
      const { out, client } = contextOf(command.optsWithGlobals() as GlobalOptions)
      out.result(await client.consumer(name), describe)
    })
  consumers
    .command('ack')
    .description("store a consumer's cursor: forward only, unless --rewind; optionally set its topic/kind filter")
    .argument('<name>', 'the consumer')
    .argument('<cursor>', 'the "next" cursor of what it has processed')
    .option('--rewind', 'move it back on purpose')
    .option('--topic <topic>', 'from now on the consumer reads only this topic (behind counts only it)')
    .option('--kind <kind>', 'from now on the consumer reads only this kind: transition, event or gap', kindOption)
    .option('--any-topic', 'clear its topic filter')
    .option('--any-kind', 'clear its kind filter')
    .action(async (name, cursor, options, command) => {
      const { out, client } = contextOf(command.optsWithGlobals() as GlobalOptions)
      if (options.topic !== undefined && options.anyTopic === true) throw new UsageError('--topic and --any-topic exclude each other')
      if (options.kind !== undefined && options.anyKind === true) throw new UsageError('--kind and --any-kind exclude each other')
      const ack: AckOptions = { rewind: options.rewind === true }
      if (options.topic !== undefined || options.anyTopic === true) ack.topic = options.topic ?? null
      if (options.kind !== undefined || options.anyKind === true) ack.kind = (options.kind as EntryKind | undefined) ?? null
      out.result(await client.ack(name, cursor, ack), describe)
    })
}

function describe(c: Consumer): string {
  const acked = c.ackedAt === null ? '' : ` acked ${new Date(c.ackedAt).toISOString()}`
  const filter = `${c.topic === null ? '' : ` topic=${c.topic}`}${c.kind === null ? '' : ` kind=${c.kind}`}`
  return `${c.name} ${c.cursor ?? '(never acked)'} behind=${c.behind}${filter}${acked}`
}
