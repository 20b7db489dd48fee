import type { Command } from 'commander';
import type { SimCliOptions } from '../../agent/sim/run.js';

/** Registers `loa sim`, the device simulator. Its modules load only when it runs (`loa agent run` never pays for them). */
export function registerSim(program: Command): void {
  program.command('sim')
    .description('Simulate many receivers against a controller: register them with their own keys, connect each over MQTT like a real agent, verify emergency orders with the agent\'s own checks, and send the acks (received, started, finished, rejected)')
    .requiredOption('--controller <url>', 'controller URL, e.g. http://127.0.0.1:8080')
    .requiredOption('--devices <n>', 'how many devices (1 to 100,000)')
    .requiredOption('--zone <id>', 'the cluster (or commune) the devices are registered in')
    .requiredOption('--username <name>', 'an admin or technician of that zone (registers the devices)')
    .option('--password-file <file>', 'read the password from this file (otherwise from $LOA_SIM_PASSWORD)')
    .option('--workers <n>', 'worker processes (default: the number of CPUs)')
    .option('--prefix <p>', 'device ids are <prefix>-<zone>-00001…', 'sim')
    .option('--play-ms <ms>', 'how long an accepted order "plays" before its finished ack (default: its audio duration × repeat)')
    .option('--mqtt <url>', 'broker URL (default mqtt://<controller host>:1883)')
    .option('--state <file>', 'keep the device keys here (mode 0600) and reuse the devices a previous run registered')
    .option('--connect-concurrency <n>', 'connection attempts in flight across the fleet', '200')
    .option('--telemetry-every <s>', 'everyday traffic: each device sends a telemetry sample this often (seconds)')
    .option('--plays-every <s>', 'everyday traffic: each device reports a completed play (play.start + play.end) this often (seconds)')
    .option('--fetch-manifests', 'everyday traffic: on a notify naming a newer manifest, each device fetches it over HTTP with its device token')
    .addHelpText('after', `
Each simulated device holds its own Ed25519 key and speaks the real protocol: a fresh device token per MQTT
connection (user name = client id = device id, persistent session, online status and offline will), QoS 1
subscriptions to its own notify/cmd/emergency topics, and acks as events on its own up/events topic (QoS 1,
seq per device, key deviceId:seq). Every emergency order goes through the agent's verifier (signature by the
emergency key of the controller's root, lifetime, target zone, replay). Nothing is played: "started" is sent at
once, "finished" after the audio's length (or --play-ms). A refused order gets a "rejected" ack with its code.

Progress lines go to stderr (about once a second); stdout gets {"ready":true,…} once the devices are
registered and the workers started, and {"stopped":true,…,"orders":[…]} on exit.
With --telemetry-every / --plays-every / --fetch-manifests the devices also send what a receiver sends
every day, compressed in time (a soak run); the summary counts it (telemetry, plays, fetches). Ctrl-C (or SIGTERM)
disconnects every device and ends the workers. The password is never printed.

Errors: LOA_ERR_SIM_INPUT (an option; or the ids exist already: use another --prefix or the --state file of
the run that made them), LOA_ERR_SYNC_HTTP (the controller refused a call: the reason follows),
LOA_ERR_SIM_FD_LIMIT (too few open files for this many connections per worker), LOA_ERR_SIM_WORKER.

Example:
  $ export LOA_SIM_PASSWORD=…            # the technician's password
  $ loa sim --controller http://127.0.0.1:8080 --devices 10000 --zone X001-C1 --username kythuat --play-ms 5000
  controller http://127.0.0.1:8080: root v1, zone X001-C1 (T01 › X001 › X001-C1)
  keys 1,000/10,000
  …
  registered 10,000/10,000 devices in X001-C1
  10,000 devices on 2 worker process(es) (pids 4242, 4243), connecting to mqtt://127.0.0.1:1883
  connected 7,500/10,000 · 2/2 worker(s)
  connected 10,000/10,000 · 2/2 worker(s)
  all 10,000 devices connected in 6.1 s; waiting for orders
  order emg-3f2a…: received 10,000 · started 10,000 · finished 0
  order emg-3f2a…: received 10,000 · started 10,000 · finished 10,000
  ^C
  stopping: disconnecting 10,000 device(s)
  stopped: 2 worker(s) ended`)
    .action(async (o: SimCliOptions) => {
      // Loaded only when used: the simulator pulls in the MQTT client, the fleet and the worker plumbing.
      const { simCommand } = await import('../../agent/sim/run.js');
      await simCommand(o);
    });
}
