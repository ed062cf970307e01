// The READMEs' code blocks, read at test time so the tests follow the text.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from './node-process.js'

/** The READMEs a newcomer reads, relative to the repository root. */
export const READMES = [
  'README.md',
  'apps/node/README.md',
  'packages/core/README.md',
  'packages/sqlite/README.md',
  'packages/client/README.md',
  'packages/context/README.md',
] as const

export interface Block {
  /** README path relative to the repository root. */
  file: string
  /** 1-based line of the opening fence, to find the block from a failure. */
  line: number
  code: string
}

/** Every fenced block of one language (```ts, ```sh …) in a README, in order. */
export function blocks(file: string, lang: string): Block[] {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n')
  const found: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== `\`\`\`${lang}`) continue
    const end = lines.indexOf('```', i + 1)
    if (end < 0) throw new Error(`${file}:${i + 1}: a \`\`\`${lang} block that never ends`)
    found.push({ file, line: i + 1, code: `${lines.slice(i + 1, end).join('\n')}\n` })
    i = end
  }
  return found
}

/** Shell commands of the sh blocks: comment lines dropped, backslash continuations joined. */
export function commands(block: Block): string[] {
  const out: string[] = []
  let pending = ''
  for (const raw of block.code.split('\n')) {
    const line = pending === '' ? raw.trim() : `${pending} ${raw.trim()}`
    if (line.endsWith('\\')) {
      pending = line.slice(0, -1).trimEnd()
      continue
    }
    pending = ''
    if (line !== '' && !line.startsWith('#')) out.push(line)
  }
  return out
}

/** An environment with nothing of the test runner's in it (no NODE_OPTIONS, no conditions): a newcomer's shell. */
export function plainEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG']) if (process.env[key] !== undefined) env[key] = process.env[key]
  return env
}
