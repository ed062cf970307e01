import { MemoryUpdateStore } from './memory-update-store.js'
import { describeNodeStore } from '../testing/index.js'

describeNodeStore('MemoryUpdateStore', () => {
  let store = new MemoryUpdateStore()
  return {
    create: async () => (store = new MemoryUpdateStore()),
    reopen: async () => (store = store.reopened()),
  }
})
