// The child process of the `sdk.log.cost` bench: the context run (`getContextRun`, `getLogger`) is
// one per process, so each round measures it in a fresh one. Prints one JSON line: per form, the
// median over chunks of the ns per call of a chunk.
//   node --import tsx --conditions=@wharf/source bench/log-cost-child.ts <known|early> <calls>
// (`<form>`: wall clock; `<form>Cpu`: this process's CPU time.)
// Needs WHARF_TRACKING_URI (and WHARF_HOME, WHARF_EXPERIMENT) in its environment.
import { getContextRun, getLogger } from '@wharf/sdk'

const mode = process.argv[2]
const calls = Number(process.argv[3])
const NAMES = ['loss', 'accuracy', 'lr', 'grad_norm'] as const
/**
 * Calls timed in one go: below the logger's default of 100,000 points in memory, past which batches
 * go to the spool file (the context run's logger keeps the default), and many enough that sealing a
 * batch of 1,000 is amortised in every chunk.
 */
const CHUNK = 20_000

type Form = (from: number, to: number) => void

function nameOf(i: number): string {
  return NAMES[i & 3] as string
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

let sink: { name: string; value: number; time: number }[] = []
/** The baseline: the same point pushed into an array. */
const push: Form = (from, to) => {
  for (let i = from; i < to; i++) sink.push({ name: nameOf(i), value: i * 0.001, time: Date.now() })
}

/**
 * Times the forms chunk by chunk, taking turns (the machine is shared: load that comes and goes
 * hits every form alike), with `between` (untimed) after each round of turns. Returns the median
 * ns per call of each form's chunks.
 */
async function measure(forms: Record<string, Form>, between: () => Promise<void>): Promise<Record<string, number>> {
  const entries = Object.entries(forms)
  const wall: Record<string, number[]> = Object.fromEntries(entries.map(([name]) => [name, []]))
  const cpu: Record<string, number[]> = Object.fromEntries(entries.map(([name]) => [name, []]))
  let turn = 0
  for (let from = 0; from < calls; from += CHUNK) {
    const to = Math.min(from + CHUNK, calls)
    for (let k = 0; k < entries.length; k++) {
      const [name, form] = entries[(k + turn) % entries.length] as [string, Form]
      const cpuStarted = process.cpuUsage()
      const started = performance.now()
      form(from, to)
      wall[name]?.push(((performance.now() - started) * 1e6) / (to - from))
      const used = process.cpuUsage(cpuStarted)
      cpu[name]?.push(((used.user + used.system) * 1e3) / (to - from))
    }
    turn++
    if (sink.length !== to - from) throw new Error('unreachable')
    sink = []
    await between()
  }
  // CPU time as well as wall time: on a loaded machine the wall clock mostly measures the wait for a core.
  return Object.fromEntries(
    entries.flatMap(([name]) => [
      [name, median(wall[name] ?? [])],
      [`${name}Cpu`, median(cpu[name] ?? [])],
    ]),
  )
}

if (mode === 'early') {
  // Before the run is known: nothing is awaited, so every call is kept to be replayed once the run has started.
  const log = getLogger()
  void getContextRun()
  const early: Form = (from, to) => {
    for (let i = from; i < to; i++) log.log(nameOf(i), i * 0.001)
  }
  const figures = await measure({ push, early }, () => Promise.resolve())
  await log.log('loss', 0).wait()
  process.stdout.write(`${JSON.stringify(figures)}\n`)
} else if (mode === 'known') {
  const run = await getContextRun()
  const log = getLogger()
  await log.log('warm-up', 0).wait()
  const runLog: Form = (from, to) => {
    for (let i = from; i < to; i++) run.log(nameOf(i), i * 0.001)
  }
  const getLoggerLog: Form = (from, to) => {
    for (let i = from; i < to; i++) log.log(nameOf(i), i * 0.001)
  }
  const figures = await measure({ push, runLog, getLogger: getLoggerLog }, () => run.flush())
  process.stdout.write(`${JSON.stringify(figures)}\n`)
} else {
  throw new Error(`usage: log-cost-child.ts <known|early> <calls>, not ${String(mode)}`)
}
