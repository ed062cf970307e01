import type { ComponentChildren } from 'preact'
import { useEffect, useRef, useState } from 'preact/hooks'

export const ROW_HEIGHT = 30
const OVERSCAN = 8

interface Props<T> {
  items: readonly T[]
  /** Changes whenever the items do (they may be mutated in place). */
  version: number
  keyOf: (item: T) => string
  row: (item: T, index: number, selected: boolean) => ComponentChildren
  selected: number
  onSelect: (index: number) => void
  onOpen: (index: number) => void
  label: string
  /** Rows added at the top since the last render: the view keeps its place when the reader has scrolled down. */
  addedOnTop: number
}

/**
 * Renders only the rows in view (fixed height), so thousands of rows cost a
 * few dozen DOM nodes. A listbox: arrows, Page Up/Down, Home/End move the
 * selection, Enter opens it.
 */
export function VirtualList<T>({ items, version, keyOf, row, selected, onSelect, onOpen, label, addedOnTop }: Props<T>) {
  const ref = useRef<HTMLDivElement>(null)
  const [scrollTop, setScrollTop] = useState(0)
  const [height, setHeight] = useState(600)

  useEffect(() => {
    const el = ref.current
    if (el === null) return
    const observer = new ResizeObserver(() => setHeight(el.clientHeight))
    observer.observe(el)
    return () => observer.disconnect()
  }, [])

  useEffect(() => {
    const el = ref.current
    if (el !== null && addedOnTop > 0 && el.scrollTop > 0) el.scrollTop += addedOnTop * ROW_HEIGHT
  }, [version])

  const move = (index: number): void => {
    const to = Math.max(0, Math.min(items.length - 1, index))
    onSelect(to)
    const el = ref.current
    if (el === null) return
    const top = to * ROW_HEIGHT
    if (top < el.scrollTop) el.scrollTop = top
    else if (top + ROW_HEIGHT > el.scrollTop + el.clientHeight) el.scrollTop = top + ROW_HEIGHT - el.clientHeight
  }
  const page = Math.max(1, Math.floor(height / ROW_HEIGHT) - 1)
  const onKeyDown = (e: KeyboardEvent): void => {
    const keys: Record<string, () => void> = {
      ArrowDown: () => move(selected + 1),
      j: () => move(selected + 1),
      ArrowUp: () => move(selected - 1),
      k: () => move(selected - 1),
      PageDown: () => move(selected + page),
      PageUp: () => move(selected - page),
      Home: () => move(0),
      End: () => move(items.length - 1),
      Enter: () => selected >= 0 && onOpen(selected),
    }
    const action = keys[e.key]
    if (action === undefined) return
    e.preventDefault()
    action()
  }

  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN)
  const last = Math.min(items.length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN)
  const shown = []
  for (let i = first; i < last; i++) {
    const item = items[i] as T
    shown.push(
      // The listbox pattern: the list holds the focus and the keys (aria-activedescendant names the row); a row only takes clicks.
      // biome-ignore lint/a11y/useKeyWithClickEvents: the listbox above handles the keyboard for its rows
      // biome-ignore lint/a11y/useFocusableInteractive: rows are options of a focused listbox, not focus targets
      <div
        key={keyOf(item)}
        id={`row-${i}`}
        role="option"
        aria-selected={i === selected}
        class={i === selected ? 'row selected' : 'row'}
        style={{ transform: `translateY(${i * ROW_HEIGHT}px)` }}
        onClick={() => {
          onSelect(i)
          onOpen(i)
        }}
      >
        {row(item, i, i === selected)}
      </div>,
    )
  }
  return (
    <div
      ref={ref}
      class="rows"
      role="listbox"
      tabIndex={0}
      aria-label={label}
      aria-activedescendant={selected >= 0 && selected < items.length ? `row-${selected}` : undefined}
      onScroll={(e) => setScrollTop((e.currentTarget as HTMLDivElement).scrollTop)}
      onKeyDown={onKeyDown}
    >
      <div class="spacer" style={{ height: `${items.length * ROW_HEIGHT}px` }}>
        {shown}
      </div>
    </div>
  )
}
