// `npm ci` installs exactly what package-lock.json lists, and warns about two
// things this project decided on: a package whose `engines` excludes a Node
// version the project supports, and an install script that `allowScripts`
// neither allows nor denies. Both are checked here on the lock file itself.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import semver from 'semver'
import { expect, it } from 'vitest'
import { ROOT } from './support/node-process.js'

interface LockedPackage {
  version?: string
  engines?: { node?: string }
  hasInstallScript?: boolean
}

const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  engines: { node: string }
  allowScripts?: Record<string, boolean>
}
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockedPackage> }
const installed = Object.entries(lock.packages).filter(([path]) => path.startsWith('node_modules/'))
const nameOf = (path: string): string => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)

it('installs nothing that refuses the oldest Node the project supports, or the one running', () => {
  const oldest = semver.minVersion(manifest.engines.node)?.version ?? ''
  const refusing = installed
    .filter(([, p]) => p.engines?.node !== undefined)
    .flatMap(([path, p]) =>
      [oldest, process.version]
        .filter((v) => !semver.satisfies(v, p.engines?.node ?? '*'))
        .map((v) => `${nameOf(path)}@${p.version} wants node ${p.engines?.node}, not ${v}`),
    )
  expect(refusing).toEqual([])
})

it('decides on every install script: allowScripts allows or denies each', () => {
  const undecided = installed
    .filter(([path, p]) => p.hasInstallScript === true && typeof manifest.allowScripts?.[nameOf(path)] !== 'boolean')
    .map(([path]) => nameOf(path))
  expect(undecided).toEqual([])
})
