import { useEffect } from 'react'
import { useSession } from '../api/session.js'

/** Sets the tab's title to `<what> · <workspace> · Wharf`, so tabs, history and bookmarks say what they hold. */
export function usePageTitle(what: string | undefined): void {
  const { workspace } = useSession()
  useEffect(() => {
    document.title = [what, workspace, 'Wharf'].filter((part) => part !== undefined && part !== '').join(' · ')
  }, [what, workspace])
}
