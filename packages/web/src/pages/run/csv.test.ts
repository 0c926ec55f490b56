import { describe, expect, it } from 'vitest'
import { parseCsv } from './csv.js'

describe('parseCsv', () => {
  it('reads quoted fields with commas, doubled quotes and line breaks, and CRLF line ends', () => {
    const text = 'a,b\r\n"x, y","say ""hi""\r\nnow"\r\n,last\r\n'
    expect(parseCsv(text, { maxRows: 10, isCut: false })).toEqual({
      rows: [
        ['a', 'b'],
        ['x, y', 'say "hi"\r\nnow'],
        ['', 'last'],
      ],
      complete: true,
    })
  })

  it('keeps a last row without a line end, unless the text is the head of a larger file', () => {
    expect(parseCsv('a,b\n1,2', { maxRows: 10, isCut: false }).rows).toEqual([
      ['a', 'b'],
      ['1', '2'],
    ])
    expect(parseCsv('a,b\n1,"2 and mo', { maxRows: 10, isCut: true })).toEqual({ rows: [['a', 'b']], complete: false })
  })

  it('stops at maxRows and says the table is not complete', () => {
    const text = Array.from({ length: 20 }, (_, i) => `${i},x`).join('\n')
    const parsed = parseCsv(text, { maxRows: 5, isCut: false })
    expect(parsed.rows).toHaveLength(5)
    expect(parsed.rows[4]).toEqual(['4', 'x'])
    expect(parsed.complete).toBe(false)
  })

  it('keeps a quote inside an unquoted field as a character', () => {
    expect(parseCsv('5" disk,ok\n', { maxRows: 10, isCut: false }).rows).toEqual([['5" disk', 'ok']])
  })
})
