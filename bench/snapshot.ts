import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { WharfClient } from '@wharf/client'
import { buildSnapshotManifest, createSnapshot } from '@wharf/runner'
import { compared, median, startServerProcess, tempDir, type Bench } from './harness.js'

const FILES = Number(process.env.WHARF_BENCH_SNAPSHOT_FILES ?? 1000)
const ROUNDS = Number(process.env.WHARF_BENCH_ROUNDS ?? 5)

/** What a resubmit of an unchanged source folder costs: walk, hash, one createSnapshot call, no upload. */
export const snapshotBench: Bench = {
  name: 'runner.snapshot.unchanged',
  description: `createSnapshot of an unchanged ${FILES}-file source folder (nothing uploaded), median of ${ROUNDS}, against building its manifest alone`,
  async run() {
    const tmp = await tempDir('snapshot')
    const server = await startServerProcess({ dataDir: path.join(tmp.dir, 'server') })
    try {
      const source = path.join(tmp.dir, 'source')
      for (let i = 0; i < FILES; i++) {
        const folder = path.join(source, `pkg-${i % 20}`)
        await mkdir(folder, { recursive: true })
        await writeFile(path.join(folder, `module_${i}.py`), `# module ${i}\n${'x = 1\n'.repeat(100 + (i % 50))}`)
      }
      const client = new WharfClient({ url: server.url })
      const first = await createSnapshot(client, source)
      if (first.uploadedFiles !== FILES) throw new Error(`the first snapshot sent ${first.uploadedFiles} files, not ${FILES}`)
      const unchanged: number[] = []
      const manifestOnly: number[] = []
      for (let r = 0; r < ROUNDS; r++) {
        let started = performance.now()
        const again = await createSnapshot(client, source)
        unchanged.push(performance.now() - started)
        if (again.uploadedFiles !== 0) throw new Error(`an unchanged resubmit sent ${again.uploadedFiles} files`)
        started = performance.now()
        await buildSnapshotManifest(source)
        manifestOnly.push(performance.now() - started)
      }
      return [
        compared({
          bench: 'runner.snapshot.unchanged',
          unit: 'ms',
          value: median(unchanged),
          baseline: { name: 'runner.snapshot.manifest-only', value: median(manifestOnly) },
          extra: { files: FILES },
        }),
      ]
    } finally {
      await server.stop()
      await tmp.remove()
    }
  },
}
