// Vitest global setup: every temporary file of a test run goes under one
// directory, removed when the run ends. Tests and the nodes they start as
// child processes make their data directories with mkdtemp(os.tmpdir()), and
// os.tmpdir() follows TMPDIR, so nothing is left behind in the system's /tmp,
// not even by a test that failed before its own cleanup.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'ylog-run-'))
  process.env.TMPDIR = root
  return () => rmSync(root, { recursive: true, force: true })
}
