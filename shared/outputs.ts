/**
 * The relay driver interface (DESIGN §4 outputs). One implementation per board family under agent/outputs/.
 * Channels are 0-based. Every method rejects with a LoaError (LOA_ERR_SERIAL_*, LOA_ERR_RELAY_*, LOA_ERR_GPIO*).
 */
export interface RelayDriver {
  readonly kind: string;
  readonly channels: number;
  /** Whether readState() returns the board's real state. */
  readonly supportsReadBack: boolean;
  /** Opens the transport. Rejects with a coded error that names the port when it is missing. */
  start(signal?: AbortSignal): Promise<void>;
  /** Sets one channel. */
  set(channel: number, on: boolean): Promise<void>;
  /** Sets every channel at once (fail-safe uses setAll(false)). */
  setAll(on: boolean): Promise<void>;
  /** The board's state per channel, or null when the board cannot report it. */
  readState(): Promise<boolean[] | null>;
  /** Closes the transport. Never rejects. */
  stop(): Promise<void>;
  /** Called when the transport closes or errors unexpectedly (the port disappeared). */
  onFault?: (err: Error) => void;
}
