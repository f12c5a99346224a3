/**
 * `npm start`: validates the configuration, starts the gateway, and wires
 * SIGHUP (reload parties and agreements) and SIGTERM/SIGINT (graceful stop).
 */
import { ConfigError, loadConfig } from './shared/config.js';
import { createLogger } from './shared/logger.js';
import { RedisUnavailableError } from './shared/redis.js';
import { startGateway } from './server.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\nFix the variables above and start again.\n`);
      process.exit(1);
    }
    throw e;
  }
  const log = createLogger({ level: config.LOG_LEVEL });
  let gateway;
  try {
    gateway = await startGateway(config, log);
  } catch (e) {
    if (e instanceof RedisUnavailableError) {
      process.stderr.write(`\n${e.message}\n`);
      process.exit(1);
    }
    log.fatal({ err: e }, 'start-up failed');
    process.stderr.write(`\nPostkasse could not start: ${(e as Error).message}\n`);
    process.exit(1);
  }
  if (gateway.tls.devPki) {
    log.info(
      { ca: gateway.tls.devPki.caCert, clients: Object.keys(gateway.tls.devPki.clients) },
      `development PKI in ${gateway.tls.devPki.dir}: try \`npm run cli -- send --demo\``,
    );
  }
  process.on('SIGHUP', () => {
    const r = gateway.reload();
    log.info(r, 'reloaded configuration files (a bad file leaves the old one in force)');
  });
  const stop = (signal: string) => {
    log.info({ signal }, 'stop requested');
    gateway.close().then(
      () => process.exit(0),
      (e) => {
        log.error({ err: e }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

void main();
