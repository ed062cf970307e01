import { existsSync, mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Command } from '@commander-js/extra-typings'
import { NodeIdentity } from '@ylog/core'
import { contextOf, type GlobalOptions } from '../context.js'
import { UsageError } from '../output.js'

export function localCommands(program: Command<[], GlobalOptions>): void {
  program
    .command('serve')
    .description('run a node (the daemon of npm start; `ylog serve --help` lists its options)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[options...]', 'the node options, e.g. --port 4748 --data ./b')
    .action(async (args) => {
      // The node's own entry point reads its options (settings.ts) from argv, prints its own --help, and exits itself.
      process.argv = [process.argv[0] as string, 'ylog serve', ...args]
      await import('@ylog/node/main')
    })

  program
    .command('keygen')
    .description("create a data directory's node key (node.key, mode 0600) and print the node id; refuses to replace one")
    .requiredOption('--data <dir>', 'the data directory', './.ylog')
    .action((options, command) => {
      const { out } = contextOf(command.optsWithGlobals())
      const file = join(resolve(options.data), 'node.key')
      if (existsSync(file))
        throw new UsageError(`${file} exists already: a node keeps its key for life (ylog id --data ${options.data} prints its id)`)
      mkdirSync(resolve(options.data), { recursive: true, mode: 0o700 })
      const { identity } = NodeIdentity.loadOrCreate(file)
      out.result({ node: identity.id, keyFile: file }, (r: { node: string }) => r.node)
    })

  program
    .command('id')
    .description("a data directory's node id (from its node.key)")
    .requiredOption('--data <dir>', 'the data directory', './.ylog')
    .action((options, command) => {
      const { out } = contextOf(command.optsWithGlobals())
      const file = join(resolve(options.data), 'node.key')
      if (!existsSync(file)) throw new UsageError(`${file} does not exist: is --data a node's data directory? (ylog keygen creates one)`)
      out.result({ node: NodeIdentity.load(file).id, keyFile: file }, (r: { node: string }) => r.node)
    })
}
