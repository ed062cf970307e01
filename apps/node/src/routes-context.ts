import {
  assembleContext,
  DEFAULT_BUDGET,
  ENCODINGS,
  FORMATS,
  MAX_BUDGET,
  ORDERS,
  type ContextFormat,
  type ContextKind,
  type ContextOptions,
  type ContextOrder,
} from '@ylog/context'
import { isNodeId, MAX_FIELD_LENGTH, TOPIC_PATTERN, validateTopic, YlogError, type DurableLog } from '@ylog/core'
import type { FastifyInstance } from 'fastify'
import type { Guard } from './access.js'
import { errorResponses, MILLIS, type Auth } from './api-schemas.js'
import { quote } from './http-errors.js'
import { parseInteger } from './routes-events.js'

type ContextQuery = Record<
  'topic' | 'kind' | 'node' | 'subject' | 'since' | 'until' | 'budget' | 'encoding' | 'order' | 'format' | 'maxEntryTokens',
  string | undefined
>

const range = {
  type: 'object',
  required: ['from', 'to'],
  additionalProperties: false,
  properties: { from: { type: 'integer' }, to: { type: 'integer' } },
} as const
const ranges = { type: 'array', items: range } as const
const list = (what: string) => ({ type: 'array', items: { type: 'string' }, description: what }) as const

// Query values stay strings, parsed by hand (as in routes-events.ts), so each mistake gets a message naming its parameter;
// the document states every constraint (see forValidation in api-schemas.ts for which fastify checks itself).
const TOPIC_ITEM = TOPIC_PATTERN.source.slice(1, -1)
const oneOfText = (values: readonly string[]): string => `^(${values.join('|')})$`
const querystring = {
  type: 'object',
  additionalProperties: false,
  properties: {
    topic: {
      type: 'string',
      pattern: `^${TOPIC_ITEM}(,${TOPIC_ITEM})*$`,
      maxLength: 4096,
      description: 'only these topics, comma-separated',
      examples: ['pipeline'],
    },
    kind: {
      type: 'string',
      pattern: '^(transition|event)(,(transition|event))*$',
      description: 'only these kinds, comma-separated: transition, event (gap entries are always named, as what is missing)',
    },
    node: { type: 'string', pattern: '^[0-9a-f]{64}(,[0-9a-f]{64})*$', description: 'only entries of these nodes, comma-separated ids' },
    subject: {
      type: 'string',
      minLength: 1,
      maxLength: MAX_FIELD_LENGTH,
      description: "only the transitions of this subject: one work item's history",
      examples: ['story-7'],
    },
    since: { ...MILLIS, description: "only entries appended at or after this time (ms since the epoch, the entry's at)" },
    until: { ...MILLIS, description: 'only entries appended before this time (ms, exclusive)' },
    // Any budget in range is taken, but one too small for the lines about what is missing answers 400: the examples always fit.
    budget: {
      type: 'integer',
      minimum: 1,
      maximum: MAX_BUDGET,
      description: `tokens the text may take; default ${DEFAULT_BUDGET}`,
      examples: [2000, DEFAULT_BUDGET],
    },
    encoding: { type: 'string', pattern: oneOfText(ENCODINGS), description: `the tokenizer: ${ENCODINGS.join(', ')}; default o200k_base` },
    order: {
      type: 'string',
      pattern: oneOfText(ORDERS),
      description: `${ORDERS.join(' or ')}: oldest first across nodes (default), or grouped by node in seq order`,
    },
    format: { type: 'string', pattern: oneOfText(FORMATS), description: `${FORMATS.join(', ')} (default text)` },
    maxEntryTokens: {
      type: 'integer',
      minimum: 128,
      maximum: MAX_BUDGET,
      description: 'an entry line longer than this is shortened with a visible marker; default 1000',
    },
  },
} as const

const manifest = {
  type: 'object',
  additionalProperties: false,
  required: ['tokenizer', 'budget', 'tokens', 'format', 'order', 'selection', 'counts', 'nodes', 'entries'],
  properties: {
    tokenizer: { type: 'string', description: 'the encoding that counted the tokens' },
    budget: { type: 'integer' },
    tokens: { type: 'integer' },
    format: { type: 'string', enum: FORMATS },
    order: { type: 'string', enum: ORDERS },
    selection: {
      type: 'object',
      additionalProperties: false,
      properties: {
        topics: list('topics'),
        kinds: list('kinds'),
        nodes: list('node ids'),
        subject: { type: 'string' },
        since: { type: 'integer' },
        until: { type: 'integer' },
      },
    },
    counts: {
      type: 'object',
      additionalProperties: false,
      required: ['included', 'omitted', 'dropped', 'missing', 'forked'],
      properties: {
        included: { type: 'integer', description: 'entries in the text' },
        omitted: {
          type: ['integer', 'null'],
          description: 'entries left out for the budget; null when not counted (filters, and more than the summary scan)',
        },
        dropped: { type: 'integer', description: 'gap entries named' },
        missing: { type: 'integer', description: 'seqs known to exist that have not reached this node' },
        forked: { type: 'integer', description: 'nodes that signed two entries for one seq' },
      },
    },
    nodes: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['node', 'included', 'omitted', 'dropped', 'missing'],
        properties: {
          node: { type: 'string' },
          included: { ...ranges, description: 'seqs in the text' },
          omitted: { ...ranges, description: 'seqs left out for the budget: GET /api/events?after=… reads them' },
          dropped: {
            type: 'array',
            description: 'gap entries: events dropped before they reached the log',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['id', 'seq', 'hash', 'at', 'stream', 'from', 'to'],
              properties: {
                id: { type: 'string' },
                seq: { type: 'integer' },
                hash: { type: 'string' },
                at: { type: 'integer' },
                stream: { type: 'string' },
                from: { type: 'integer' },
                to: { type: 'integer' },
              },
            },
          },
          missing: { ...ranges, description: 'seqs not yet here (holes)' },
          forkedFrom: { type: 'integer', description: 'the first seq this node signed twice: its history from there cannot be trusted' },
        },
      },
    },
    entries: {
      type: 'array',
      description: 'the entries in the text, in order: ids and hashes to verify against the log',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'hash'],
        properties: { id: { type: 'string' }, hash: { type: 'string' } },
      },
    },
  },
} as const

const response = {
  200: {
    description: 'the context: JSON by default, the text alone with Accept: text/plain',
    content: {
      'application/json': {
        schema: {
          type: 'object',
          additionalProperties: false,
          required: ['text', 'tokens', 'manifest'],
          properties: { text: { type: 'string' }, tokens: { type: 'integer' }, manifest },
        },
      },
      'text/plain': { schema: { type: 'string' } },
    },
  },
} as const

function csv(text: string | undefined): string[] | undefined {
  return text === undefined ? undefined : text.split(',').map((s) => s.trim())
}

function oneOf<T extends string>(name: string, text: string | undefined, allowed: readonly T[]): T | undefined {
  if (text === undefined) return undefined
  if (!(allowed as readonly string[]).includes(text))
    throw new YlogError('BAD_ARGUMENT', `${name} ${quote(text)} is not one of ${allowed.join(', ')}`)
  return text as T
}

/** The query string as assembly options; each mistake is a 400 naming its parameter. */
export function contextOptions(q: ContextQuery): ContextOptions {
  const topics = csv(q.topic)
  for (const topic of topics ?? []) validateTopic(topic)
  const kinds = csv(q.kind)?.map((kind) => oneOf<ContextKind>('kind', kind, ['transition', 'event']) as ContextKind)
  const nodes = csv(q.node)
  for (const node of nodes ?? [])
    if (!isNodeId(node)) throw new YlogError('BAD_ARGUMENT', `node ${quote(node)} is not a node id: use 64 lowercase hex digits`)
  if (q.subject === '') throw new YlogError('BAD_ARGUMENT', 'subject is empty: name a transition subject, e.g. story-7')
  if (q.subject !== undefined && q.subject.length > MAX_FIELD_LENGTH) {
    throw new YlogError('BAD_ARGUMENT', `subject is ${q.subject.length} characters; a transition subject has at most ${MAX_FIELD_LENGTH}`)
  }
  const time = (name: string, text: string | undefined) =>
    text === undefined ? undefined : parseInteger(name, text, 0, Number.MAX_SAFE_INTEGER, 'a time in ms since the epoch')
  const encoding = q.encoding
  if (encoding !== undefined && !ENCODINGS.includes(encoding))
    throw new YlogError('BAD_ARGUMENT', `encoding ${quote(encoding)} is unknown; known: ${ENCODINGS.join(', ')}`)
  const options: ContextOptions = {
    budget:
      q.budget === undefined
        ? DEFAULT_BUDGET
        : parseInteger('budget', q.budget, 1, MAX_BUDGET, `a token count 1-${MAX_BUDGET} (default ${DEFAULT_BUDGET})`),
    ...(topics !== undefined && { topics }),
    ...(kinds !== undefined && { kinds }),
    ...(nodes !== undefined && { nodes }),
    ...(q.subject !== undefined && { subject: q.subject }),
    ...(encoding !== undefined && { encoding }),
  }
  const since = time('since', q.since)
  const until = time('until', q.until)
  if (since !== undefined) options.since = since
  if (until !== undefined) options.until = until
  const order = oneOf<ContextOrder>('order', q.order, ORDERS)
  const format = oneOf<ContextFormat>('format', q.format, FORMATS)
  if (order !== undefined) options.order = order
  if (format !== undefined) options.format = format
  if (q.maxEntryTokens !== undefined)
    options.maxEntryTokens = parseInteger('maxEntryTokens', q.maxEntryTokens, 128, MAX_BUDGET, 'a token count, at least 128')
  return options
}

/** GET /api/context: the committed log as context for a language model, every missing range named. */
export function contextRoutes(
  app: FastifyInstance,
  { durable, requireRead, auth }: { durable: DurableLog; requireRead: Guard; auth: Auth },
): void {
  app.get<{ Querystring: ContextQuery }>(
    '/api/context',
    {
      schema: {
        operationId: 'assembleContext',
        summary: 'The newest selected entries within a token budget, with every dropped, missing, forked and left-out range named',
        querystring,
        security: auth.security,
        // BAD_ARGUMENT: a malformed parameter, or a budget that cannot hold the lines about what is missing.
        response: { ...response, ...errorResponses(['BAD_ARGUMENT', 'BAD_TOPIC', ...auth.codes]) },
      },
      onRequest: requireRead,
    },
    async (request, reply) => {
      const context = await assembleContext(durable, contextOptions(request.query))
      if (reply.request.headers.accept?.startsWith('text/plain') === true) return reply.type('text/plain; charset=utf-8').send(context.text)
      return context
    },
  )
}
