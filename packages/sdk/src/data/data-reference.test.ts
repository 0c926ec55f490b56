import { describe, expect, it } from 'vitest'
import { WharfError } from '@wharf/contract'
import { thrownCodeOf } from '@wharf/contract/test-support'
import { Datastore } from './datastore.js'
import { DataReference, defaultDataReferenceName } from './data-reference.js'
import type { WorkspaceConnection } from '../config/connection.js'

// A Datastore handle does no I/O until a transfer: the data-reference methods need only its name.
const datastore = new Datastore(
  {} as WorkspaceConnection,
  {
    name: 'training_data',
    kind: 'filesystem',
    settings: {},
    authType: 'none',
    hasSecret: false,
    isDefault: false,
  } as unknown as ConstructorParameters<typeof Datastore>[1],
)

describe('DataReference names', () => {
  it('names the whole datastore after it, and a path after the datastore and the path, deterministically', () => {
    expect(datastore.asMount().dataReferenceName).toBe('training_data')
    expect(datastore.path('mnist/train-2024.v1/').dataReferenceName).toBe('training_data_mnist_train_2024_v1')
    expect(datastore.path('./a  b//c').dataReferenceName).toBe('training_data_a_b_c')
    expect(datastore.path('out/{runId}').dataReferenceName).toBe('training_data_out_runId')
    expect(defaultDataReferenceName('ds', '--x--')).toBe('ds_x')
  })

  it('takes a given name, and refuses one that cannot be part of an environment variable, saying what to pass', () => {
    expect(datastore.path('mnist', { dataReferenceName: 'MNIST' }).toString()).toBe('$WHARF_DATAREFERENCE_MNIST')
    expect(thrownCodeOf(() => datastore.path('mnist', { dataReferenceName: '1abc' }))).toBe('INVALID_ARGUMENT')
    expect(thrownCodeOf(() => datastore.path('mnist', { dataReferenceName: 'a-b' }))).toBe('INVALID_ARGUMENT')
    let error: unknown
    try {
      new DataReference({ datastore: '9lives' })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(WharfError)
    expect((error as WharfError).message).toMatch(/derived from the datastore and path, "9lives".*pass dataReferenceName/)
    expect(thrownCodeOf(() => datastore.path('x'.repeat(200)))).toBe('INVALID_ARGUMENT')
  })

  it('refuses a bad datastore name, mode or path', () => {
    expect(thrownCodeOf(() => new DataReference({ datastore: 'Has-Caps' }))).toBe('INVALID_ARGUMENT')
    expect(thrownCodeOf(() => new DataReference({ datastore: 'ds', mode: 'stream' as 'mount' }))).toBe('INVALID_ARGUMENT')
    expect(thrownCodeOf(() => datastore.path('a/../../etc'))).toBe('UNSAFE_PATH')
    expect(thrownCodeOf(() => datastore.asDownload({ pathOnCompute: '' }))).toBe('INVALID_ARGUMENT')
  })
})

describe('DataReference paths, modes and clones', () => {
  it('joins a path under an existing path, and gives the same reference back for a root', () => {
    const mnist = datastore.path('datasets/mnist')
    expect(mnist.path('train').pathOnDatastore).toBe('datasets/mnist/train')
    expect(mnist.path('train').dataReferenceName).toBe('training_data_datasets_mnist_train')
    expect(mnist.path('./')).toBe(mnist)
    expect(datastore.path('/').pathOnDatastore).toBeNull()
    expect(datastore.path('.').dataReferenceName).toBe('training_data')
  })

  it('mounts by default, and each as… returns a clone with the mode, leaving the original alone', () => {
    const ref = datastore.path('mnist')
    expect(ref.mode).toBe('mount')
    const down = ref.asDownload({ pathOnCompute: 'data', overwrite: true })
    expect(down).not.toBe(ref)
    expect([ref.mode, ref.pathOnCompute, ref.overwrite]).toEqual(['mount', null, false])
    expect([down.mode, down.pathOnCompute, down.overwrite, down.dataReferenceName]).toEqual([
      'download',
      'data',
      true,
      ref.dataReferenceName,
    ])
    const up = datastore.asUpload({ pathOnCompute: './model.bin', overwrite: true })
    expect([up.mode, up.pathOnCompute, up.overwrite]).toEqual(['upload', './model.bin', true])
    expect(down.asMount().mode).toBe('mount')
    expect(datastore.asDownload().overwrite).toBe(false)
  })

  it('stands for its environment variable as text and gives its stored configuration, {runId} kept literally', () => {
    const out = datastore
      .path('runs/{runId}/out', { dataReferenceName: 'OUT' })
      .asUpload({ pathOnCompute: 'outputs/model', overwrite: true })
    expect(String(out)).toBe('$WHARF_DATAREFERENCE_OUT')
    expect(out.toConfig()).toEqual({
      name: 'OUT',
      datastore: 'training_data',
      pathOnDatastore: 'runs/{runId}/out',
      mode: 'upload',
      pathOnCompute: 'outputs/model',
      overwrite: true,
    })
    expect(datastore.asMount().toConfig()).toMatchObject({
      pathOnDatastore: null,
      mode: 'mount',
      pathOnCompute: null,
      overwrite: false,
    })
  })
})
