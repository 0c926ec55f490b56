import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { finished } from 'node:stream/promises'
import { hasRclone, rcloneAzuriteEnv, runRclone, startAzurite, type AzuriteInstance } from '@wharf/datastores/test-support'
import { Datastore, Workspace } from '@wharf/sdk'
import { compared, median, startServerProcess, tempDir, type Bench, type BenchResult, type ServerProcess } from './harness.js'

// The sizes issue 10 measured downloads at: 3,000 × 4 KiB and one 512 MiB file.
const SMALL_FILES = Number(process.env.WHARF_BENCH_SMALL_FILES ?? 3_000)
const SMALL_BYTES = 4096
const BIG_MIB = Number(process.env.WHARF_BENCH_BIG_MIB ?? 512)
const ROUNDS = Number(process.env.WHARF_BENCH_TRANSFER_ROUNDS ?? 3)

/** Seconds an async action takes. */
async function seconds(action: () => Promise<unknown>): Promise<number> {
  const started = performance.now()
  await action()
  return (performance.now() - started) / 1000
}

/** The two source trees every round moves: many small files, and one big file. */
async function makeSources(root: string): Promise<{ small: string; big: string }> {
  const small = path.join(root, 'small')
  for (let i = 0; i < SMALL_FILES; i += 100) {
    const dir = path.join(small, `d${String(i / 100).padStart(3, '0')}`)
    await mkdir(dir, { recursive: true })
    await Promise.all(
      Array.from({ length: Math.min(100, SMALL_FILES - i) }, (_, j) =>
        writeFile(path.join(dir, `f${String(i + j).padStart(5, '0')}.bin`), randomBytes(SMALL_BYTES)),
      ),
    )
  }
  const big = path.join(root, 'big')
  await mkdir(big, { recursive: true })
  const out = createWriteStream(path.join(big, 'big.bin'))
  const chunk = randomBytes(8 * 1024 * 1024)
  for (let written = 0; written < BIG_MIB * 1024 * 1024; written += chunk.length) {
    chunk.writeUInt32LE(written >>> 0, 0) // no two chunks alike
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()))
  }
  out.end()
  await finished(out)
  return { small, big }
}

/** Runs a command, rejecting with its stderr when it fails. */
function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    child.once('error', reject)
    child.once('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr}`)),
    )
  })
}

async function rclone(args: string[], env: Record<string, string>): Promise<string> {
  const result = await runRclone(args, env)
  if (result.code !== 0) throw new Error(`rclone ${args.join(' ')} exited ${result.code}: ${result.stderr}`)
  return result.stderr
}

function failIfIncomplete(what: string, result: { failed: readonly unknown[]; skipped: readonly string[] }): void {
  if (result.failed.length > 0 || result.skipped.length > 0)
    throw new Error(`${what}: ${result.failed.length} failed, ${result.skipped.length} skipped`)
}

interface Timings {
  smallUp: number[]
  smallDown: number[]
  bigUp: number[]
  bigDown: number[]
  /** The big file downloaded without checking its MD5 (ours only: rclone 1.60 checks none here). */
  bigDownUnverified: number[]
  /**
   * rclone only: the big file downloaded again in one stream (`--multi-thread-streams 0`). rclone 1.60
   * checks the MD5 only then: its default multi-thread download of a file this big checks none ("Src
   * hash empty - aborting Dst hash check", though the blob carries one).
   */
  bigDownChecked: number[]
}

const emptyTimings = (): Timings => ({
  smallUp: [],
  smallDown: [],
  bigUp: [],
  bigDown: [],
  bigDownUnverified: [],
  bigDownChecked: [],
})

/** Where a round works and what it moves. */
interface RoundSetup {
  work: string
  sources: { small: string; big: string }
  round: number
}

/** One round of Wharf through the SDK: a fresh Azurite, a datastore registered with its key (so the SDK goes straight to it with a SAS). */
async function wharfRound(server: ServerProcess, setup: RoundSetup, into: Timings): Promise<void> {
  const { work, sources, round } = setup
  const azurite = await startAzurite()
  try {
    const ws = Workspace.connect({ url: server.url, spoolDir: path.join(work, 'spool') })
    const ds = await Datastore.registerAzureBlobContainer({
      workspace: ws,
      datastoreName: 'bench',
      containerName: `bench${round}`,
      accountName: azurite.accountName,
      accountKey: azurite.accountKey,
      endpoint: azurite.endpoint,
      createIfNotExists: true,
      overwrite: true,
    })
    const down = path.join(work, 'wharf-down')
    into.smallUp.push(
      await seconds(async () =>
        failIfIncomplete('upload', await ds.upload({ srcDir: sources.small, targetPath: 'small', showProgress: false })),
      ),
    )
    into.smallDown.push(
      await seconds(async () =>
        failIfIncomplete('download', await ds.downloadFiles({ targetPath: down, prefix: 'small/', showProgress: false })),
      ),
    )
    into.bigUp.push(
      await seconds(async () =>
        failIfIncomplete('upload', await ds.upload({ srcDir: sources.big, targetPath: 'big', showProgress: false })),
      ),
    )
    // Both ways of downloading the big file, in alternating order so neither always goes first.
    const bigDown = async (verify: boolean): Promise<void> => {
      await rm(path.join(down, 'big'), { recursive: true, force: true })
      const timing = await seconds(async () =>
        failIfIncomplete('download', await ds.downloadFiles({ targetPath: down, prefix: 'big/', showProgress: false, verify })),
      )
      ;(verify ? into.bigDown : into.bigDownUnverified).push(timing)
    }
    for (const verify of round % 2 === 0 ? [true, false] : [false, true]) await bigDown(verify)
    await rm(down, { recursive: true, force: true })
  } finally {
    await azurite.stop()
  }
}

/** The same round with rclone (default flags) against its own fresh Azurite. */
async function rcloneRound(setup: RoundSetup & { flags: string[] }, into: Timings): Promise<void> {
  const { work, sources, round, flags } = setup
  const azurite: AzuriteInstance = await startAzurite()
  try {
    const env = rcloneAzuriteEnv(azurite)
    const remote = `az:rbench${round}`
    await rclone(['mkdir', remote], env)
    const down = path.join(work, 'rclone-down')
    into.smallUp.push(await seconds(() => rclone(['copy', ...flags, sources.small, `${remote}/small`], env)))
    into.smallDown.push(await seconds(() => rclone(['copy', ...flags, `${remote}/small`, path.join(down, 'small')], env)))
    into.bigUp.push(await seconds(() => rclone(['copy', ...flags, sources.big, `${remote}/big`], env)))
    into.bigDown.push(await seconds(() => rclone(['copy', ...flags, `${remote}/big`, path.join(down, 'big')], env)))
    let log = ''
    into.bigDownChecked.push(
      await seconds(async () => {
        log = await rclone(
          ['copy', '-vv', '--multi-thread-streams', '0', ...flags, `${remote}/big`, path.join(down, 'big-checked')],
          env,
        )
      }),
    )
    // rclone says "md5 = … OK" when it checked; the figure must not silently be an unchecked one.
    if (!/md5 = [0-9a-f]{32} OK/.test(log))
      throw new Error(`rclone did not report an MD5 check of the big file: ${log.slice(-2000)}`)
    await rm(down, { recursive: true, force: true })
  } finally {
    await azurite.stop()
  }
}

function results(
  names: { ours: string; peer: string },
  timings: { ours: Timings; peer: Timings },
  extra: Record<string, unknown> = {},
): BenchResult[] {
  const { ours, peer } = timings
  const name = names.ours
  const peerName = names.peer
  const filesPerSecond = (list: number[]) => SMALL_FILES / median(list)
  const mibPerSecond = (list: number[]) => BIG_MIB / median(list)
  return [
    compared({
      bench: `${name}.small.up`,
      unit: 'files/s',
      value: filesPerSecond(ours.smallUp),
      baseline: { name: `${peerName}.small.up`, value: filesPerSecond(peer.smallUp) },
      extra: { files: SMALL_FILES, target: '≥ 2', ...extra },
    }),
    compared({
      bench: `${name}.small.down`,
      unit: 'files/s',
      value: filesPerSecond(ours.smallDown),
      baseline: { name: `${peerName}.small.down`, value: filesPerSecond(peer.smallDown) },
      extra: { files: SMALL_FILES, target: '≥ 1, MD5 checked', ...extra },
    }),
    compared({
      bench: `${name}.big.up`,
      unit: 'MiB/s',
      value: mibPerSecond(ours.bigUp),
      baseline: { name: `${peerName}.big.up`, value: mibPerSecond(peer.bigUp) },
      extra: { mib: BIG_MIB, target: '≥ 1', ...extra },
    }),
    compared({
      bench: `${name}.big.down`,
      unit: 'MiB/s',
      value: mibPerSecond(ours.bigDown),
      baseline: { name: `${peerName}.big.down`, value: mibPerSecond(peer.bigDown) },
      extra: { mib: BIG_MIB, target: '≥ 1, MD5 checked', ...extra },
    }),
    ...(ours.bigDownUnverified.length === 0
      ? []
      : [
          compared({
            bench: `${name}.big.down.unverified`,
            unit: 'MiB/s',
            value: mibPerSecond(ours.bigDownUnverified),
            baseline: { name: `${peerName}.big.down`, value: mibPerSecond(peer.bigDown) },
            extra: {
              mib: BIG_MIB,
              ...extra,
              unverified:
                'verify: false, like for like: rclone 1.60 checks no MD5 on this download (its log: "Src hash empty - aborting Dst hash check")',
            },
          }),
        ]),
    ...(peer.bigDownChecked.length === 0
      ? []
      : [
          compared({
            bench: `${name}.big.down.both-checked`,
            unit: 'MiB/s',
            value: mibPerSecond(ours.bigDown),
            baseline: { name: `${peerName}.big.down.md5`, value: mibPerSecond(peer.bigDownChecked) },
            extra: {
              mib: BIG_MIB,
              ...extra,
              note: 'like for like: both check the MD5 (rclone in one stream, the only way 1.60 checks it)',
            },
          }),
        ]),
  ]
}

/** Wharf's SDK against rclone on Azurite: small files and one big file, both ways, each on a fresh emulator. */
export const azureTransferBench: Bench = {
  name: 'transfer.azure',
  description: `${SMALL_FILES} × 4 KiB files and one ${BIG_MIB} MiB file up and down, SDK (server-signed SAS) vs rclone ${'(default flags)'}, median of ${ROUNDS}, fresh Azurite each`,
  async run() {
    if (!hasRclone()) throw new Error('rclone is not installed (apt-get install -y rclone): it is the baseline of this benchmark')
    const tmp = await tempDir('transfer')
    const server = await startServerProcess({ dataDir: path.join(tmp.dir, 'server') })
    try {
      const sources = await makeSources(path.join(tmp.dir, 'src'))
      const ours = emptyTimings()
      const peer = emptyTimings()
      for (let r = 0; r < ROUNDS; r++) {
        // Alternate who goes first, so drift in the machine's load does not favour one side.
        const setup = { work: tmp.dir, sources, round: r }
        if (r % 2 === 0) {
          await wharfRound(server, setup, ours)
          await rcloneRound({ ...setup, flags: [] }, peer)
        } else {
          await rcloneRound({ ...setup, flags: [] }, peer)
          await wharfRound(server, setup, ours)
        }
      }
      const out = results({ ours: 'transfer.azure.sdk', peer: 'rclone' }, { ours, peer })
      if (process.env.WHARF_BENCH_RCLONE_TUNED === '1') {
        // For the record: rclone told to use as many connections as the SDK does.
        const tuned = emptyTimings()
        await rcloneRound({ work: tmp.dir, sources, round: ROUNDS, flags: ['--transfers', '32', '--checkers', '32'] }, tuned)
        out.push(
          ...results(
            { ours: 'transfer.azure.sdk', peer: 'rclone.transfers32' },
            { ours, peer: tuned },
            { note: 'rclone --transfers 32 --checkers 32, one round' },
          ),
        )
      }
      return out
    } finally {
      await server.stop()
      await tmp.remove()
    }
  },
}

/** Wharf's SDK into and out of a filesystem datastore on this machine, against `cp -r` of the same files. */
export const filesystemTransferBench: Bench = {
  name: 'transfer.filesystem',
  description: `${SMALL_FILES} × 4 KiB files and one ${BIG_MIB} MiB file into and out of a folder datastore vs cp -r, median of ${ROUNDS}`,
  async run() {
    const tmp = await tempDir('transfer-fs')
    // The datastore folders sit beside the data folder, so the server must be told it may use them.
    const server = await startServerProcess({ dataDir: path.join(tmp.dir, 'server'), env: { WHARF_FILESYSTEM_ROOTS: tmp.dir } })
    try {
      const sources = await makeSources(path.join(tmp.dir, 'src'))
      const ws = Workspace.connect({ url: server.url, spoolDir: path.join(tmp.dir, 'spool') })
      const ours = emptyTimings()
      const peer = emptyTimings()
      for (let r = 0; r < ROUNDS; r++) {
        const folder = path.join(tmp.dir, `ds${r}`)
        const ds = await Datastore.registerFilesystem({
          workspace: ws,
          datastoreName: 'benchfs',
          path: folder,
          createIfNotExists: true,
          overwrite: true,
        })
        const down = path.join(tmp.dir, 'down')
        ours.smallUp.push(
          await seconds(async () =>
            failIfIncomplete('upload', await ds.upload({ srcDir: sources.small, targetPath: 'small', showProgress: false })),
          ),
        )
        ours.smallDown.push(
          await seconds(async () =>
            failIfIncomplete('download', await ds.downloadFiles({ targetPath: down, prefix: 'small/', showProgress: false })),
          ),
        )
        ours.bigUp.push(
          await seconds(async () =>
            failIfIncomplete('upload', await ds.upload({ srcDir: sources.big, targetPath: 'big', showProgress: false })),
          ),
        )
        ours.bigDown.push(
          await seconds(async () =>
            failIfIncomplete('download', await ds.downloadFiles({ targetPath: down, prefix: 'big/', showProgress: false })),
          ),
        )
        await rm(down, { recursive: true, force: true })
        await rm(folder, { recursive: true, force: true })

        const copy = path.join(tmp.dir, `cp${r}`)
        await mkdir(copy, { recursive: true })
        peer.smallUp.push(await seconds(() => run('cp', ['-r', sources.small, path.join(copy, 'small')])))
        peer.smallDown.push(await seconds(() => run('cp', ['-r', path.join(copy, 'small'), path.join(copy, 'small-back')])))
        peer.bigUp.push(await seconds(() => run('cp', ['-r', sources.big, path.join(copy, 'big')])))
        peer.bigDown.push(await seconds(() => run('cp', ['-r', path.join(copy, 'big'), path.join(copy, 'big-back')])))
        await rm(copy, { recursive: true, force: true })
      }
      return results({ ours: 'transfer.filesystem.sdk', peer: 'cp' }, { ours, peer }, { target: '≥ 0.5' })
    } finally {
      await server.stop()
      await tmp.remove()
    }
  },
}
