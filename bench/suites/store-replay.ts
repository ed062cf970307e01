// Child of store.ts: time DurableLog.open on a stored log (what `readyz` waits for).
import { DurableLog } from '@ylog/core'
import { ThreadedSqliteStore } from '@ylog/sqlite'

const [path, node, verify] = process.argv.slice(2) as [string, string, 'tail' | 'full']
const t = performance.now()
const durable = await DurableLog.open({ store: await ThreadedSqliteStore.open(path), verify })
const seconds = (performance.now() - t) / 1000
console.log(JSON.stringify({ seconds, length: durable.committedLength(node) }))
await durable.close()
