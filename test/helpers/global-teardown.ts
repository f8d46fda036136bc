// tap's "after" script (.taprc): runs once, in its own process, after every test file.
// Drops the template and, when global-setup started one, stops the embedded cluster and removes
// its folder. Test files drop their own databases (database.ts).
import { dropDatabase, findClusterState, removeClusterState, stopEmbeddedCluster, withClient } from './cluster.ts'

const state = await findClusterState()
if (state !== undefined) {
  if (state.embeddedDir === undefined) {
    // A server we do not own (DATABASE_URL) keeps running: leave nothing of ours on it.
    await withClient(state.adminUrl, async admin => { await dropDatabase(admin, state.template) })
  } else {
    await stopEmbeddedCluster(state.embeddedDir)
  }
  await removeClusterState()
}
