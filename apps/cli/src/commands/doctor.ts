import { Option, type Command } from '@commander-js/extra-typings'
import { contextOf, type GlobalOptions } from '../context.js'
import { checkDirectory } from '../doctor/data-dir.js'
import { verdict, type Finding } from '../doctor/finding.js'
import { checkNode } from '../doctor/node.js'
import { EXIT, type Output } from '../output.js'

const EXIT_OF = { healthy: EXIT.OK, warnings: EXIT.WARNINGS, problems: EXIT.FAILED } as const

export function doctorCommands(program: Command<[], GlobalOptions>): void {
  program
    .command('doctor')
    .description('check a data directory (--data) and/or a running node (--url), and say what to do about each finding')
    .option('--data <dir>', "a node's data directory: file modes, lock, free disk against growth, the store (when the node is stopped)")
    .option('--deep', 'with --data and a stopped node: the full integrity check (SQLite, checksums, every chain from seq 0)')
    .option('--node', 'check the running node at --url too when --data is given (without --data it is always checked)')
    .addOption(new Option('--format <format>', 'text or json (default text; --json means json)').choices(['text', 'json'] as const))
    .addHelpText(
      'after',
      `
Node checks: readiness, membership against peers and held nodes, peers unreachable or silent,
holes, forks, clock skew (the node against this machine, every node's newest entry against now,
ylog_clock_offset_seconds), the last replay time.
Exit 0: healthy. 4: warnings only. 1: problems. 2: usage error.`,
    )
    .action(async (options, command) => {
      const globals = command.optsWithGlobals()
      const json = options.format === 'json' || (options.format === undefined && globals.json === true)
      const { out } = contextOf({ ...globals, json })
      const findings: Finding[] = []
      if (options.data !== undefined) findings.push(...(await checkDirectory(options.data, options.deep === true)))
      if (options.data === undefined || options.node === true) findings.push(...(await checkNode(globals)))
      const status = verdict(findings)
      out.result({ status, findings }, (r: { status: string; findings: Finding[] }) => text(out, r.status, r.findings))
      process.exitCode = EXIT_OF[status]
    })
}

function text(out: Output, status: string, findings: readonly Finding[]): string {
  const mark = { ok: 'ok     ', warning: 'WARNING', problem: 'PROBLEM' } as const
  const lines = findings.map((f) => {
    const line = `${mark[f.level]} ${f.check}: ${f.message}${f.advice === undefined ? '' : `\n        → ${f.advice}`}`
    return f.level === 'problem' ? out.red(line) : f.level === 'ok' ? out.dim(line) : line
  })
  return [...lines, `doctor: ${status}`].join('\n')
}
