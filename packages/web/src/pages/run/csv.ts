/**
 * Parses CSV text (RFC 4180: fields in double quotes may hold commas, line breaks and doubled quotes;
 * CRLF or LF line ends) into at most `maxRows` rows. When `isCut` (the text is the first part of a
 * larger file) the last row, which may be incomplete, is left out. A stray quote inside an unquoted
 * field is kept as a character, as spreadsheets do.
 */
export function parseCsv(text: string, options: { maxRows: number; isCut: boolean }): { rows: string[][]; complete: boolean } {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let inQuotes = false
  let i = 0
  const endRow = () => {
    row.push(field)
    rows.push(row)
    row = []
    field = ''
  }
  while (i < text.length && rows.length <= options.maxRows) {
    const ch = text[i]
    if (inQuotes) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"'
          i += 2
          continue
        }
        inQuotes = false
      } else {
        field += ch
      }
      i++
      continue
    }
    if (ch === '"' && field === '') inQuotes = true
    else if (ch === ',') {
      row.push(field)
      field = ''
    } else if (ch === '\n' || ch === '\r') {
      endRow()
      if (ch === '\r' && text[i + 1] === '\n') i++
    } else field += ch
    i++
  }
  const atEnd = i >= text.length
  // The text's last row, when it has no line end after it.
  if (atEnd && (field !== '' || row.length > 0)) {
    if (options.isCut) {
      row = []
      field = ''
    } else endRow()
  }
  const complete = atEnd && !options.isCut && rows.length <= options.maxRows
  return { rows: rows.slice(0, options.maxRows), complete }
}
