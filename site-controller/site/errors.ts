// A site operation that cannot be done, for a reason the user can act on: the
// message is one line that names the site, token, link or file concerned.
// Commands print it as it is (exit 1).
export class SiteError extends Error {
  override readonly name: string = 'SiteError';
}
