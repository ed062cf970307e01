import { CONFIG_FILE_SETTING, KEYS, SETTINGS, shownDefault, type Setting } from './settings.js'

const INDENT = 27
const WIDTH = 110

/** Markdown to plain text: backticks go, links keep their text. */
function plain(markdown: string): string {
  return markdown.replaceAll('`', '').replace(/\[([^\]]+)\]\([^)]+\)/g, '$1')
}

function wrap(text: string): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(' ')) {
    if (line !== '' && INDENT + line.length + 1 + word.length > WIDTH) {
      lines.push(line)
      line = word
    } else line = line === '' ? word : `${line} ${word}`
  }
  if (line !== '') lines.push(line)
  return lines
}

function entry(head: string, text: string): string {
  const [first = '', ...rest] = wrap(text)
  const lines = head.length + 2 < INDENT ? [`  ${head.padEnd(INDENT - 2)}${first}`] : [`  ${head}`, `${' '.repeat(INDENT)}${first}`]
  return [...lines, ...rest.map((l) => `${' '.repeat(INDENT)}${l}`)].join('\n')
}

function describeSetting(setting: Setting<unknown>): string {
  const head = `--${setting.flag}${setting.value === undefined ? '' : ` ${setting.value}`}`
  const env = setting.switch === true ? `${setting.env}=1` : setting.list === true ? `${setting.env} (comma-separated)` : setting.env
  const repeat = setting.list === true ? ' Repeatable.' : ''
  const dflt = shownDefault(setting) === 'none' || shownDefault(setting) === 'off' ? '' : ` Default ${shownDefault(setting)}.`
  return entry(head, `${plain(setting.help)}.${repeat}${dflt} Env ${env}.`.replace('..', '.'))
}

/** What --help prints: every setting (settings.ts), then the commands. */
export const USAGE = [
  'usage: npm start -- [options]',
  '',
  ...KEYS.map((key) => describeSetting(SETTINGS[key])),
  entry(
    `--${CONFIG_FILE_SETTING.flag} ${CONFIG_FILE_SETTING.value}`,
    `${CONFIG_FILE_SETTING.help}: ${KEYS.join(', ')}. Env ${CONFIG_FILE_SETTING.env}.`,
  ),
  '',
  entry(
    '--check',
    "check a stopped node's data directory deeply (SQLite integrity, snapshot checksums, every chain and " +
      'signature) and exit: 0 intact, 1 not',
  ),
  entry('--help', 'print this and exit'),
  '',
  "Without --member or --open-membership only this node's entries are accepted and no peer can",
  'authenticate (none is a member).',
  'Flags override environment variables, which override the config file, which overrides the defaults',
  "(for --peer and --member the whole list: flags replace the variable, which replaces the file's array).",
].join('\n')

/** The options table of apps/node/README.md, as markdown: a test checks the README holds exactly this. */
export function optionsTable(): string {
  const code = (s: string): string => `\`${s}\``
  const rows = KEYS.map((key) => {
    const s: Setting<unknown> = SETTINGS[key]
    const head = `--${s.flag}${s.value === undefined ? '' : ` ${s.value}`}`
    const flag = `${code(head.replaceAll('|', '\\|'))}${s.list === true ? ' (repeatable)' : ''}`
    const env = s.switch === true ? code(`${s.env}=1`) : `${code(s.env)}${s.list === true ? ' (comma-separated)' : ''}`
    const fileKey = s.switch === true ? code(`${key}: true`) : `${code(key)}${s.list === true ? ' (array)' : ''}`
    const shown = shownDefault(s)
    return `| ${flag} | ${env} | ${fileKey} | ${shown === 'none' || shown === 'off' ? shown : code(shown)} | ${s.help} |`
  })
  const config =
    `| ${code(`--${CONFIG_FILE_SETTING.flag} ${CONFIG_FILE_SETTING.value}`)} | ${code(CONFIG_FILE_SETTING.env)} | ` +
    `| none | ${CONFIG_FILE_SETTING.help} |`
  return ['| flag | env | config key | default | meaning |', '| --- | --- | --- | --- | --- |', ...rows, config].join('\n')
}
