import { ApiError } from '../../scripts/lib/api-client.js';

/** The HTTP status and error code of an API call (200 / 'ok' when it succeeds); anything but an ApiError is rethrown. */
export async function outcome(p: Promise<unknown>): Promise<{ status: number; code: string }> {
  try {
    await p;
    return { status: 200, code: 'ok' };
  } catch (e) {
    if (e instanceof ApiError) return { status: e.status, code: e.code };
    throw e;
  }
}
