import { Agent, AGENT_RESTART_EXIT_CODE } from '../../agent/agent.js';
import { loadProfile } from '../../agent/config/profile.js';
import { runningRelease } from '../../agent/update/version.js';
import { Watchdog } from '../../agent/watchdog.js';
import { isLoaError, messageVi } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';

/**
 * `loa agent run` without the rest of the CLI (issue 10, restart-to-playing): bin/loa.js comes here straight
 * for the plain form `loa agent run --data-dir D --profile P`, so a receiver that restarts after a power cut
 * loads only the agent's modules before it plays (no commander, no controller, simulator or release code).
 * Anything else (help, other options) goes through the full CLI, which calls the same runAgent.
 */
export function agentRunArgs(args: readonly string[]): { dataDir: string; profile: string } | null {
  const o: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.indexOf('=');
    const [k, v] = eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, args[++i]];
    if ((k !== '--data-dir' && k !== '--profile') || v === undefined || v.startsWith('-') || k in o) return null;
    o[k] = v;
  }
  return o['--data-dir'] && o['--profile'] ? { dataDir: o['--data-dir'], profile: o['--profile'] } : null;
}

/** runAgent with the CLI's error reporting (bin/loa.js's fast path). */
export function runAgentMain(a: { dataDir: string; profile: string }): void {
  runAgent(a.dataDir, a.profile).catch((e: unknown) => {
    if (isLoaError(e)) console.error(`loa: ${e.code}: ${e.message}\n     (${messageVi(e.code)})`);
    else console.error(`loa: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}

/** Runs an agent until SIGTERM/SIGINT; outputs are forced off on the way out, even after a crash. */
export async function runAgent(dataDir: string, profilePath: string): Promise<void> {
  const log = createLogger('agent');
  const profile = loadProfile(profilePath);
  // `reboot` commands restart the agent service, not the machine: a clean stop, then an exit status systemd restarts.
  const agent = new Agent({ dataDir, profile, log, agentVersion: runningRelease().version, onRestart: (commandId) => {
    log.warn({ commandId, exitCode: AGENT_RESTART_EXIT_CODE }, `restarting the agent service (${commandId.startsWith('update:') ? 'self-update' : 'reboot command'})`);
    void stop(AGENT_RESTART_EXIT_CODE);
  } });
  // Under systemd (Type=notify, WatchdogSec): READY=1 once started, WATCHDOG=1 while the scheduler loop ticks.
  const watchdog = new Watchdog({ heartbeat: () => agent.schedulerTicks, log: log.child({ m: 'watchdog' }) });
  let stopping = false;
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await watchdog.stop();
    await agent.stop().catch((e: unknown) => log.error({ err: e }, 'stop failed'));
    process.exit(code);
  };
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
  process.on('uncaughtException', (e) => {
    log.fatal({ err: e }, 'uncaught exception: switching outputs off and exiting');
    void stop(1);
  });
  await agent.start();
  await watchdog.start();
  // Manifests imported while we run (loa agent import) are picked up on SIGHUP and every 10 s.
  const reload = (): void => void agent.reloadManifest().catch((e: unknown) => log.error({ err: e }, 'reload failed'));
  process.on('SIGHUP', reload);
  setInterval(reload, 10_000).unref();
  process.stdout.write(JSON.stringify({ ready: true, pid: process.pid, version: runningRelease().version, ...agent.status() }) + '\n');
}

