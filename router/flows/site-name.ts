// The site a router belongs to, from its router entity's `metadata`: kskup's
// site controllers (like Skupper's) write a JSON object there, with the site's
// `name` (site-controller/site/desired-router-config.ts). A router with no
// such metadata has no site name; flow records and metrics then show router ids.

/** The `name` in JSON metadata, or undefined (no metadata, not JSON, no string name). */
export function siteNameOf(metadata: string | undefined): string | undefined {
  if (metadata === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(metadata);
    const name = typeof value === 'object' && value !== null ? (value as { name?: unknown }).name : undefined;
    return typeof name === 'string' && name !== '' ? name : undefined;
  } catch {
    return undefined;
  }
}
