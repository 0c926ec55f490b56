import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { ERROR_CODES } from './errors.js'

describe("the Python SDK's error table", () => {
  it('has every code of this table with its HTTP status, so no code of ours reaches Python as INTERNAL', async () => {
    const source = await readFile(new URL('../../../python/src/wharf_sdk/errors.py', import.meta.url), 'utf8')
    const table = /ERROR_STATUS: dict\[str, int\] = \{([^}]*)\}/.exec(source)?.[1]
    expect(table, 'ERROR_STATUS not found in python/src/wharf_sdk/errors.py').toBeDefined()
    const python = Object.fromEntries(
      [...(table ?? '').matchAll(/"([A-Z_]+)": (\d+)/g)].map(([, code, status]) => [code, Number(status)]),
    )
    const ours = Object.fromEntries(Object.entries(ERROR_CODES).map(([code, { status }]) => [code, status]))
    expect(python).toEqual(ours)
  })
})
