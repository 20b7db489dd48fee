/**
 * Node/V8 flags for the agent process, wherever it runs as a long-lived service (the systemd unit, the
 * demo's simulated receivers, the benchmark that measures its memory).
 *
 * - `--max-semi-space-size=1` caps V8's young generation at 1 MB per semi-space. By default it grows to
 *   16 MB during start-up's allocation burst and stays committed, which was most of an idle agent's heap.
 * - `--v8-pool-size=1`: one V8 background thread (concurrent marking and compilation) instead of four; each
 *   thread that allocates keeps its own malloc arena and stack pages.
 *
 * Measured on the bench fixture (2026-11-23, x64): 74–75 MiB idle RSS with 2 MB semi-spaces and the default
 * pool, 67–70 MiB with these two; timeline expansion (1,000 entries × 30 days) showed no difference beyond
 * run-to-run noise. `--optimize-for-size` would save ~4 MiB more but makes timeline expansion 1.3–1.8× slower.
 */
export const AGENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--v8-pool-size=1'];
