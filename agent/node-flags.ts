/**
 * Node/V8 flags for the agent process, wherever it runs as a long-lived service (the systemd unit, the
 * demo's simulated receivers, the benchmark that measures its memory).
 *
 * `--max-semi-space-size=2` caps V8's young generation at 2 MB per semi-space. By default it grows to
 * 16 MB during start-up's allocation burst and stays committed, which is most of an idle agent's heap.
 * Measured on the bench fixture: about 9 MB less RSS, no measurable change in timeline expansion time
 * (1 MB saves little more and costs more scavenges).
 */
export const AGENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];
