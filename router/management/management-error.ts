// The error of a management request (router unreachable, refused, timed out,
// an error status), in a module of its own so that whoever only needs to
// recognise it (the CLI's exit codes) does not load rhea.

/** Its message names the router and says what failed, so it can be printed as is. */
export class ManagementError extends Error {
  override readonly name: string = 'ManagementError';
}
