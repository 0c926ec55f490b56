import { createHash } from 'node:crypto'

/** The words of a list written as text, one space or line between them. */
function wordsOf(text: string): readonly [string, ...string[]] {
  const words = text.split(/\s+/).filter((word) => word !== '')
  if (words[0] === undefined) throw new Error('a word list is empty')
  return [words[0], ...words.slice(1)]
}

// Short, plain, friendly words: a name is read aloud in a stand-up and typed in a search box.
const ADJECTIVES = wordsOf(`
  amber bold brave bright brisk calm clever cosmic crisp curious dapper eager early fancy fast fierce
  gentle glad golden grand happy hardy honest humble jolly keen kind lively lucky mellow merry mighty
  misty modest nimble noble polite proud quick quiet rapid ready rosy rustic sharp shiny silent silver
  sleek smart snowy solid sunny swift tidy tough vivid warm wild wise witty young zesty zippy
`)

const NOUNS = wordsOf(`
  badger bat bear beaver bee bison boar camel cat cobra crab crane crow deer dingo dolphin dove duck
  eagle eel elk falcon ferret finch fox frog gecko goat goose hare hawk heron horse ibis koala lark
  lemur lion llama lynx mole moose moth newt orca otter owl panda parrot pony puffin quail raven robin
  seal shark sloth snail swan tiger toad trout wolf yak
`)

/**
 * A readable default name for a run, `adjective-noun-number` (`brave-otter-7`) as MLflow and W&B give
 * them. Derived from the run id, so a client that retries a create with its own id gets the same name.
 * Names are for people and may repeat; the id stays the key.
 */
export function readableRunName(runId: string): string {
  const hash = createHash('sha256').update(runId).digest()
  const adjective = ADJECTIVES[hash.readUInt16BE(0) % ADJECTIVES.length] ?? ADJECTIVES[0]
  const noun = NOUNS[hash.readUInt16BE(2) % NOUNS.length] ?? NOUNS[0]
  return `${adjective}-${noun}-${(hash.readUInt16BE(4) % 100) + 1}`
}
