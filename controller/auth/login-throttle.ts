/**
 * Per-account login throttling (issue 10). The per-address rate limit on POST /api/v1/auth/login stops one
 * client; an attacker who spreads guesses over many addresses is stopped here: after `freeAttempts` failures in a
 * row for one user name, each further attempt must wait (5 s, then doubling with each failure, up to 15 min). The user name is
 * throttled whether or not it exists (no account enumeration). A success resets it. Kept in memory, bounded
 * (oldest entries dropped past `maxEntries`): a restart forgets, which costs an attacker a controller restart
 * they cannot cause.
 */
import { LoaError } from '../../shared/errors.js';

export interface LoginThrottleOptions {
  now: () => number;
  freeAttempts: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  maxEntries?: number;
}

interface Entry { failures: number; lockedUntil: number }

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly o: LoginThrottleOptions) {}

  private key(username: string): string {
    return username.trim().toLowerCase();
  }

  /** Throws LOA_ERR_LOGIN_THROTTLED (with retryAfterS) while the user name must wait. */
  check(username: string): void {
    const e = this.entries.get(this.key(username));
    const wait = e ? e.lockedUntil - this.o.now() : 0;
    if (wait > 0) {
      const retryAfterS = Math.ceil(wait / 1000);
      throw new LoaError('LOA_ERR_LOGIN_THROTTLED', `too many failed sign-ins for this user name; try again in ${retryAfterS} s`, { details: { retryAfterS } });
    }
  }

  /** Records a failure; returns true when this failure starts (or lengthens) a wait. */
  fail(username: string): boolean {
    const k = this.key(username);
    const e = this.entries.get(k) ?? { failures: 0, lockedUntil: 0 };
    e.failures++;
    this.entries.delete(k);
    this.entries.set(k, e); // most recent last, so the oldest is first to go
    if (this.entries.size > (this.o.maxEntries ?? 10_000)) this.entries.delete(this.entries.keys().next().value!);
    const over = e.failures - this.o.freeAttempts;
    if (over < 0) return false;
    const delay = Math.min(this.o.maxDelayMs ?? 15 * 60_000, (this.o.baseDelayMs ?? 5000) * 2 ** Math.min(over, 30));
    e.lockedUntil = this.o.now() + delay;
    return true;
  }

  succeed(username: string): void {
    this.entries.delete(this.key(username));
  }
}
