import { describe, expect, it } from 'vitest'
import { buildArgv, interpreterOf, substituteReferences } from './argv.js'

const base = {
  workingFolder: '/runs/r1/wd',
  nodePath: '/usr/bin/node',
  tsxLoader: 'file:///nm/tsx/dist/loader.mjs',
  referencePaths: {},
}

describe('interpreterOf', () => {
  it('picks the interpreter by extension', () => {
    const options = { ...base, python: null }
    expect(interpreterOf('train.py', options)).toEqual(['python3', 'train.py'])
    expect(interpreterOf('train.py', { ...options, python: '/venv/bin/python' })).toEqual(['/venv/bin/python', 'train.py'])
    expect(interpreterOf('src/main.ts', options)).toEqual([
      '/usr/bin/node',
      '--import',
      'file:///nm/tsx/dist/loader.mjs',
      'src/main.ts',
    ])
    expect(interpreterOf('main.MTS', options)).toEqual([
      '/usr/bin/node',
      '--import',
      'file:///nm/tsx/dist/loader.mjs',
      'main.MTS',
    ])
    for (const script of ['a.js', 'a.mjs', 'a.cjs']) expect(interpreterOf(script, options)).toEqual(['/usr/bin/node', script])
    expect(interpreterOf('tools/run.sh', options)).toEqual(['/runs/r1/wd/tools/run.sh'])
    expect(interpreterOf('train', options)).toEqual(['/runs/r1/wd/train'])
  })
})

describe('buildArgv', () => {
  it('runs an entry script with its arguments after the interpreter', () => {
    const argv = buildArgv({ ...base, definition: { script: 'train.py', command: ['train.py', '--lr', '0.1'], python: null } })
    expect(argv).toEqual(['python3', 'train.py', '--lr', '0.1'])
  })

  it('runs a command as it is, references replaced', () => {
    const argv = buildArgv({
      ...base,
      referencePaths: { raw: '/data/raw' },
      definition: { script: null, command: ['ls', '-la', '$WHARF_DATAREFERENCE_raw'], python: null },
    })
    expect(argv).toEqual(['ls', '-la', '/data/raw'])
  })

  it('replaces tokens in the script arguments, whole or inside an argument', () => {
    const argv = buildArgv({
      ...base,
      referencePaths: { raw: '/d/raw', out: '/d/out' },
      definition: {
        script: 'train.ts',
        command: ['train.ts', '--data', '$AZUREML_DATAREFERENCE_raw', '--out=$WHARF_DATAREFERENCE_out/model.bin'],
        python: null,
      },
    })
    expect(argv.slice(-3)).toEqual(['--data', '/d/raw', '--out=/d/out/model.bin'])
  })
})

describe('substituteReferences', () => {
  const paths = { raw: '/a/raw', raw_v2: '/a/raw2', x: '/x' }
  it('prefers the longest known name and keeps what follows it', () => {
    expect(substituteReferences('$AZUREML_DATAREFERENCE_raw_v2', paths)).toBe('/a/raw2')
    expect(substituteReferences('$AZUREML_DATAREFERENCE_raw_v3', paths)).toBe('/a/raw_v3')
    expect(substituteReferences('${WHARF_DATAREFERENCE_x}y', paths)).toBe('/xy')
    expect(substituteReferences('a=$WHARF_DATAREFERENCE_x,b=$AZUREML_DATAREFERENCE_raw', paths)).toBe('a=/x,b=/a/raw')
  })
  it('leaves unknown names and other dollars alone', () => {
    expect(substituteReferences('$AZUREML_DATAREFERENCE_nope', paths)).toBe('$AZUREML_DATAREFERENCE_nope')
    expect(substituteReferences('${WHARF_DATAREFERENCE_raw_v3}', paths)).toBe('${WHARF_DATAREFERENCE_raw_v3}')
    expect(substituteReferences('$HOME/x', paths)).toBe('$HOME/x')
  })
})
