import { YlogClient } from '@ylog/client'
import { Output } from './output.js'

/** The options every command takes (set on the program, read with optsWithGlobals). */
export type GlobalOptions = {
  url: string
  token?: string
  json?: boolean
}

export interface Context {
  out: Output
  client: YlogClient
}

export function contextOf(options: GlobalOptions): Context {
  return { out: new Output({ json: options.json === true }), client: new YlogClient({ url: options.url, token: options.token }) }
}
