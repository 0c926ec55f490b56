/** Outcomes gathered in the order of the files, whatever order they finished in. */
export class Outcomes<K extends string> {
  readonly #lists = new Map<K, { index: number; key: string }[]>()

  add(list: K, entry: { index: number; key: string }): void {
    const entries = this.#lists.get(list) ?? []
    entries.push(entry)
    this.#lists.set(list, entries)
  }

  /** The keys in `list`, in file order. */
  keys(list: K): string[] {
    return [...(this.#lists.get(list) ?? [])].sort((a, b) => a.index - b.index).map((entry) => entry.key)
  }
}
