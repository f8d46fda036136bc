// The `hub` command (npm start): the only place that reads the environment, listens and
// handles signals. SIGINT/SIGTERM close sockets, drain, stop the queue and the embedded
// database, bounded by HUB_SHUTDOWN_TIMEOUT_MS (default 10 s); a second signal exits at once.
import closeWithGrace from 'close-with-grace'
import pino from 'pino'
import { ConfigError, loadConfig, type Config } from './config.ts'
import { startHub } from './start-hub.ts'

let config: Config
try {
  config = loadConfig(process.env)
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  process.stderr.write(`hub: ${err.message}\n`)
  process.exit(1)
}

const logger = pino({ level: config.logLevel, name: 'hub' })
try {
  const hub = await startHub(config, logger)
  process.stdout.write(`hub ready at ${hub.url}\n`)
  process.stdout.write(`panel: ${(config.publicUrl ?? hub.url).replace(/\/+$/, '')}/ (HUB_PUBLIC_URL)\n`)
  closeWithGrace({ delay: config.shutdownTimeoutMs, logger }, async ({ signal, err }) => {
    if (err !== undefined) logger.error({ err }, 'fatal error, shutting down')
    else logger.info({ signal }, 'shutting down')
    await hub.close()
    logger.info('hub stopped')
  })
} catch (err) {
  logger.fatal({ err }, 'hub failed to start')
  process.exitCode = 1
}
