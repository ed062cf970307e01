import { Command, CommanderError, Option } from '@commander-js/extra-typings'
import { DEFAULT_URL } from '@ylog/client'
import { contextCommands } from './commands/context.js'
import { doctorCommands } from './commands/doctor.js'
import { forwardCommands } from './commands/forward.js'
import { localCommands } from './commands/local.js'
import { readCommands } from './commands/read.js'
import { statusCommands } from './commands/status.js'
import { tailCommands } from './commands/tail.js'
import { transferCommands } from './commands/transfer.js'
import { verifyCommands } from './commands/verify.js'
import { writeCommands } from './commands/write.js'
import { EXIT, Output, UsageError } from './output.js'

const EXIT_CODES = `
Exit codes:
  0    done (verify: intact; doctor: healthy)
  1    failed: the node refused the request, or verify/doctor found damage or problems
  2    usage error: an unknown command or option, or a malformed value
  3    the node could not be reached or did not answer in time (a retry may help)
  4    doctor found warnings only
  130  interrupted
  141  whoever read the output stopped reading (ylog read | head): as a Unix tool stopped by SIGPIPE
With --json every result is one JSON object per line on stdout, errors included: {"error":{"code","message"}}.
NO_COLOR (any value) turns colour off; so does output that is not a terminal.`

export function buildProgram(): Command<[], { url: string; token?: string; json?: true }> {
  const program = new Command('ylog')
    .description('the ylog command-line tool: append, read, follow, verify, export and inspect a ylog node')
    .addOption(new Option('--url <url>', 'the node').env('YLOG_URL').default(DEFAULT_URL))
    .addOption(new Option('--token <token>', 'bearer token for a node with --write-token or --read-token').env('YLOG_TOKEN'))
    .option('--json', 'one JSON object per line on stdout, errors included')
    .addHelpText('after', EXIT_CODES)
    .showHelpAfterError('(ylog --help lists the commands and options)')
    .exitOverride()
  writeCommands(program)
  readCommands(program)
  statusCommands(program)
  verifyCommands(program)
  transferCommands(program)
  doctorCommands(program)
  localCommands(program)
  contextCommands(program)
  tailCommands(program)
  forwardCommands(program)
  return program
}

export async function run(argv: readonly string[]): Promise<number> {
  const program = buildProgram()
  for (const command of program.commands) command.exitOverride()
  const json = argv.includes('--json')
  try {
    process.exitCode = undefined
    await program.parseAsync([...argv], { from: 'user' })
    // Commands that end with a verdict (verify, doctor) set process.exitCode.
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end through here with exit code 0; usage mistakes were printed by commander.
      if (err.exitCode === 0) return EXIT.OK
      if (json) new Output({ json }).fail(new UsageError(err.message.replace(/^error: /, '')))
      return EXIT.USAGE
    }
    return new Output({ json }).fail(err)
  }
}
