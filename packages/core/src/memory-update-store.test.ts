import { MemoryUpdateStore } from './memory-update-store.js'
import { describeUpdateStore } from './testing.js'

describeUpdateStore('MemoryUpdateStore', () => {
  let store = new MemoryUpdateStore()
  return {
    create: async () => (store = new MemoryUpdateStore()),
    reopen: async () => (store = store.reopened()),
  }
})
