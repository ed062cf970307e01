import type { ContextAnswer } from '@ylog/client'
import { useState } from 'preact/hooks'
import { client, describe } from './api.js'
import { ranges } from './nodes.js'
import { Short } from './time.js'

const ENCODINGS = ['o200k_base', 'o200k_harmony', 'cl100k_base', 'p50k_base', 'p50k_edit', 'r50k_base', 'gpt2']

interface Form {
  topic: string
  subject: string
  budget: string
  encoding: string
  format: 'text' | 'markdown' | 'jsonl'
}

/** GET /api/context: the assembled text and its manifest, what is missing marked. */
export function ContextPage() {
  const [form, setForm] = useState<Form>({ topic: '', subject: '', budget: '2000', encoding: 'o200k_base', format: 'text' })
  const [answer, setAnswer] = useState<ContextAnswer | string | undefined>(undefined)
  const [busy, setBusy] = useState(false)
  const field = (name: keyof Form) => (e: Event) => setForm({ ...form, [name]: (e.currentTarget as HTMLInputElement).value })
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault()
    setBusy(true)
    try {
      const topic = form.topic.trim()
      const subject = form.subject.trim()
      setAnswer(
        await client().context({
          ...(topic !== '' && { topics: topic.split(',').map((t) => t.trim()) }),
          ...(subject !== '' && { subject }),
          budget: Number(form.budget),
          encoding: form.encoding,
          format: form.format,
        }),
      )
    } catch (err) {
      setAnswer(describe(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <section aria-labelledby="context-title">
      <h1 id="context-title">Context</h1>
      <form class="filters" onSubmit={(e) => void submit(e)}>
        <label>
          topic <input name="topic" value={form.topic} onInput={field('topic')} placeholder="any (comma-separated)" />
        </label>
        <label>
          subject <input name="subject" value={form.subject} onInput={field('subject')} placeholder="any" />
        </label>
        <label>
          budget <input name="budget" type="number" min="1" value={form.budget} onInput={field('budget')} />
        </label>
        <label>
          encoding
          <select name="encoding" value={form.encoding} onChange={field('encoding')}>
            {ENCODINGS.map((e) => (
              <option key={e} value={e}>
                {e}
              </option>
            ))}
          </select>
        </label>
        <label>
          format
          <select name="format" value={form.format} onChange={field('format')}>
            <option value="text">text</option>
            <option value="markdown">markdown</option>
            <option value="jsonl">jsonl</option>
          </select>
        </label>
        <button type="submit" disabled={busy}>
          Assemble
        </button>
      </form>
      {typeof answer === 'string' && (
        <p class="error" role="alert">
          {answer}
        </p>
      )}
      {typeof answer === 'object' && <Answer answer={answer} />}
    </section>
  )
}

function Answer({ answer }: { answer: ContextAnswer }) {
  const m = answer.manifest
  return (
    <>
      <p role="status">
        {answer.tokens} of {m.budget} tokens ({m.tokenizer}): {m.counts.included} entries included, {m.counts.omitted ?? 'unknown'} left out
        for the budget, <span class={m.counts.dropped > 0 ? 'hl' : ''}>{m.counts.dropped} dropped at the source</span>,{' '}
        <span class={m.counts.missing > 0 ? 'hl' : ''}>{m.counts.missing} missing here</span>, {m.counts.forked} forked.
      </p>
      <div class="scroll">
        <table class="manifest">
          <caption>Manifest per node</caption>
          <thead>
            <tr>
              <th scope="col">node</th>
              <th scope="col">included</th>
              <th scope="col">left out</th>
              <th scope="col">dropped (gap entries)</th>
              <th scope="col">missing (holes)</th>
            </tr>
          </thead>
          <tbody>
            {m.nodes.map((n) => (
              <tr key={n.node}>
                <th scope="row">
                  <Short hex={n.node} />
                </th>
                <td>{ranges(n.included) || '–'}</td>
                <td>{ranges(n.omitted) || '–'}</td>
                <td>{n.dropped.length === 0 ? '–' : <mark>{dropped(n.dropped)}</mark>}</td>
                <td>{n.missing.length === 0 ? '–' : <mark>{ranges(n.missing)}</mark>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>Text</h2>
      <pre class="context-text">{answer.text}</pre>
    </>
  )
}

function dropped(ranges: ReadonlyArray<{ stream: string; from: number; to: number }>): string {
  return ranges.map((d) => `${d.stream} ${d.from}–${d.to}`).join(', ')
}
