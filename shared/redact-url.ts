/** A URL without credentials (user:password), for logs and errors; '(invalid URL)' when it does not parse. */
export function redactUrl(url: string | URL): string {
  let u: URL;
  try {
    u = new URL(typeof url === 'string' ? url : url.href);
  } catch {
    return '(invalid URL)';
  }
  u.username = '';
  u.password = '';
  return u.href;
}
